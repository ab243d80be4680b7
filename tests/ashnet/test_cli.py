"""The ashnet command line: config, train, eval --json, pretrain-stua, resume, demo, help and error paths."""

import json

import pytest

from ashnet.cli import COMMANDS, build_parser, main
from ashnet.config import load_config


def test_config_list_and_show(capsys):
    assert main(["config", "list"]) == 0
    tasks = [f"task_{t}" for t in ("count", "grounding", "itm", "nlvr2", "ve", "vqa")]
    names = ["baseline", "demo", "generalist", "mome", "multilingual", *tasks, "tiny", "twin"]
    assert capsys.readouterr().out.split() == names
    assert main(["config", "show", "tiny"]) == 0
    text = capsys.readouterr().out
    assert "time_steps: 2" in text and "hard_negative_beta" in text
    assert main(["config", "show", "nope"]) == 2
    assert "neither a file nor a packaged config" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["config", "train", "eval", "pretrain-stua", "finetune", "demo", "compare"]
)
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert "examples:" in capsys.readouterr().out
    assert command.replace("-", "_") in COMMANDS


@pytest.mark.slow
def test_train_eval_json_pretrain_and_resume(tiny_pairs, tmp_path, capsys):
    data = str(tiny_pairs)
    stua = tmp_path / "stua"
    pretrain = ["pretrain-stua", "--config", "tiny", "--data", data, "--out", str(stua)]
    pretrain += ["--set", "stua.steps=2"]
    assert main(pretrain) == 0
    run = tmp_path / "run"
    args = ["train", "--config", "tiny", "--data", data, "--out", str(run), "--set", "train.max_steps=2"]
    assert main([*args, "--init", str(stua / "checkpoint.pt")]) == 0
    assert load_config(run / "config.yaml").train.init == str(stua / "checkpoint.pt")
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(run), "--data", data, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"i2t", "t2i", "n_images", "n_texts", "firing_rate"}
    assert set(result["i2t"]) == set(result["t2i"]) == {"r1", "r5", "r10"}
    assert (result["n_images"], result["n_texts"]) == (4, 5)  # test split: 4 images, one has 2 captions
    assert 0 <= result["i2t"]["r1"] <= result["i2t"]["r5"] <= result["i2t"]["r10"] <= 100
    assert result["firing_rate"] >= 0
    assert main(["eval", "--checkpoint", str(run), "--data", data, "--split", "val", "--zero-shot"]) == 0
    out = capsys.readouterr().out
    assert "val: 4 images" in out and "zero-shot accuracy" in out and "firing rate" in out
    # resuming a finished run is a no-op that keeps its metrics; the config comes from the run
    assert main(["train", "--data", data, "--out", str(run), "--resume"]) == 0
    assert "trained 2 steps" in capsys.readouterr().out


def test_user_errors_are_one_line(tiny_pairs, tmp_path, capsys):
    data = str(tiny_pairs)
    out = str(tmp_path / "run")
    assert main(["train", "--config", "tiny", "--data", data, "--out", out, "--set", "train.lr_max=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'train.lr_max'" in err and "Traceback" not in err
    assert main(["train", "--data", data, "--out", out]) == 2
    assert "--config is required" in capsys.readouterr().err
    assert main(["train", "--data", data, "--out", out, "--resume"]) == 2
    assert "config" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", out, "--data", data]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert (
        main(["train", "--config", "tiny", "--data", data, "--out", out, "--set", "data.batch_size=64"]) == 2
    )
    assert "cannot fill one batch" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_demo_trains_every_control_over_seeds_and_reports(tiny_pairs, tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--quick", "--data", str(tiny_pairs.parent), "--out", str(out), "--seeds", "2"]
    assert main([*argv, "--cross", f"again={tiny_pairs}", "--set", "stua.steps=2"]) == 0
    printed = capsys.readouterr().out
    assert "| metric | ASH-Net | ANN baseline | ANN twin |" in printed and "i2t R@1" in printed
    for name in ("ASH-Net", "ANN baseline", "ANN twin", "ensemble of 2 baselines"):
        assert f"| {name} | 2 | " in printed
    assert "OpenMoji test, R@1 over 2 seed(s)" in printed and "again test" in printed
    report = (out / "report.md").read_text()
    assert "firing rate" in report and "(no SNN)" in report and "paired bootstrap" in report
    for name in ("curves.png", "comparison.png"):
        assert (out / name).stat().st_size > 1000
    for seed, name in ((0, "ashnet"), (1, "twin"), (1, "baseline-b")):
        assert (out / f"seed{seed}" / name / "checkpoint.pt").is_file()
    assert load_config(out / "seed1" / "baseline-b" / "config.yaml").seed == 1001
    assert (out / "seed0" / "ashnet" / "stua" / "checkpoint.pt").is_file()  # the STUA stage
    assert (out / "seed1" / "twin" / "stua" / "checkpoint.pt").is_file()
    assert not (out / "seed0" / "baseline" / "stua").exists()
