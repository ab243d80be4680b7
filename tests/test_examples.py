"""examples/neuron_basics.py: the command-line demo of the neuro core writes its figures."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_neuron_basics_writes_the_raster_and_membrane_figures(tmp_path, capsys):
    out = tmp_path / "figures"
    assert _load("neuron_basics").main(["--out", str(out), "--steps", "20"]) == 0
    printed = capsys.readouterr().out
    for name in ("spike_raster.png", "membrane_trace.png"):
        image = np.asarray(Image.open(out / name).convert("L"))
        assert min(image.shape) > 300, name  # a real figure, not an empty canvas
        assert (image < 128).mean() > 0.01, name  # with dark ink: spikes, traces, labels
        assert f"wrote {out / name}" in printed
