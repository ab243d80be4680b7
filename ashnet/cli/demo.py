"""``ashnet demo``: ASH-Net and its controls on OpenMoji over seeds, or on every vision-language task."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_overrides

EPILOG = """\
examples:
  ashnet demo                              # one seed of each model, writes runs/demo/
  ashnet demo --seeds 5                    # mean ± sd over 5 seeds, paired bootstrap intervals
  ashnet demo --seeds 5 --cross twemoji=data/twemoji/pairs.csv   # also on another art style
  ashnet demo --quick                      # tiny models and a few steps, to check the install
  ashnet demo --resume                     # continue a demo that was stopped or killed
  ashnet demo --tasks --quick              # every task on small scenes with tiny models, minutes
  ashnet demo --tasks --seeds 3            # the task suite: ASH-Net vs ANN-only, dual vs fused
  ashnet demo --tasks --seeds 3 --task-set train.max_steps=60 --task-set data.batch_size=32
                                           # shorter fine-tuning runs (--set: the pre-training)

Steps: build OpenMoji at the config's image size (cached); for each seed train ASH-Net (after STUA
pre-training when stua.steps > 0), the ANN-only baseline, the parameter-matched ANN twin and a
second baseline (the ensemble's other half), all with the same schedule; evaluate on the test
split (and each --cross set), then print the tables and write OUT/report.md, OUT/curves.png and
OUT/comparison.png. `ashnet compare OUT/seed*/*` re-reads the runs.
Every run checkpoints at the end of each epoch and every 10 minutes (train.checkpoint_every_epochs,
train.checkpoint_minutes), so `--resume` after a crash or kill redoes at most one epoch.

--tasks: build the scenes (and easy-VQA), pre-train ASH-Net and the ANN-only baseline on the
scenes' captions, fine-tune every task (itm, vqa, ve, nlvr2, grounding, count; vqa on easy-VQA)
from each with the dual encoder and with fusion in the backbone, plus a question-only baseline,
and print test (val) scores with chance, then ASH-Net - ANN-only and fused - dual on test with
paired bootstrap intervals; OUT/results.jsonl keeps every run (with per-example test scores), so
rerunning resumes.
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train ASH-Net and the ANN baseline on OpenMoji and compare",
        description="End-to-end demo on the built-in OpenMoji data: ASH-Net against its ANN-only baseline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)"
    )
    parser.add_argument(
        "--data", type=Path, help="OpenMoji folder (built there if it has no pairs.csv; default OUT/data)"
    )
    parser.add_argument(
        "--config", default="demo", help="ASH-Net config, packaged name or YAML (default demo)"
    )
    add_overrides(parser)
    parser.add_argument(
        "--seeds", type=int, default=1, help="seeds per model (default 1; use >= 5 to compare)"
    )
    parser.add_argument(
        "--cross",
        action="append",
        default=[],
        metavar="NAME=PAIRS",
        help="also compare on the test split of this pairs file (repeatable), e.g. Twemoji",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny config and 300 emojis: a smoke test in about a minute"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the demo in OUT: keep finished runs, resume the interrupted one from its checkpoint",
    )
    parser.add_argument("--tasks", action="store_true", help="the vision-language task suite instead")
    parser.add_argument(
        "--task-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --tasks: override a key of every fine-tuning run's task_<task> config (repeatable)",
    )
    parser.set_defaults(run=run)


def run_tasks(args) -> int:
    from ..task_suite import QUICK_PRETRAIN, QUICK_TASKS, run_task_suite

    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    if args.quick:
        options = {"config": "tiny", "n_scenes": 200, "emoji_limit": 600, "easy_vqa": False}
        options.update(pretrain_overrides=(*QUICK_PRETRAIN, *args.set))
        options.update(task_overrides=(*QUICK_TASKS, *args.task_set))
    else:
        options = {
            "config": args.config,
            "pretrain_overrides": tuple(args.set),
            "task_overrides": tuple(args.task_set),
        }
    result = run_task_suite(args.out, seeds=tuple(range(args.seeds)), **options)
    print(result["table"])
    print("\nDifferences on test (points, paired bootstrap 95 % interval over test images, seeds):")
    print(result["differences"])
    print(f"\ntask suite took {result['total_s']:.0f} s; report: {args.out / 'report.md'}")
    return 0


def run(args) -> int:
    from ..demo import run_demo
    from .compare import eval_sets

    if args.tasks:
        return run_tasks(args)
    if args.task_set:
        raise ValueError("--task-set needs --tasks (use --set for the demo's config)")

    config, limit = ("tiny", 300) if args.quick else (args.config, None)
    cross = eval_sets(args.cross) if args.cross else None
    result = run_demo(
        args.out, args.data, config, args.set, limit=limit, seeds=args.seeds, cross=cross, resume=args.resume
    )
    print(result["table"])
    print(f"\ndemo took {result['total_s']:.0f} s; report: {args.out / 'report.md'}")
    return 0
