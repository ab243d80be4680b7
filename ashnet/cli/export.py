"""``ashnet export``: write a trained run's spiking core as NIR, or its ANN parts as torch.export programs."""

from __future__ import annotations

import argparse
from pathlib import Path

from .data import add_key_arguments, chosen_keys

EPILOG = """\
examples:
  ashnet export --checkpoint runs/ashnet --format nir --out export/core.nir --data pairs.csv
  ashnet export --checkpoint runs/ashnet --format pt2 --out export/

nir: the spiking blocks and output LIF layer of the abstract encoder, one graph run per token
(see neuro.export for the dt mapping; the default dt of 1e-4 s is the one SpikingJelly and snnTorch
assume when they import, and the graph records it for neuro.export.from_nir).
Only `model.abstract.block: mlp` encoders work on each token alone; token-mixing blocks (spiking
self-attention) have no NIR node and are refused.
pt2: the ANN parts (backbone, spiking-input projection, readout/fusion head, text head) as
torch.export programs, loadable with torch.export.load(path).module(). ONNX needs the onnx package;
these programs convert with torch.onnx.export once it is installed.
Both write or update OUT_FOLDER/manifest.json, which says how the parts connect. The NIR export
checks itself on --data images (random images without --data): the fraction of output spikes equal
to the model's is printed and stored in the manifest.
"""


def add_data_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    """``--data``, ``--split``, ``--max-images``: the real images that export, energy and viz run."""
    parser.add_argument("--data", required=required, help="pairs file (.csv/.tsv/.jsonl/COCO .json)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"], help="default: test")
    parser.add_argument(
        "--max-images", type=int, default=32, help="use at most this many images (default 32)"
    )
    add_key_arguments(parser, from_run=True)


def read_images(args, data):
    """``(images [B, 3, S, S], table)`` of the first ``--max-images`` images of ``--split`` of ``--data``.

    ``data``: the run's data config (image size, and the column names unless options give others).
    """
    import torch

    from ..data import ImageTextDataset, load_pairs

    if args.max_images < 1:
        raise ValueError(f"--max-images must be at least 1, got {args.max_images}")
    table = load_pairs(args.data, **chosen_keys(args, data.keys)).split(args.split)
    if not table.images:
        raise ValueError(f"{args.data} has no images in split {args.split!r}")
    dataset = ImageTextDataset(table, image_size=data.image_size)
    n = min(len(dataset), args.max_images)
    return torch.stack([dataset[i][0] for i in range(n)]), table


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export the spiking core (NIR) or the ANN parts (torch.export)",
        description="Export a trained run for other simulators and runtimes, with a manifest "
        "of how the parts connect.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, help="run directory or checkpoint file")
    parser.add_argument(
        "--format", required=True, choices=["nir", "pt2"], help="nir: spiking core; pt2: ANN parts"
    )
    parser.add_argument("--out", required=True, type=Path, help="nir: the .nir file to write; pt2: a folder")
    parser.add_argument(
        "--dt",
        type=float,
        help="seconds per time step in the NIR graph (default 1e-4, what SpikingJelly and snnTorch assume)",
    )
    add_data_arguments(parser, required=False)
    parser.set_defaults(run=run)


def run(args) -> int:
    import torch

    from neuro.export import DEFAULT_DT

    from ..checkpoint import load_run
    from ..export import export_nir, export_pt2, manifest, write_manifest

    model, config = load_run(args.checkpoint)
    if args.data is not None:
        images, _ = read_images(args, config.data)
    else:
        size = config.data.image_size
        images = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    if args.format == "nir":
        part = export_nir(model, images, args.out, dt=DEFAULT_DT if args.dt is None else args.dt)
        parts, folder = [part], args.out.parent
        check = part["check"]
        print(f"wrote {args.out}: NIR graph of {len(part['nodes'])} nodes, dt={part['dt']:g} s")
        print(
            f"check on {check['tokens']} tokens of {len(images)} images: output spikes of the file, read "
            f"back, equal to the model's {100 * check['spikes_equal_to_model']:.2f}%"
        )
    else:
        parts, folder = export_pt2(model, images, args.out), args.out
        for part in parts:
            print(f"wrote {folder / part['file']}: {part['name']} (torch.export)")
    path = write_manifest(folder, manifest(model, config, args.checkpoint, parts))
    print(f"manifest: {path}")
    return 0
