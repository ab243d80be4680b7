"""The run directory (ashnet.run): file names in one place, the checks before a run, and module layering."""

import json
import subprocess
import sys

import pytest

from ashnet.config import load_config
from ashnet.run import RunDir, read_metrics


def test_run_dir_names_every_file_and_finds_itself_from_a_file(tmp_path):
    run = RunDir(tmp_path)
    assert (run.config, run.checkpoint, run.metrics, run.tensorboard) == (
        tmp_path / "config.yaml",
        tmp_path / "checkpoint.pt",
        tmp_path / "metrics.jsonl",
        tmp_path / "tb",
    )
    assert RunDir.of(tmp_path) == run == RunDir.of(run.checkpoint)


def test_prepare_refuses_to_overwrite_or_resume_the_wrong_run(tmp_path):
    run, config = RunDir(tmp_path / "run"), load_config("tiny")
    with pytest.raises(FileNotFoundError, match="holds no run"):
        run.prepare(config, resume=True)
    run.prepare(config, resume=False, write=False)
    assert not run.path.exists()  # only the main process writes
    assert run.prepare(config, resume=False) is False
    assert load_config(run.config) == config
    assert run.prepare(config, resume=True) is False  # killed before its first checkpoint: start over
    run.checkpoint.write_bytes(b"")
    with pytest.raises(ValueError, match="already holds a run; pass --resume"):
        run.prepare(config, resume=False)
    assert run.prepare(config, resume=True) is True
    with pytest.raises(ValueError, match=r"another config \(seed: 0 in the run, 1 now\)"):
        run.prepare(load_config("tiny", ["seed=1"]), resume=True)


def test_read_metrics_from_the_run_or_the_file(tmp_path):
    events = [{"event": "train", "step": 1, "total": 2.0}, {"event": "eval", "step": 1, "i2t_r1": 5.0}]
    RunDir(tmp_path).metrics.write_text("".join(json.dumps(e) + "\n" for e in events) + "\n")
    assert read_metrics(tmp_path) == read_metrics(tmp_path / "metrics.jsonl") == events
    with pytest.raises(FileNotFoundError, match="no metrics file"):
        read_metrics(tmp_path / "elsewhere")


@pytest.mark.slow  # a fresh interpreter imports torch and every training module
def test_layers_import_downwards_only():
    """neuro imports no ashnet; no training module imports the demo, reports or plots (no cycle back)."""
    code = "\n".join(
        [
            "import pkgutil, sys, neuro, neuro.export, neuro.viz",
            "assert not any(m.startswith('ashnet') for m in sys.modules)",
            "import ashnet.training",
            "for m in pkgutil.iter_modules(ashnet.training.__path__):",
            "    __import__(f'ashnet.training.{m.name}')",
            "print(sorted(m for m in ('ashnet.demo', 'ashnet.report', 'ashnet.viz') if m in sys.modules))",
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
