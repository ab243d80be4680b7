"""Benchmark: a dense layer's forward+backward, ``F.linear`` against ``neuro.Linear`` (oneDNN), demo shapes.

Each row is one ``Linear`` of the demo's training step (batch 128: the input projection of 16
backbone tokens, the spiking MLP's two layers over 4 steps x 16 tokens, the baseline's
projection). A round times forward and backward (input and weight gradients) of each
implementation in turn on the same tensors; the median over rounds and the GFLOP/s it gives
(6 x M x K x N per forward+backward) are printed with the load average. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from common import CLOCK_HELP, CLOCKS, load_verdict, machine, summarize, write_report
from torch import nn
from tqdm import tqdm

import neuro
from neuro.kernels.linear import onednn_available

# (name, rows M, in K, out N, input needs a gradient)
SHAPES = [
    ("input projection 1280->128", 2048, 1280, 128, False),
    ("spiking MLP fc1 128->256", 8192, 128, 256, True),
    ("spiking MLP fc2 256->128", 8192, 256, 128, True),
    ("baseline projection 1280->256", 128, 1280, 256, False),
]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every row count M (tests: tiny)")
    ap.add_argument("--clock", default="wall", choices=sorted(CLOCKS), help=CLOCK_HELP)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "linear.json")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = CLOCKS[args.clock]
    rows, results = [], {}
    load_before = os.getloadavg()
    for name, m, k, n, input_grad in SHAPES:
        m = max(1, round(m * args.scale))
        torch.manual_seed(0)
        reference = nn.Linear(k, n)
        ours = neuro.Linear(k, n)
        ours.load_state_dict(reference.state_dict())
        x = torch.randn(m, k, requires_grad=input_grad)
        grad = torch.randn(m, n)
        layers = {"F.linear": reference, "neuro.Linear": ours}
        times = {label: [] for label in layers}
        for r in tqdm(range(args.warmup + args.repeats), desc=name, disable=None, leave=False):
            for label, layer in layers.items():
                t0 = clock()
                layer(x).backward(grad)
                if r >= args.warmup:
                    times[label].append(clock() - t0)
                layer.zero_grad(set_to_none=True)
                x.grad = None
        flops = (6 if input_grad else 4) * m * k * n
        results[name] = {label: summarize(values) for label, values in times.items()}
        for summary in results[name].values():
            summary["gflops"] = flops / (1e6 * summary["median_ms"])
        ref, new = results[name]["F.linear"], results[name]["neuro.Linear"]
        rows.append(
            f"{name:30s} {m}x{k}x{n:<5d} F.linear {ref['median_ms']:7.3f} ms ({ref['gflops']:5.0f} GFLOP/s)  "
            f"neuro.Linear {new['median_ms']:7.3f} ms ({new['gflops']:5.0f} GFLOP/s)  "
            f"{ref['median_ms'] / new['median_ms']:.2f}x"
        )
    load_after = os.getloadavg()
    path = "oneDNN" if onednn_available() else "F.linear (this torch has no oneDNN linear)"
    print(
        f"\nLinear forward+backward, float32, {args.threads} threads, {args.repeats} rounds, "
        f"{args.clock} clock; neuro.Linear runs {path}"
    )
    print(load_verdict(load_before, load_after))
    print("\n".join(rows))
    report = {
        "config": vars(args) | {"out": str(args.out)},
        "machine": machine("cpu", load_before, load_after),
        "onednn": onednn_available(),
        "results": results,
    }
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
