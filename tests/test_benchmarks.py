"""benchmarks/: the scripts run end to end and write their reports (tiny shapes; no timing is asserted)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from ashnet.training.runtime import pinned_threads

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def load(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their shared `common`

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    with pinned_threads(torch.get_num_threads()):  # the scripts set it from --threads: restored after
        yield load
    sys.modules.pop("common", None)


@pytest.mark.slow
def test_train_step_times_both_models_and_reports_their_ratio(load, tmp_path, capsys):
    out = tmp_path / "train_step.json"
    argv = ["--batch", "4", "--repeats", "2", "--warmup", "1", "--threads", "1", "--out", str(out)]
    assert load("train_step").main(argv) == 0
    report = json.loads(out.read_text())
    hybrid, baseline = report["results"]["ashnet"], report["results"]["baseline"]
    assert hybrid["trainable_params"] > baseline["trainable_params"] > 0
    assert report["ratio_median"] == pytest.approx(hybrid["median_ms"] / baseline["median_ms"])
    assert "ashnet / baseline:" in capsys.readouterr().out


def test_neurons_checks_and_times_the_chosen_rows(load, tmp_path, capsys):
    out = tmp_path / "neurons.json"
    argv = ["--T", "4", "--B", "2", "--N", "64", "--repeats", "2", "--warmup", "1", "--threads", "1"]
    assert load("neurons").main([*argv, "--only", "neuro cpu", "spikingjelly", "--out", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"neuro cpu", "neuro cpu lean", "spikingjelly 2.0"}
    # the same spikes (the script checks the firing rates agree before timing)
    assert results["neuro cpu"]["firing_rate"] == results["spikingjelly 2.0"]["firing_rate"] > 0
    assert results["neuro cpu"]["speedup_vs_best_peer"] > 0
    assert "best peer: spikingjelly 2.0" in capsys.readouterr().out


def test_linear_times_both_implementations_on_every_row(load, tmp_path, capsys):
    out = tmp_path / "linear.json"
    argv = ["--scale", "0.01", "--repeats", "2", "--warmup", "1", "--threads", "1", "--out", str(out)]
    assert load("linear").main(argv) == 0
    results = json.loads(out.read_text())["results"]
    assert len(results) == 4
    for row in results.values():
        assert set(row) == {"F.linear", "neuro.Linear"}
        assert all(r["median_ms"] > 0 and r["gflops"] > 0 for r in row.values())
    assert "load average" in capsys.readouterr().out
