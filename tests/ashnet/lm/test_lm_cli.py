"""``ashnet lm`` and ``ashnet eval --task vqa`` from the command line, on a tiny random Llama."""

import json

import pytest

from ashnet.cli import main


@pytest.mark.parametrize("action", ["pretrain-icl", "attach"])
def test_help_has_examples(action, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lm", action, "--help"])
    assert exit_info.value.code == 0
    assert f"ashnet lm {action} --" in capsys.readouterr().out


@pytest.mark.slow
def test_pretrain_attach_and_kshot_eval(tiny_llama, tiny_pairs, tmp_path, capsys):
    from ashnet.config import load_config
    from ashnet.training import train

    train(load_config("tiny"), tiny_pairs, tmp_path / "enc", progress=False)
    lm = ["--lm", str(tiny_llama), "--batch-size", "2", "--lora-rank", "2"]
    assert main(["lm", "pretrain-icl", "--out", str(tmp_path / "icl"), "--steps", "2", *lm]) == 0
    assert "--icl" in capsys.readouterr().out
    args = [
        "lm",
        "attach",
        "--encoder",
        str(tmp_path / "enc"),
        "--icl",
        str(tmp_path / "icl"),
        "--vqa",
        "easy-vqa",
    ]
    assert (
        main([*args, "--limit", "8", "--out", str(tmp_path / "vl"), "--steps", "2", "--tokens", "2", *lm])
        == 0
    )
    capsys.readouterr()
    code = main(
        [
            "eval",
            "--task",
            "vqa",
            "--checkpoint",
            str(tmp_path / "vl"),
            "--data",
            "easy-vqa",
            "--shots",
            "0",
            "2",
            "--limit",
            "4",
            "--seeds",
            "2",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["shots"] for r in out["results"]] == [0, 2] and out["n_questions"] == 4
    assert len(out["results"][1]["per_seed"]) == 2
    first = out["results"][1]
    assert len(first["correct"]) == 4 and 25.0 * sum(first["correct"]) == first["per_seed"][0]


def test_attach_without_data_is_one_line_error(tmp_path, capsys):
    assert main(["lm", "attach", "--encoder", "runs/x", "--out", str(tmp_path / "o")]) == 2
    assert "attach needs training data" in capsys.readouterr().err
