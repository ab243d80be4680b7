"""``ashnet finetune``: fine-tune on a VL task (ITM, VQA, VE, NLVR2, grounding, count) or several."""

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
  ashnet finetune --tasks vqa,ve,count,nlvr2 --data scenes.json --out runs/generalist   # one model, 4 heads
  ashnet finetune --tasks vqa,ve,count,nlvr2 --config mome --data scenes.json --out runs/mome

The model (backbones, spiking encoder, image size) comes from the --init run (of `ashnet train` or
`ashnet finetune`); the task config (default: the packaged task_<TASK>) sets fusion in the backbone
(model.fiber), the schedule (train), the batch size and the head (task). Both backbones must be
frozen: their features are computed once. The run directory gets config.yaml (with the answer
vocabulary), checkpoint.pt and metrics.jsonl; score it with `ashnet eval --task TASK`.

--tasks trains one model with a head per task on all their training examples at once (a
generalist; one task: a specialist), from --init when given, else from the packaged backbones. Its
config (default: the packaged `generalist`; `mome` adds the mixture of vision experts and sparse
language experts) holds the whole model; val scores every task and their mean.
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
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--task", choices=TASKS, help="the task")
    which.add_argument(
        "--tasks", type=_task_list, help="several tasks, comma-separated: one multi-task model"
    )
    parser.add_argument("--init", help="run directory or checkpoint to start from (not needed with --resume)")
    parser.add_argument("--data", required=True, help="task file (scenes.json or easy_vqa.json)")
    parser.add_argument("--out", required=True, type=Path, help="run directory to write")
    parser.add_argument("--config", help="task config, packaged name or YAML (default: task_TASK)")
    add_overrides(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    add_cache_dir(parser)
    parser.set_defaults(run=run)


def _task_list(text: str) -> list[str]:
    tasks = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if not tasks or unknown:
        raise argparse.ArgumentTypeError(f"--tasks takes tasks of {', '.join(TASKS)}, got {text!r}")
    return tasks


def run_tasks(args) -> int:
    from ..config import load_config
    from ..training.multitask import finetune_tasks

    if args.resume:
        config = load_config(args.config or args.out / "config.yaml", args.set)
        if list(config.multitask.tasks) != args.tasks:
            raise ValueError(
                f"--tasks {args.tasks}, but the run in {args.out} trains {config.multitask.tasks}"
            )
    else:
        config = load_config(
            args.config or "generalist", [*args.set, f"multitask.tasks=[{', '.join(args.tasks)}]"]
        )
    result = finetune_tasks(config, args.data, args.out, args.init, args.resume, args.cache_dir)
    for task, value in result.get("eval", {}).items():
        print(f"val {task}: {value:.1f}%")
    print(f"trained {result['step']} steps in {result['train_s']:.1f} s; run saved in {args.out}")
    return 0


def run(args) -> int:
    from ..config import load_config
    from ..run import RunDir
    from ..training.finetune import finetune

    if args.tasks is not None:
        return run_tasks(args)
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
