"""``ashnet finetune``: fine-tune a run on a vision-language task (ITM, VQA, VE, NLVR2, grounding, count)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.tasks import TASKS
from .arguments import add_cache_dir, add_overrides

EPILOG = """\
examples:
  ashnet data build scenes --out data/scenes
  ashnet train --config demo --data data/scenes/scenes.json --out runs/scenes       # retrieval
  ashnet finetune --task vqa --init runs/scenes --data data/scenes/scenes.json --out runs/vqa
  ashnet finetune --task vqa --init runs/scenes --data data/scenes/scenes.json --out runs/vqa-dual \\
      --set model.fiber.enabled=false                  # the dual encoder instead of fusion
  ashnet finetune --task vqa --init runs/scenes --data data/easy-vqa/easy_vqa.json --out runs/evqa
  ashnet finetune --task itm --init runs/scenes --data scenes.json --out runs/coarse \\
      --set task.freeze_encoder=false                  # FIBER's coarse stage: ITC + ITM
  ashnet finetune --task grounding --init runs/coarse --data scenes.json --out runs/fine  # fine stage
  ashnet finetune --task count --init runs/scenes --data scenes.json --out runs/blind --set task.blind=true

The model (backbones, spiking encoder, image size) comes from the --init run (of `ashnet train` or
`ashnet finetune`); the task config (default: the packaged task_<TASK>) sets fusion in the backbone
(model.fiber), the schedule (train), the batch size and the head (task). Both backbones must be
frozen: their features are computed once. The run directory gets config.yaml (with the answer
vocabulary), checkpoint.pt and metrics.jsonl; score it with `ashnet eval --task TASK`.
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a trained run on ITM, VQA, VE, NLVR2, grounding or counting",
        description="Fine-tune the ASH-Net of a trained run on one vision-language task of a task file "
        "(scenes.json, easy_vqa.json): its train split trains, its val split is scored.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", required=True, choices=TASKS, help="the task")
    parser.add_argument("--init", help="run directory or checkpoint to start from (not needed with --resume)")
    parser.add_argument("--data", required=True, help="task file (scenes.json or easy_vqa.json)")
    parser.add_argument("--out", required=True, type=Path, help="run directory to write")
    parser.add_argument("--config", help="task config, packaged name or YAML (default: task_TASK)")
    add_overrides(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    add_cache_dir(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..config import load_config
    from ..run import RunDir
    from ..training.finetune import finetune

    if args.resume:
        config = load_config(args.config or RunDir(args.out).config, args.set)
        if config.task.name != args.task:
            raise ValueError(f"--task {args.task}, but the run in {args.out} fine-tunes {config.task.name}")
    else:
        if args.init is None:
            raise ValueError("--init is required (a run of `ashnet train` or `ashnet finetune`)")
        config = load_config(args.config or f"task_{args.task}", [*args.set, f"task.name={args.task}"])
    result = finetune(config, args.data, args.init, args.out, resume=args.resume, cache_dir=args.cache_dir)
    if "eval" in result:
        ev = result["eval"]
        print(f"val {args.task}: {ev['value']:.1f}% (chance {ev['chance']:.1f}%)")
    print(f"trained {result['step']} steps in {result['train_s']:.1f} s; run saved in {args.out}")
    return 0
