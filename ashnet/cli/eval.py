"""``ashnet eval``: retrieval recall, firing rate and zero-shot accuracy of a trained run."""

from __future__ import annotations

import argparse
import json

EPILOG = """\
examples:
  ashnet eval --checkpoint runs/ashnet --data data/openmoji/pairs.csv
  ashnet eval --checkpoint runs/ashnet/checkpoint.pt --data pairs.csv --split val --json
  ashnet eval --checkpoint runs/ashnet --data pairs.csv --zero-shot
  ashnet eval --checkpoint runs/coco --data karpathy.json --zero-shot --template "a photo of {}"

--json prints one object: {"i2t": {"r1", "r5", "r10"}, "t2i": {...}, "n_images", "n_texts",
"firing_rate"}; recalls and the firing rate (mean over spiking layers, spikes per neuron per step)
are in percent; firing_rate is null for a model without the spiking branch. Image-to-text counts a
hit when any caption of the image is in the top k; text-to-image when the caption's own image is.
--zero-shot adds "zero_shot" (accuracy of classifying each image among the prompts
TEMPLATE.format(class)) and "zero_shot_classes" (what the classes are). For emoji data (OpenMoji,
Twemoji: image files named by code points) the classes are the emoji concepts, shared by skin-tone,
gender and family variants ("concept"); for other data each image's first caption is its class
("caption": prompted image-to-text retrieval rather than classification into shared classes).
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate retrieval (R@1/5/10) of a trained run",
        description="Evaluate image-text retrieval of a trained run on one split of a pairs file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, help="run directory or checkpoint file")
    parser.add_argument("--data", required=True, help="pairs file (.csv/.tsv/.jsonl/COCO .json)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"], help="default: test")
    parser.add_argument("--batch-size", type=int, default=256, help="images/captions per forward pass")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--zero-shot", action="store_true", help="also report zero-shot classification accuracy"
    )
    parser.add_argument(
        "--template",
        default="an emoji of {}",
        help="zero-shot prompt, {} is the class (default: %(default)r)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..checkpoint import load_run
    from ..data import load_pairs
    from ..evaluate import evaluate, zero_shot_labels

    model, config = load_run(args.checkpoint, args.device)
    table = load_pairs(args.data).split(args.split)
    labels, classes = zero_shot_labels(table) if args.zero_shot else (None, None)
    result = evaluate(
        model, table, config.data.image_size, args.batch_size, labels, args.template, progress=not args.json
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
