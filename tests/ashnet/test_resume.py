"""Crash safety: resumed runs equal uninterrupted ones (bitwise on CPU), kill -9, corrupt checkpoints."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

import ashnet.training.loop as loop
from ashnet.checkpoint import load_checkpoint, save_checkpoint
from ashnet.cli import main
from ashnet.config import load_config
from ashnet.run import read_metrics
from ashnet.training import train


def assert_same_run(a, b):
    """Model and optimiser states bitwise equal; metric events equal."""
    sa, sb = load_checkpoint(a), load_checkpoint(b)
    assert sa["step"] == sb["step"]
    assert sa["model"].keys() == sb["model"].keys()
    for key in sa["model"]:
        assert torch.equal(sa["model"][key], sb["model"][key]), key
    for pa, pb in zip(sa["optimizer"]["state"].values(), sb["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert read_metrics(a) == read_metrics(b)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Crash(Exception):
    pass


def test_resume_after_a_crash_continues_exactly(tiny_pairs, tmp_path, monkeypatch, one_thread):
    # 16 train images, batch 4: 4 steps per epoch; the crash at step 3 resumes mid-epoch and crosses an epoch.
    cfg = load_config("tiny", ["train.max_steps=7", "train.checkpoint_every=3", "train.eval_every=3"])
    train(cfg, tiny_pairs, tmp_path / "whole", progress=False)

    real_save = loop.save_checkpoint

    def save_then_crash(path, state):
        real_save(path, state)
        raise Crash(f"killed after step {state['step']}")

    monkeypatch.setattr(loop, "save_checkpoint", save_then_crash)
    with pytest.raises(Crash, match="after step 3"):
        train(cfg, tiny_pairs, tmp_path / "crashed", progress=False)
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    result = train(cfg, tiny_pairs, tmp_path / "crashed", resume=True, progress=False)
    assert result["step"] == 7
    assert_same_run(tmp_path / "whole", tmp_path / "crashed")


@pytest.mark.slow
def test_kill_9_at_a_random_step_then_resume_matches_uninterrupted(tiny_pairs, tmp_path, one_thread):
    overrides = ["train.max_steps=16", "train.checkpoint_every=3"]
    rng = random.Random()
    kill_at = rng.randint(4, 13)
    run = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "ashnet",
        "train",
        "--config",
        "tiny",
        "--data",
        str(tiny_pairs),
        "--out",
        str(run),
    ]
    for o in overrides:
        cmd += ["--set", o]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    step = 0
    while proc.poll() is None and time.time() < deadline:
        if (run / "metrics.jsonl").exists() and (run / "checkpoint.pt").exists():
            lines = (run / "metrics.jsonl").read_text().splitlines()
            step = len(lines)
            if step >= kill_at:
                break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"training ended before the kill at step {kill_at}"
    killed_at = load_checkpoint(run)["step"]
    assert 3 <= killed_at < 16
    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    cfg = load_config("tiny", overrides)
    train(cfg, tiny_pairs, tmp_path / "whole", progress=False)
    assert_same_run(tmp_path / "whole", run)


def test_truncated_or_corrupt_checkpoints_are_detected(tmp_path, capsys, tiny_pairs):
    path = save_checkpoint(tmp_path / "ck.pt", {"step": 3, "w": torch.arange(1000.0)})
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left behind
    assert load_checkpoint(path)["step"] == 3
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_checkpoint(path)
    flipped = bytearray(data)
    flipped[-100] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_checkpoint(path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not an ashnet checkpoint"):
        load_checkpoint(path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(data[:200])
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--data", str(tiny_pairs)]) == 2
    err = capsys.readouterr().err
    assert "corrupt or truncated" in err and "Traceback" not in err
