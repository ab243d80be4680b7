"""Benchmark: a neuron's forward+backward over T steps, neuro's backends and the peers, same dynamics for all.

``--neuron lif`` (the default): every implementation runs the same LIF (tau = 2, V_th = 1, hard
reset to 0, input decayed): ``H = V + (X - V) / tau``, ``S = H >= 1``, ``V = H (1 - S)``:

* neuro: ``LIFParameters(tau=2.0)``, backends ``torch`` / ``cpu`` (and ``cpu`` lean) / ``cupy``;
* SpikingJelly 2.0: ``LIFNode(tau=2.0, step_mode="m")`` (its torch path on the CPU; Triton on CUDA);
* Norse: ``LIFBoxCell`` with ``tau_mem_inv = 1 / (tau dt)``, ``dt = 1e-3`` (``dv = (X - V) / tau``), looped;
* snnTorch: ``Leaky(beta=1 - 1/tau, reset_mechanism="zero", reset_delay=False)`` fed ``X / tau``, looped;
* a naive torch loop of the same three lines with an ATan surrogate, and that loop under
  ``torch.compile`` (what a user would try first; compiled once, before timing).

``--neuron alif`` (``ALIFParameters(tau=2, tau_adapt=20, beta=0.2)``) and ``--neuron cuba``
(``CubaLIFParameters(tau_syn=2, tau_mem=2, r=2, w_in=2)`` fed ``0.3 X``; SpikingJelly's
``CUBALIFNode(c_decay=0.5, v_decay=0.5)`` is the same neuron) time neuro's backends and the
``torch.compile``d reference loop.

Firing rates must agree before anything is timed. Rounds run every implementation once in turn
(so a load change on a shared machine hits all alike); forward, backward and total times are
reported as median and interquartile range. "saved MiB" is what autograd keeps for backward
(a saved_tensors_hooks probe; on CUDA also the peak allocated memory). The bandwidth floor is one
elementwise pass into a preallocated output (``torch.mul(x, 2, out=y)``: read and write the
[T, B, N] tensor once, no allocation), measured the same way; forward+backward needs at least
three such passes (x -> spikes, H written and read back, grad_spikes -> grad_x). The load average
is printed before and after; above 1.5 the figures are marked as not comparable. Results go to a
table and to JSON (``--out``). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import torch
from common import CLOCK_HELP, CLOCKS, load_verdict, machine, summarize, write_report
from tqdm import tqdm

from neuro import functional as F

TAU, V_TH = 2.0, 1.0
# the other neurons: parameters, and the input scale that gives a firing rate near LIF's
NEURONS = {
    "lif": (F.lif_multi_step, F.LIFParameters(tau=TAU, v_threshold=V_TH, v_reset=0.0), 1.0),
    "alif": (F.alif_multi_step, F.ALIFParameters(tau=TAU, tau_adapt=20.0, beta=0.2, v_threshold=V_TH), 1.0),
    "cuba": (F.cuba_lif_multi_step, F.CubaLIFParameters(tau_syn=2.0, tau_mem=2.0, r=2.0, w_in=2.0), 0.3),
}


class _ATanSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1 + (torch.pi / 2 * 2.0 * x) ** 2)


def naive_loop(x_seq):
    v, out = torch.zeros_like(x_seq[0]), []
    for x in x_seq:
        h = v + (x - v) / TAU
        s = _ATanSpike.apply(h - V_TH)
        v = h * (1 - s)
        out.append(s)
    return torch.stack(out)


def compiled(fn):
    """``fn`` under ``torch.compile`` (inductor); compiled here, at the first call, before timing."""
    return torch.compile(fn, dynamic=False)


def neuro_backend(neuron, backend, memory="exact"):
    multi_step, p, scale = NEURONS[neuron]
    return lambda x: multi_step(x * scale if scale != 1.0 else x, None, p, backend, memory)[0]


def spikingjelly():
    from spikingjelly.activation_based import functional, neuron, surrogate

    node = neuron.LIFNode(
        tau=TAU, v_threshold=V_TH, v_reset=0.0, surrogate_function=surrogate.ATan(), step_mode="m"
    )

    def run(x):
        functional.reset_net(node)
        return node(x)

    return run


def spikingjelly_cuba():
    from spikingjelly.activation_based import functional, neuron, surrogate

    # c = c / 2 + X, v = v / 2 + c: CubaLIF(tau_syn=2, tau_mem=2, r=2, w_in=2), on the same scaled input
    node = neuron.CUBALIFNode(c_decay=0.5, v_decay=0.5, v_threshold=V_TH, surrogate_function=surrogate.ATan())
    node.step_mode = "m"

    def run(x):
        functional.reset_net(node)
        return node(x * NEURONS["cuba"][2])

    return run


def norse():
    from norse.torch import LIFBoxCell, LIFBoxParameters

    dt = 1e-3
    cell = LIFBoxCell(
        LIFBoxParameters(tau_mem_inv=torch.as_tensor(1 / (TAU * dt)), v_th=torch.as_tensor(V_TH)), dt=dt
    )

    def run(x):
        state, out = None, []
        for x_t in x:
            z, state = cell(x_t, state)
            out.append(z)
        return torch.stack(out)

    return run


def snntorch():
    import snntorch as snn

    leaky = snn.Leaky(beta=1 - 1 / TAU, threshold=V_TH, reset_mechanism="zero", reset_delay=False)

    def run(x):
        mem, out = leaky.init_leaky(), []
        for x_t in x / TAU:
            spk, mem = leaky(x_t, mem)
            out.append(spk)
        return torch.stack(out)

    return run


def implementations(device: str, neuron: str = "lif") -> dict:
    """Name -> a function that builds the implementation (so a missing peer only skips its row)."""
    fused = "cupy" if device == "cuda" else "cpu"
    impls = {"neuro torch": lambda: neuro_backend(neuron, "torch")}
    if neuron == "lif":
        impls |= {
            "naive torch loop": lambda: naive_loop,
            "torch.compile naive loop": lambda: compiled(naive_loop),
            "spikingjelly 2.0" + (" (triton)" if device == "cuda" else ""): spikingjelly,
            "norse LIFBoxCell loop": norse,
            "snntorch Leaky loop": snntorch,
        }
    else:
        impls["torch.compile neuro torch"] = lambda: compiled(neuro_backend(neuron, "torch"))
    if neuron == "cuba":
        impls["spikingjelly 2.0 CUBALIFNode"] = spikingjelly_cuba
    impls[f"neuro {fused}"] = lambda: neuro_backend(neuron, fused)
    impls[f"neuro {fused} lean"] = lambda: neuro_backend(neuron, fused, "lean")
    return impls


PEERS = ("spikingjelly", "norse", "snntorch")


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def saved_bytes(run, x):
    """Bytes autograd keeps for backward during one forward (tensors counted once by storage)."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run(x.detach().requires_grad_())
    seen.pop(x.untyped_storage().data_ptr(), None)  # the input exists anyway
    return sum(seen.values())


def time_once(run, x, grad, device, clock=time.perf_counter):
    x = x.detach().requires_grad_()
    _sync(device)
    t0 = clock()
    s = run(x)
    _sync(device)
    t1 = clock()
    s.backward(grad)
    _sync(device)
    return t1 - t0, clock() - t1


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--neuron", default="lif", choices=sorted(NEURONS), help="lif (with the peers), alif or cuba"
    )
    ap.add_argument("--T", type=int, default=16)
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--N", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"]
    )
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch and OpenMP threads (CPU)")
    ap.add_argument("--clock", default="wall", choices=sorted(CLOCKS), help=CLOCK_HELP)
    ap.add_argument("--only", nargs="*", help="substrings of implementation names to run")
    ap.add_argument(
        "--out", type=Path, help="JSON report (default: benchmarks/results/neurons-<neuron>.json)"
    )
    return ap.parse_args(argv)


def prepare(args, x):
    """Build each implementation and measure its firing rate; returns (runs, rates, notes)."""
    runs, rates, notes = {}, {}, {}
    for name, make in implementations(args.device, args.neuron).items():
        if args.only and not any(o in name for o in args.only):
            continue
        try:
            run = make()
            with torch.no_grad():
                rates[name] = float(run(x).float().mean())
            runs[name] = run
        except (ImportError, ValueError, RuntimeError) as err:
            notes[name] = f"skipped: {type(err).__name__}: {str(err).splitlines()[0]}"
    return runs, rates, notes


def time_rounds(args, runs, x, grad):
    """Forward and backward seconds per implementation, and the elementwise-pass seconds, per round."""
    times = {name: ([], []) for name in runs}
    floor, out = [], torch.empty_like(x)
    clock = CLOCKS[args.clock]
    for r in tqdm(range(args.warmup + args.repeats), desc="rounds", disable=None):
        for name, run in runs.items():
            fwd, bwd = time_once(run, x, grad, args.device, clock)
            if r >= args.warmup:
                times[name][0].append(fwd)
                times[name][1].append(bwd)
        _sync(args.device)
        t0 = clock()
        torch.mul(x, 2.0, out=out)  # the bandwidth floor: read and write the tensor once
        _sync(args.device)
        if r >= args.warmup:
            floor.append(clock() - t0)
    return times, floor


def summarize_all(args, runs, rates, times, floor, x, grad):
    results = {}
    for name, run in runs.items():
        fwd, bwd = times[name]
        results[name] = {
            "firing_rate": rates[name],
            "forward": summarize(fwd),
            "backward": summarize(bwd),
            "total": summarize([a + b for a, b in zip(fwd, bwd, strict=True)]),
            "saved_MiB": saved_bytes(run, x) / 2**20,
        }
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            time_once(run, x, grad, args.device)
            results[name]["peak_MiB"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    floor_summary = summarize(floor)
    floor_ms = floor_summary["median_ms"]
    peers = [n for n in results if any(p in n for p in PEERS)]
    best_peer = min(peers, key=lambda n: results[n]["total"]["median_ms"]) if peers else None
    for res in results.values():
        res["x_floor"] = res["total"]["median_ms"] / (3 * floor_ms)
        if best_peer:
            res["speedup_vs_best_peer"] = results[best_peer]["total"]["median_ms"] / res["total"]["median_ms"]
    return results, floor_summary, best_peer


def print_table(args, results, floor, best_peer, notes, verdict):
    floor_ms = floor["median_ms"]
    print(
        f"\n{args.neuron.upper()} forward+backward, T={args.T} B={args.B} N={args.N} float32 on "
        f"{args.device}, {args.threads} threads, median [p25-p75] of {args.repeats} rounds, {args.clock} time"
    )
    print(verdict)
    print(
        f"bandwidth floor: one elementwise pass {floor_ms:.3f} ms (min {floor['min_ms']:.3f}); "
        f"fwd+bwd needs 3 = {3 * floor_ms:.3f} ms"
    )
    print("(min: the fastest round, the closest to an idle machine; x floor and ratios use medians)")
    cols = ("forward ms", "backward ms", "total ms", "min", "saved MiB", "rate", "x floor", "vs best peer")
    widths = (18, 18, 18, 7, 10, 7, 8, 13)
    print(f"{'implementation':30s}" + "".join(f" {c:>{w}s}" for c, w in zip(cols, widths, strict=True)))
    for name, res in sorted(results.items(), key=lambda kv: kv[1]["total"]["median_ms"]):
        cells = [
            f"{res[k]['median_ms']:.2f} [{res[k]['p25_ms']:.1f}-{res[k]['p75_ms']:.1f}]"
            for k in ("forward", "backward", "total")
        ]
        cells.append(f"{res['total']['min_ms']:.2f}")
        cells += [f"{res['saved_MiB']:.1f}", f"{res['firing_rate']:.4f}", f"{res['x_floor']:.2f}"]
        cells.append(f"{res['speedup_vs_best_peer']:.2f}x" if best_peer else "-")
        print(f"{name:30s}" + "".join(f" {c:>{w}s}" for c, w in zip(cells, widths, strict=True)))
    if best_peer:
        print(f"best peer: {best_peer}")
    for name, note in notes.items():
        print(f"{name}: {note}")


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out = args.out or Path(__file__).parent / "results" / f"neurons-{args.neuron}.json"
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    warnings.filterwarnings("ignore", category=FutureWarning)
    g = torch.Generator().manual_seed(0)
    shape = (args.T, args.B, args.N)
    x = (torch.rand(shape, generator=g) * 1.6 + 0.2).to(args.device)  # firing rates ~ 0.13 to 0.25
    grad = torch.randn(shape, generator=g).to(args.device)

    runs, rates, notes = prepare(args, x)
    reference = rates.get("neuro torch", next(iter(rates.values())))
    mismatched = {n: r for n, r in rates.items() if abs(r - reference) > 2e-3}
    if mismatched:
        print(f"firing rates differ from neuro torch ({reference:.4f}): {mismatched}", file=sys.stderr)
        return 1
    load_before = os.getloadavg()
    times, floor = time_rounds(args, runs, x, grad)
    load_after = os.getloadavg()
    results, floor_pass, best_peer = summarize_all(args, runs, rates, times, floor, x, grad)
    print_table(args, results, floor_pass, best_peer, notes, load_verdict(load_before, load_after))
    report = {
        "config": vars(args)
        | {"out": str(args.out), "dtype": "float32", "params": repr(NEURONS[args.neuron][1])},
        "machine": machine(args.device, load_before, load_after),
        "floor_pass": floor_pass,
        "best_peer": best_peer,
        "results": results,
        "notes": notes,
    }
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
