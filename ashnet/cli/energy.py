"""``ashnet energy``: estimated energy per image of a trained hybrid model against an ANN-only one."""

from __future__ import annotations

import argparse
import json

from .arguments import add_checkpoint, add_data, read_images

EPILOG = """\
examples:
  ashnet energy --checkpoint runs/ashnet --data pairs.csv
  ashnet energy --checkpoint runs/ashnet --data pairs.csv --baseline runs/baseline --per-layer
  ashnet energy --checkpoint runs/ashnet --data pairs.csv --mac-pj 3.1 --ac-pj 0.1 --json

Counts come from a real forward pass over --max-images images of --split: dense inputs cost a MAC
per weight, spike inputs an accumulate (SOP) per spike per target. Default costs are 45 nm 32-bit
float (Horowitz, ISSCC 2014): 4.6 pJ per MAC, 0.9 pJ per accumulate. The ANN-only comparison is
--baseline RUN (another trained run, e.g. the `baseline` config) or, without it, the ANN twin: the
same model with every spiking neuron a GELU, run for one step. Memory traffic is not counted.
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "energy",
        help="estimate energy per image: hybrid vs ANN-only",
        description="Estimate the energy per image of a trained run from MACs and spike-driven "
        "synaptic operations.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint(parser)
    add_data(parser, max_images=True)
    parser.add_argument("--baseline", help="an ANN-only run to compare with (default: the ANN twin)")
    parser.add_argument("--mac-pj", type=float, default=4.6, help="picojoules per MAC (default 4.6)")
    parser.add_argument("--ac-pj", type=float, default=0.9, help="picojoules per accumulate (default 0.9)")
    parser.add_argument("--per-layer", action="store_true", help="print every layer, not one row per part")
    parser.add_argument("--json", action="store_true", help="print one JSON object with every layer")
    parser.set_defaults(run=run)


def run(args) -> int:
    from neuro.energy import CAVEATS, HOROWITZ_45NM, EnergyCosts

    from ..checkpoint import load_run
    from ..energy import ann_twin, image_energy, text_energy

    default = (args.mac_pj, args.ac_pj) == (HOROWITZ_45NM.mac_pj, HOROWITZ_45NM.ac_pj)
    costs = HOROWITZ_45NM if default else EnergyCosts(args.mac_pj, args.ac_pj, "given on the command line")
    model, config = load_run(args.checkpoint)
    images, table = read_images(args, config.data)
    captions = [record.captions[0] for record in table.images[: len(images)]]
    if args.baseline:
        other, other_config = load_run(args.baseline)
        if other_config.data.image_size != config.data.image_size:
            raise ValueError(
                f"--baseline uses {other_config.data.image_size}-pixel images, the checkpoint "
                f"{config.data.image_size}; compare runs on the same images"
            )
        other_name = f"baseline {args.baseline}"
    else:
        other, other_name = ann_twin(model), "ANN twin (spiking neurons -> GELU, 1 step)"
    reports = {
        "hybrid": image_energy(model, images, costs=costs),
        "ann": image_energy(other, images, costs=costs),
    }
    text = text_energy(model, captions, costs=costs)
    hybrid, ann = reports["hybrid"], reports["ann"]
    if args.json:
        print(
            json.dumps(
                {
                    "images": len(images),
                    "hybrid": hybrid.to_dict(),
                    "ann": {"name": other_name, **ann.to_dict()},
                    "text_per_caption": text.to_dict(),
                    "ratio_hybrid_to_ann": hybrid.energy_pj / ann.energy_pj,
                }
            )
        )
        return 0
    for title, report in (("hybrid: " + str(args.checkpoint), hybrid), (other_name, ann)):
        shown = report if args.per_layer else report.grouped(depth=1)
        print(f"== {title} (image path, per image) ==")
        print("\n".join(shown.table().splitlines()[:-2]))  # costs and caveat follow once, below
        print()
    print(f"energy per image on {len(images)} images of {args.split}:")
    print(f"  hybrid   {hybrid.energy_pj / 1e6:10.3f} uJ  ({hybrid.macs:.3g} MAC + {hybrid.sops:.3g} SOP)")
    print(
        f"  ANN-only {ann.energy_pj / 1e6:10.3f} uJ  ({ann.macs:.3g} MAC + {ann.sops:.3g} SOP): {other_name}"
    )
    print(f"  hybrid / ANN-only = {hybrid.energy_pj / ann.energy_pj:.3f}")
    print(f"  text encoder, per caption (same in both): {text.energy_pj / 1e6:.3f} uJ ({text.macs:.3g} MAC)")
    print(f"costs: {costs.mac_pj} pJ/MAC, {costs.ac_pj} pJ/AC ({costs.source})")
    print(f"caveat: {CAVEATS}")
    return 0
