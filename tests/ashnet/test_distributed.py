"""torchrun DDP on CPU (gloo): 2 processes with the global batch split give the losses of 1 process.

BatchNorm layers (in the spiking encoder, and in the tiny CNN that the tiny config trains) use the
statistics of the global batch under DDP (:mod:`ashnet.training.sync_norm`), so the whole ASH-Net,
spiking branch included, trains as on one process; float reductions in another order leave a
small difference.
"""

import os
import subprocess
import sys

import pytest

from ashnet.config import dump_config, load_config
from ashnet.run import read_metrics
from ashnet.training import train

TOLERANCE = 1e-4  # relative, on every logged loss

# (packaged config, global batch, steps): the demo config reads cached Lite0 features of 128 px
# images, as the demo does; tiny trains its small CNN on the images.
CASES = {"tiny": ("tiny", 8, 4), "demo": ("demo", 8, 3)}


def _config(name: str, batch_size: int, steps: int, per_process: int = 1):
    overrides = [
        f"data.batch_size={batch_size // per_process}",
        f"train.max_steps={steps}",
        "train.warmup_steps=1",
        "train.log_every=1",
        f"train.eval_every={steps}",
        "train.device=cpu",
        "stua.steps=0",
    ]
    return load_config(name, overrides)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(
    case, tiny_pairs, tmp_path, one_thread
):
    name, batch, steps = CASES[case]
    cache = tmp_path / "cache"  # the 2-process run reads the features the 1-process run cached
    train(_config(name, batch, steps), tiny_pairs, tmp_path / "one", cache_dir=cache, progress=False)
    config_file = tmp_path / "per_process.yaml"
    config_file.write_text(dump_config(_config(name, batch, steps, per_process=2)))
    two = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "ashnet", "train", "--config", str(config_file), "--data", str(tiny_pairs)]
    cmd += ["--out", str(two), "--cache-dir", str(cache)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    one_events, two_events = read_metrics(tmp_path / "one"), read_metrics(two)
    # only rank 0 writes: one event per step and evaluation, no duplicates
    assert [(e["event"], e["step"]) for e in two_events] == [(e["event"], e["step"]) for e in one_events]
    for a, b in zip(one_events, two_events, strict=True):
        if a["event"] == "train":
            for key in ("itc", "st", "stua", "total", "logit_scale"):
                assert b[key] == pytest.approx(a[key], rel=TOLERANCE, abs=1e-6), (a["step"], key)
