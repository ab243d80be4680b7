"""``ashnet export``: write a trained run's spiking core as NIR, or its ANN parts as torch.export programs."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_checkpoint, add_data, read_images

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


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export the spiking core (NIR) or the ANN parts (torch.export)",
        description="Export a trained run for other simulators and runtimes, with a manifest "
        "of how the parts connect.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint(parser)
    parser.add_argument(
        "--format", required=True, choices=["nir", "pt2"], help="nir: spiking core; pt2: ANN parts"
    )
    parser.add_argument("--out", required=True, type=Path, help="nir: the .nir file to write; pt2: a folder")
    parser.add_argument(
        "--dt",
        type=float,
        help="seconds per time step in the NIR graph (default 1e-4, what SpikingJelly and snnTorch assume)",
    )
    add_data(parser, required=False, max_images=True)
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
