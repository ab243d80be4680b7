"""Crash safety: resumed runs equal uninterrupted ones (bitwise on CPU), kill -9, corrupt checkpoints."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ashnet.training.loop as loop
from ashnet.checkpoint import load_checkpoint, save_checkpoint
from ashnet.cli import main
from ashnet.config import load_config, packaged_configs
from ashnet.run import read_metrics
from ashnet.training import train
from ashnet.training.image_text import ContrastiveStep


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


class Crash(Exception):
    pass


@pytest.mark.slow
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


def test_checkpoints_by_default_at_each_epoch_end_and_every_few_minutes(tiny_pairs, tmp_path, monkeypatch):
    saved = []
    real_save = loop.save_checkpoint
    monkeypatch.setattr(loop, "save_checkpoint", lambda path, state: saved.append(state["step"]))
    # tiny: 16 train images, batch 4 -> 4 steps per epoch; the defaults checkpoint each epoch
    train(load_config("tiny", ["train.max_steps=10"]), tiny_pairs, tmp_path / "epochs", progress=False)
    assert saved == [4, 8, 10]
    saved.clear()
    cfg = load_config("tiny", ["train.max_steps=3", "train.checkpoint_minutes=1.0e-9"])
    train(cfg, tiny_pairs, tmp_path / "timed", progress=False)
    assert saved == [1, 2, 3]  # the timer runs out after every step
    saved.clear()
    off = ["train.max_steps=6", "train.checkpoint_every_epochs=0", "train.checkpoint_minutes=0"]
    train(load_config("tiny", off), tiny_pairs, tmp_path / "off", progress=False)
    assert saved == [6]  # only at the end
    monkeypatch.setattr(loop, "save_checkpoint", real_save)


def test_every_packaged_config_checkpoints_each_epoch_and_every_few_minutes():
    for name in packaged_configs():
        train_cfg = load_config(name).train
        assert train_cfg.checkpoint_every_epochs == 1, name
        assert 0 < train_cfg.checkpoint_minutes <= 30, name


def test_resume_before_the_first_checkpoint_starts_over(tiny_pairs, tmp_path, monkeypatch, one_thread):
    cfg = load_config("tiny", ["train.max_steps=5"])
    train(cfg, tiny_pairs, tmp_path / "whole", progress=False)
    real_forward = ContrastiveStep.forward

    def crash(self, *args):
        raise Crash("killed in the first step")

    monkeypatch.setattr(ContrastiveStep, "forward", crash)
    with pytest.raises(Crash):
        train(cfg, tiny_pairs, tmp_path / "early", progress=False)
    monkeypatch.setattr(ContrastiveStep, "forward", real_forward)
    assert not (tmp_path / "early" / "checkpoint.pt").exists()
    assert train(cfg, tiny_pairs, tmp_path / "early", resume=True, progress=False)["step"] == 5
    assert_same_run(tmp_path / "whole", tmp_path / "early")


def test_a_kill_while_config_yaml_is_written_is_resumable(tiny_pairs, tmp_path, monkeypatch, one_thread):
    # kill -9 right after the file is created: the file exists but its bytes were never written
    cfg = load_config("tiny", ["train.max_steps=2"])
    train(cfg, tiny_pairs, tmp_path / "whole", progress=False)

    def killed_while_writing(path, data, *args, **kwargs):
        open(path, "wb").close()
        raise Crash(f"killed while writing {path.name}")

    monkeypatch.setattr(Path, "write_text", killed_while_writing)
    monkeypatch.setattr(Path, "write_bytes", killed_while_writing)
    run = tmp_path / "killed"
    with pytest.raises(Crash):
        train(cfg, tiny_pairs, run, progress=False)
    monkeypatch.undo()
    assert not (run / "config.yaml").exists()  # no empty or half config.yaml to refuse the resume
    assert train(cfg, tiny_pairs, run, resume=True, progress=False)["step"] == 2
    assert_same_run(tmp_path / "whole", run)


def test_resuming_with_another_config_or_no_run_is_a_one_line_error(tiny_pairs, tmp_path, capsys):
    run = str(tmp_path / "run")
    args = ["train", "--config", "tiny", "--data", str(tiny_pairs), "--out", run]
    assert main([*args, "--set", "train.max_steps=2"]) == 0
    capsys.readouterr()
    assert main([*args, "--set", "train.max_steps=2", "--set", "train.lr=5.0e-4", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "was started with another config (train.lr: 0.001 in the run, 0.0005 now)" in err
    other = ["train", "--config", "tiny", "--data", str(tiny_pairs), "--out", str(tmp_path / "none")]
    assert main([*other, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no run (no config.yaml)" in err


def _kill_after(cmd: list[str], env: dict, run, steps: int) -> int:
    """Start ``cmd`` and SIGKILL it once ``run`` shows ``steps`` logged steps (0: as soon as the run
    directory exists, so during setup and feature caching); return how many steps it had logged."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while proc.poll() is None and time.time() < deadline:
        if (run / "config.yaml").exists() and _logged_steps(run) >= steps:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"training ended before the kill: {err[-2000:]}"
    return _logged_steps(run)


def _logged_steps(run) -> int:
    path = run / "metrics.jsonl"
    return sum('"event": "train"' in line for line in path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.slow
def test_kill_9_at_a_random_moment_of_a_demo_run_then_resume_matches_uninterrupted(
    tiny_pairs, tmp_path, one_thread
):
    # The demo config as it ships (checkpoints each epoch): 16 train images in batches of 4 give
    # 4 steps per epoch, so a resume may redo at most 4 steps.
    overrides = ["data.batch_size=4", "train.max_steps=10", "train.warmup_steps=1", "train.log_every=1"]
    cache = tmp_path / "cache"
    train(load_config("demo", overrides), tiny_pairs, tmp_path / "whole", cache_dir=cache, progress=False)
    kill_at = random.Random().randint(0, 9)  # 0: before the first step
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ashnet", "train", "--config", "demo", "--data", str(tiny_pairs)]
    cmd += ["--out", str(run), "--cache-dir", str(cache)]
    for o in overrides:
        cmd += ["--set", o]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    done = _kill_after(cmd, env, run, kill_at)
    checkpoint = load_checkpoint(run)["step"] if (run / "checkpoint.pt").exists() else 0
    assert 0 <= done - checkpoint <= 4, (kill_at, done, checkpoint)  # steps the resume redoes
    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
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


@pytest.mark.parametrize("name", ["demo", "task_vqa", "generalist"])
def test_every_stage_takes_the_checkpoint_cadence_of_its_train_section(name):
    """Fine-tuning, multi-task and STUA runs build their schedule from ``train`` like training does,
    so they too checkpoint every epoch and every 10 minutes by default."""
    from ashnet.config import load_config

    train = load_config(name).train
    schedule = loop.Schedule.of(train, batch_size=8, per_epoch=5)
    assert schedule.total_steps == (train.max_steps or train.epochs * 5)
    assert (schedule.checkpoint_every_epochs, schedule.checkpoint_minutes) == (1, 10.0)
    assert schedule.lr == train.lr and schedule.eval_every == train.eval_every
    stua = loop.Schedule.of(train, 4, 0, total_steps=7, lr=0.5)
    assert (stua.total_steps, stua.lr, stua.batch_size, stua.checkpoint_minutes) == (7, 0.5, 4, 10.0)
