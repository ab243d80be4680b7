"""What the benchmark scripts share: the load verdict, timing summaries, the machine, the JSON report."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

# Above this 1-minute load average (on any core count) other work competes for cores, caches and
# memory bandwidth, and timings are not comparable with a quiet machine's.
LOAD_LIMIT = 1.5


def load_verdict(before: tuple[float, ...], after: tuple[float, ...]) -> str:
    """One line: the 1-minute load average before and after, and whether the figures are comparable."""
    worst = max(before[0], after[0])
    line = f"load average (1 min) {before[0]:.2f} before, {after[0]:.2f} after"
    if worst > LOAD_LIMIT:
        return (
            f"{line}: ABOVE {LOAD_LIMIT}, these figures are NOT COMPARABLE with a quiet machine's "
            "(ratios measured in the same rounds are the useful part)"
        )
    return f"{line}: quiet enough, figures comparable"


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK_HELP = (
    "wall: elapsed time (the figure on a quiet machine); cpu: this process's CPU time, all threads "
    "(on a loaded machine it leaves out the time other jobs hold the cores, not their effect on caches "
    "and memory bandwidth, nor a thread waiting for another)"
)


def summarize(values: list[float]) -> dict[str, float]:
    """Median, quartiles and minimum of a list of seconds, in milliseconds."""
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {
        "median_ms": 1e3 * statistics.median(values),
        "p25_ms": 1e3 * q[0],
        "p75_ms": 1e3 * q[2],
        "min_ms": 1e3 * min(values),
    }


def machine(device: str, load_before, load_after) -> dict:
    """The machine, the software and the load, for the JSON report."""
    import neuro

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "comparable": max(load_before[0], load_after[0]) <= LOAD_LIMIT,
        "torch": torch.__version__,
        "neuro": neuro.__version__,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else platform.processor(),
    }


def write_report(path: Path, report: dict) -> None:
    """Write ``report`` as JSON to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, path)
    print(f"wrote {path}")
