"""``ashnet viz``: spike plots, retrieval grids and training curves of a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_checkpoint, add_data, read_images

EPILOG = """\
examples:
  ashnet viz --checkpoint runs/ashnet --data pairs.csv --out runs/ashnet/figures
  ashnet viz --checkpoint runs/ashnet --data pairs.csv --out figs --format svg --k 3 --max-images 64

Writes into --out: spike_raster, firing_rates, membrane (the spiking encoder's output layer on
the first image; models with a spiking branch only), retrieval_image_to_text,
retrieval_text_to_image (over the --max-images images of --split and their captions) and
training_curves (from the run's metrics.jsonl, when there is one).
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "viz",
        help="plot spikes, retrieval examples and training curves of a run",
        description="Draw the figures that show what a trained run does.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint(parser)
    add_data(parser, max_images=True)
    parser.add_argument("--out", required=True, type=Path, help="folder for the figures")
    parser.add_argument("--format", default="png", choices=["png", "svg"], help="image format (default png)")
    parser.add_argument("--k", type=int, default=5, help="results per retrieval query (default 5)")
    parser.add_argument("--queries", type=int, default=3, help="queries per retrieval grid (default 3)")
    parser.set_defaults(run=run)


def _spike_figures(model, images, out: Path, ext: str) -> list[Path]:
    import torch

    from neuro import Monitor, viz

    with Monitor(model.abstract, record_v=True) as monitor, torch.no_grad():
        model.encode_image(images)
    spikes = {name: s[-1] for name, s in monitor.spikes.items()}
    last = list(spikes)[-1]
    threshold = monitor.layers[last].parameters_tuple().v_threshold
    paths = [out / f"spike_raster.{ext}", out / f"firing_rates.{ext}", out / f"membrane.{ext}"]
    viz.spike_raster(
        spikes, max_neurons=128, title="Spiking encoder: spikes of image 0 (tokens x channels)", path=paths[0]
    )
    viz.firing_rate_heatmap(
        spikes, title=f"Spiking encoder firing rates ({len(images)} images)", path=paths[1]
    )
    viz.membrane_traces(
        monitor.v[last][-1],
        threshold,
        spikes=spikes[last],
        title=f"Membrane potential: {last}, image 0",
        path=paths[2],
    )
    return paths


def run(args) -> int:
    import torch

    from ..checkpoint import load_run
    from ..run import RunDir
    from ..viz import image_to_text_grid, text_to_image_grid, training_curves

    if args.k < 1 or args.queries < 1:
        raise ValueError(f"--k and --queries must be at least 1, got {args.k} and {args.queries}")
    model, config = load_run(args.checkpoint)
    images, table = read_images(args, config.data)
    out, ext = args.out, args.format
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if model.has_snn:
        written += _spike_figures(model, images, out, ext)
    else:
        print("no spiking branch: skipping spike raster, firing rates and membrane traces")
    records = table.images[: len(images)]
    captions = [c for r in records for c in r.captions]
    text_image = torch.tensor([i for i, r in enumerate(records) for _ in r.captions])
    with torch.no_grad():
        similarity = model.encode_image(images).embedding @ model.encode_text(captions).T
    first_captions = [int((text_image == i).nonzero()[0]) for i in range(len(records))]
    n = min(args.queries, len(records))
    written.append(out / f"retrieval_image_to_text.{ext}")
    image_to_text_grid(images, captions, similarity, text_image, list(range(n)), args.k, path=written[-1])
    written.append(out / f"retrieval_text_to_image.{ext}")
    text_to_image_grid(images, captions, similarity, text_image, first_captions[:n], args.k, path=written[-1])
    run = RunDir.of(args.checkpoint)
    if run.metrics.is_file():
        written.append(out / f"training_curves.{ext}")
        training_curves(run.path, path=written[-1])
    else:
        print(f"no {run.metrics}: skipping training curves")
    for path in written:
        print(f"wrote {path}")
    return 0
