"""``ashnet viz``: spike plots, retrieval grids and training curves of a run; expert use of a MoME run."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_checkpoint, add_data, read_images

EPILOG = """\
examples:
  ashnet viz --checkpoint runs/ashnet --data pairs.csv --out runs/ashnet/figures
  ashnet viz --checkpoint runs/ashnet --data pairs.csv --out figs --format svg --k 3 --max-images 64
  ashnet viz --checkpoint runs/mome --data data/scenes/scenes.json --out runs/mome/figures

Writes into --out: spike_raster, firing_rates, membrane (the spiking encoder's output layer on
the first image; models with a spiking branch only), retrieval_image_to_text,
retrieval_text_to_image (over the --max-images images of --split and their captions) and
training_curves (from the run's metrics.jsonl, when there is one).

For a multi-task run with MoVE (`ashnet finetune --tasks ... --config mome`), --data is its task
file and --out gets expert_use: the mean router weight of each vision expert on each task's
examples of --split, beside each expert's energy per image (over --max-images images).
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


def _expert_figures(args) -> int:
    """``expert_use`` of a multi-task run with MoVE (``ashnet finetune --tasks --config mome``)."""
    import torch

    from ..data.tasks import load_task
    from ..energy import expert_energy
    from ..training.multitask import MultiTaskInputs, load_multitask_run, routing_by_task
    from ..viz import expert_use

    model, config = load_multitask_run(args.checkpoint)
    if model.vision is None:
        raise ValueError(f"{args.checkpoint} has no mixture of vision experts (model.move.enabled: false)")
    data = {t: load_task(args.data, t, args.split) for t in model.tasks}
    inputs = MultiTaskInputs(model, data, config.multitask.classes, config.data.image_size, 64, "cpu")
    use = routing_by_task(model, inputs)
    images, _ = read_images(args, config.data)
    energy = {n: r.energy_pj * 1e-6 for n, r in expert_energy(model.vision.experts, images).items()}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"expert_use.{args.format}"
    weights = torch.tensor([use[t]["move"] for t in model.tasks])
    expert_use(weights, model.tasks, list(model.vision.experts.names), energy, path=path)
    print(f"wrote {path}")
    return 0


def run(args) -> int:
    import torch

    from ..checkpoint import load_run
    from ..run import RunDir
    from ..training.multitask import is_multitask_run
    from ..viz import image_to_text_grid, text_to_image_grid, training_curves

    if args.k < 1 or args.queries < 1:
        raise ValueError(f"--k and --queries must be at least 1, got {args.k} and {args.queries}")
    if is_multitask_run(args.checkpoint):
        return _expert_figures(args)
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
