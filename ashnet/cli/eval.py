"""``ashnet eval``: retrieval, firing rate and zero-shot accuracy of a run (per language), or a task score."""

from __future__ import annotations

import argparse
import json

from ..data.tasks import TASKS
from .arguments import add_checkpoint, add_keys, add_lang, add_split, chosen_keys, languages

EPILOG = """\
examples:
  ashnet eval --checkpoint runs/ashnet --data data/openmoji/pairs.csv
  ashnet eval --checkpoint runs/ashnet/checkpoint.pt --data pairs.csv --split val --json
  ashnet eval --checkpoint runs/ashnet --data pairs.csv --zero-shot
  ashnet eval --checkpoint runs/coco --data karpathy.json --zero-shot --template "a photo of {}"
  ashnet eval --checkpoint runs/e5 --data data/openmoji/pairs.csv --lang sw --zero-shot
  ashnet eval --checkpoint runs/e5 --data data/openmoji/pairs.csv --lang en,ja,sw,ur --zero-shot
  ashnet eval --checkpoint runs/e5 --data data/openmoji/pairs.csv --lang all --json
  ashnet eval --checkpoint runs/e5 --data data/scenes/scenes.json --lang all --scene-tasks
  ashnet eval --task vqa --checkpoint runs/metavl --data easy-vqa --shots 4
  ashnet eval --task vqa --checkpoint runs/metavl --data data/scenes/scenes.json --shots 0 1 4 8 --limit 100
  ashnet eval --task language --checkpoint runs/metavl --shots 4
  ashnet eval --task vqa --checkpoint runs/vqa --data data/scenes/scenes.json --split test --json
  ashnet eval --task grounding --checkpoint runs/fine --data scenes.json --split val

--json prints one object: {"i2t": {"r1", "r5", "r10"}, "t2i": {...}, "n_images", "n_texts",
"firing_rate"}; recalls and the firing rate (mean over spiking layers, spikes per neuron per step)
are in percent; firing_rate is null for a model without the spiking branch. Image-to-text counts a
hit when any caption of the image is in the top k; text-to-image when the caption's own image is.
--zero-shot adds "zero_shot" (accuracy of classifying each image among the prompts
TEMPLATE.format(class)) and "zero_shot_classes" (what the classes are). For emoji data (OpenMoji,
Twemoji: image files named by code points) the classes are the emoji concepts, shared by skin-tone,
gender and family variants ("concept"); for other data each image's first caption is its class
("caption": prompted image-to-text retrieval rather than classification into shared classes).

--lang ranks the captions of other languages (the caption_<lang> columns; "en" is the main
caption column; "all" is every language of the file) and prints one table, a row per language;
each language's row covers the images with a caption in it. Its zero-shot prompts are in the
language ("an emoji of {}", "{}の絵文字", "emoji ya {}", "ایموجی: {}"; the bare name for the
others) unless --template is given; for emoji data its classes are the same concepts as in
English, named in the language (CLDR), else each image's first caption in the language. With
--json: {"languages": {LANG: {... as above ...}}}.
A multilingual model needs model.text.backbone: multilingual-e5-small.

--scene-tasks (with a scenes.json from `ashnet data build scenes`) answers the multiple-choice
scene tasks by image-text similarity, per language: recognise (which of four emoji), colour
(eight colours), count (1-6), relation (the asked relation or its opposite), itm (the caption or
its hard negative), unrelated (which of four claims names the odd one out) and rationale (which
of four rationales is true). It prints accuracy in percent per language and task, and chance.

--task vqa evaluates an `ashnet lm attach` run: free-text answers (greedy), exact match after
normalisation (lower case, no punctuation or articles, number words as digits), in percent. With
--shots K each question follows K demonstrations (image, question, answer) drawn from the train split,
one set per seed (--seeds) shared by every question; the mean and sd over seeds are printed. With
--json each shot count also gives "correct": the first seed's exact match per question (for paired
comparisons of runs on the same questions).
--task language measures what an `ashnet lm` run kept of the language model: perplexity on held-out
English prose (Python's reference topics, every fifth) and --shots-shot exact match on the held-out
text tasks (colour, last word, is a face; test emoji names). --data is not used.

--zero-shot adds "zero_shot": accuracy of classifying each image among the prompts
TEMPLATE.format(first caption) built from every image's first caption.

--task scores a run of `ashnet finetune` on that task's examples of the split; with --json the last
line is {"task", "metric" (its name), "value" and "chance" (percent), "n", "skipped", ...} with
"auc" for itm, "per_type" for vqa and "unknown_answers" (answers outside the training vocabulary,
counted wrong). chance: always the most frequent training answer (grounding: the mean box).
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate retrieval (R@1/5/10) of a trained run",
        description="Evaluate image-text retrieval of a trained run on one split of a pairs file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint(parser)
    parser.add_argument(
        "--data", help="pairs file (.csv/.tsv/.jsonl/COCO .json); vqa: easy-vqa or a scenes file"
    )
    add_split(parser)
    parser.add_argument("--batch-size", type=int, default=256, help="images/captions per forward pass")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--zero-shot", action="store_true", help="also report zero-shot classification accuracy"
    )
    parser.add_argument(
        "--template",
        help="zero-shot prompt, {} is the class (default: 'an emoji of {}', per language with --lang)",
    )
    add_lang(parser, "caption language(s): a code (sw), a comma list (en,ja,sw,ur) or all; one row each")
    parser.add_argument(
        "--scene-tasks",
        action="store_true",
        help="multiple-choice scene tasks by image-text similarity, per --lang (default en)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--task",
        default="retrieval",
        choices=["retrieval", *TASKS, "language"],
        help="what to evaluate (default: retrieval): a task fine-tuned with `ashnet finetune` "
        "(vqa also takes a language-model run), or language",
    )
    parser.add_argument(
        "--shots",
        type=int,
        nargs="+",
        default=[0],
        help="vqa: in-context demonstrations per question (default: 0)",
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="vqa: demonstration sets per shot count (default: 3)"
    )
    parser.add_argument(
        "--limit", type=int, help="vqa: evaluate a seeded random subset of this many questions"
    )
    add_keys(parser, from_run=True)
    parser.set_defaults(run=run)


def run_vqa(args) -> int:
    from ..lm.generate import kshot_accuracy
    from ..lm.train import load_lm_run
    from ..lm.vqa_data import load_vqa

    if any(k < 0 for k in args.shots):
        raise ValueError(f"--shots must be >= 0, got {args.shots}")
    vlm, features, _ = load_lm_run(args.checkpoint)
    queries = load_vqa(args.data, args.split, args.limit)
    pool = load_vqa(args.data, "train", limit=2000)
    rows = []
    for k in args.shots:
        r = kshot_accuracy(vlm, pool, queries, k, features, seeds=tuple(range(args.seeds)))
        rows.append({key: r[key] for key in ("shots", "accuracy", "sd", "per_seed", "correct")})
        if not args.json:
            print(
                f"{args.split}: {len(queries)} questions, {k}-shot exact match "
                f"{r['accuracy']:.1f} ± {r['sd']:.1f}%"
            )
    if args.json:
        print(json.dumps({"task": "vqa", "n_questions": len(queries), "results": rows}))
    return 0


def run_language(args) -> int:
    from ..lm.evaluate import language_skill
    from ..lm.train import load_lm_run

    vlm = load_lm_run(args.checkpoint)[0]
    skill = language_skill(
        vlm, shots=args.shots[0], n_queries=args.limit or 20, seeds=tuple(range(args.seeds))
    )
    if args.json:
        print(json.dumps({"task": "language", **skill}))
        return 0
    print(f"held-out prose perplexity {skill['perplexity']:.2f}")
    for task, accuracy in skill["text_tasks"].items():
        print(f"  {task}: {args.shots[0]}-shot exact match {accuracy:.1f}%")
    return 0


def _is_finetune_run(checkpoint) -> bool:
    """Whether ``checkpoint`` is a run of ``ashnet finetune`` (its config has a ``task`` section)."""
    import yaml

    from ..run import RunDir

    config = RunDir.of(checkpoint).config
    data = yaml.safe_load(config.read_text()) if config.is_file() else None
    return isinstance(data, dict) and isinstance(data.get("task"), dict)


def run_task(args) -> int:
    from ..data.tasks import load_task
    from ..evaluate_tasks import evaluate_task
    from ..training.finetune import load_task_run
    from ..training.multitask import evaluate_tasks, is_multitask_run, load_multitask_run
    from ..training.task_batches import TaskInputs

    if is_multitask_run(args.checkpoint):
        model, config = load_multitask_run(args.checkpoint, args.device)
        result = evaluate_tasks(
            model,
            config,
            args.data,
            args.split,
            [args.task],
            args.batch_size,
            args.device,
            progress=not args.json,
        )[args.task]
        return _report(result, args, load_task(args.data, args.task, args.split))
    task_model, config = load_task_run(args.checkpoint, args.device)
    if config.task.name != args.task:
        raise ValueError(f"{args.checkpoint} was fine-tuned for {config.task.name}, not {args.task}")
    data = load_task(args.data, args.task, args.split)
    train = load_task(args.data, args.task, "train")
    classes = list(config.task.classes)
    inputs = TaskInputs(
        task_model.model,
        data,
        classes,
        config.data.image_size,
        args.batch_size,
        args.device,
        progress=not args.json,
    )
    return _report(evaluate_task(task_model, inputs, train, classes, args.batch_size), args, data)


def _report(result, args, data) -> int:
    """Print a task's result: one JSON object with ``--json``, else a line per figure."""
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(
        f"{args.split} {args.task}: {result.metric} {result.value:.1f}% "
        f"(chance {result.chance:.1f}%), {result.n} examples"
    )
    for name, value in result.extra.items():
        if name == "per_type":
            for kind, accuracy in value.items():
                print(f"  {kind}: {accuracy:.1f}%")
        else:
            print(f"  {name}: {value:.1f}" if isinstance(value, float) else f"  {name}: {value}")
    if result.skipped:
        print(f"skipped {result.skipped} bad example(s), e.g. {data.bad_rows[0]}")
    return 0


def run(args) -> int:
    if args.task == "language":
        return run_language(args)
    if args.data is None:
        raise ValueError("--data is required: the pairs or task file to evaluate on")
    if args.task == "vqa" and not _is_finetune_run(args.checkpoint):
        return run_vqa(args)  # a language-model run (ashnet lm): k-shot answers
    if args.task in TASKS:
        return run_task(args)
    from ..checkpoint import load_run
    from ..data import load_pairs
    from ..evaluate import ZERO_SHOT_TEMPLATES, evaluate, zero_shot_labels

    model, config = load_run(args.checkpoint, args.device)
    if args.scene_tasks:
        return _run_scene_tasks(args, model, config)
    table = load_pairs(args.data, **chosen_keys(args, config.data.keys)).split(args.split)
    if args.lang is not None:
        return _run_languages(args, model, config, table)
    labels, classes = zero_shot_labels(table) if args.zero_shot else (None, None)
    template = args.template if args.template is not None else ZERO_SHOT_TEMPLATES["en"]
    result = evaluate(
        model, table, config.data.image_size, args.batch_size, labels, template, progress=not args.json
    )
    if args.json:
        out = result.to_json()
        if args.zero_shot:
            out["zero_shot"] = result.zero_shot
            out["zero_shot_classes"] = classes
        print(json.dumps(out))
        return 0
    print(f"{args.split}: {result.n_images} images, {result.n_texts} captions")
    for name in ("i2t", "t2i"):
        r = getattr(result, name)
        print(f"  {name}  R@1 {r['r1']:5.1f}  R@5 {r['r5']:5.1f}  R@10 {r['r10']:5.1f}")
    if result.firing_rate is not None:
        n_layers = len(result.layer_firing_rates)
        print(f"  firing rate {result.firing_rate:.2f}% (mean of {n_layers} spiking layers)")
        for layer, rate in result.layer_firing_rates.items():
            print(f"    {layer}: {rate:.2f}%")
    if result.zero_shot is not None:
        n = len(set(labels))
        print(f"  zero-shot accuracy {result.zero_shot:.1f}% over {n} classes ({classes} names)")
    return 0


def _run_languages(args, model, config, table) -> int:
    from ..data import MAIN_LANGUAGE
    from ..evaluate import evaluate_languages

    codes = languages(args.lang, [MAIN_LANGUAGE, *table.languages])
    results = evaluate_languages(
        model,
        table,
        codes,
        config.data.image_size,
        args.batch_size,
        zero_shot=args.zero_shot,
        template=args.template,
        progress=not args.json,
    )
    if args.json:
        out = {
            lang: {
                **r.to_json(),
                **(
                    {"zero_shot": r.zero_shot, "zero_shot_classes": r.zero_shot_classes}
                    if args.zero_shot
                    else {}
                ),
            }
            for lang, r in results.items()
        }
        print(json.dumps({"languages": out}, ensure_ascii=False))
        return 0
    print(f"{args.split}: {len(table)} images; retrieval per caption language (recall in %)")
    header = f"{'lang':<5} {'images':>6} {'texts':>6}  i2t R@1    R@5   R@10  t2i R@1    R@5   R@10"
    print(header + ("  zero-shot" if args.zero_shot else ""))
    for lang, r in results.items():
        recalls = "  ".join(
            f"{d[k]:7.1f}" if k == "r1" else f"{d[k]:5.1f}" for d in (r.i2t, r.t2i) for k in d
        )
        row = f"{lang:<5} {r.n_images:>6} {r.n_texts:>6}  {recalls}"
        print(row + (f"  {r.zero_shot:9.1f}" if args.zero_shot else ""))
    if args.zero_shot:
        print("zero-shot classes: " + ", ".join(f"{k} {r.zero_shot_classes}s" for k, r in results.items()))
    first = next(iter(results.values()))
    if first.firing_rate is not None:
        print(
            f"firing rate {first.firing_rate:.2f}% (mean of {len(first.layer_firing_rates)} spiking layers)"
        )
    return 0


def _run_scene_tasks(args, model, config) -> int:
    from ..data.scene_languages import LANGUAGES
    from ..evaluate_choices import CHANCE, CHOICE_TASKS, choice_accuracy

    codes = languages(args.lang or "en", LANGUAGES)
    results = choice_accuracy(
        model, args.data, CHOICE_TASKS, tuple(codes), args.split, config.data.image_size
    )
    if args.json:
        print(json.dumps({"scene_tasks": results}))
        return 0
    print(f"{args.split}: multiple-choice scene tasks, accuracy in % (questions)")
    print(f"{'lang':<6}" + "".join(f"{task:>16}" for task in CHOICE_TASKS))
    for lang, scores in results.items():
        cells = [
            f"{scores[t][0]:9.1f} ({scores[t][1]:>4})" if t in scores else f"{'-':>16}" for t in CHOICE_TASKS
        ]
        print(f"{lang:<6}" + "".join(cells))
    print(f"{'chance':<6}" + "".join(f"{CHANCE[t]:9.1f}{'':7}" for t in CHOICE_TASKS))
    return 0
