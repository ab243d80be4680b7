"""Hostile inputs reach the user through the CLI as one-line errors (exit 2) or counted, listed skips."""

import re
import shutil

import pytest

from ashnet.cli import main

PROGRESS_BAR = re.compile(r"\d+/\d+ \[")


def one_line_error(capsys, command, *words):
    """stderr ends with one ``ashnet COMMAND: error:`` line naming the problem (then only the
    indented list of bad rows, if any, and progress bars), and holds no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    head, marker, rest = err.rpartition(f"ashnet {command}: error: ")
    assert marker and marker not in head, err
    _, *listed = rest.rstrip("\n").split("\n")
    listed = [line for line in listed if not PROGRESS_BAR.search(line)]  # closed after the error
    assert all(line.startswith("  ") for line in listed), rest
    for word in words:
        assert word in rest, (word, rest)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "file is empty; expected columns image,caption"),
        (b"path,text\nimg00.png,red\n", "no 'image' column"),
        (b"image,caption\nimg00.png,caf\xe9\n", "no usable image-caption rows; 1 bad row(s)"),
    ],
    ids=["empty CSV", "no image column", "only non-UTF-8 captions"],
)
def test_train_on_an_unusable_pairs_file_is_a_one_line_error(tmp_path, capsys, content, message):
    data = tmp_path / "pairs.csv"
    data.write_bytes(content)
    argv = ["train", "--config", "tiny", "--data", str(data), "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    one_line_error(capsys, "train", str(data), message)


@pytest.mark.parametrize(
    "yaml_text, overrides, message",
    [
        ("model:\n  abstract:\n    time_stepz: 4\n", [], "unknown config key 'model.abstract.time_stepz'"),
        ("seed: 0\n", ["--set", "model.abstract.time_steps=0"], "time_steps' must be >= 1, got 0"),
    ],
    ids=["unknown key in YAML", "T=0"],
)
def test_train_with_a_bad_config_file_is_a_one_line_error(
    tiny_pairs, tmp_path, capsys, yaml_text, overrides, message
):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    argv = ["train", "--config", str(config), "--data", str(tiny_pairs), "--out", str(tmp_path / "run")]
    assert main([*argv, *overrides]) == 2
    one_line_error(capsys, "train", message)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_data_check_counts_and_lists_hostile_rows_or_fails_on_them(
    tiny_pairs, tmp_path, capsys, hostile_images
):
    folder = tmp_path / "pairs"
    shutil.copytree(tiny_pairs.parent, folder)
    data = folder / "pairs.csv"
    rows = []
    for kind, (make, _) in hostile_images.items():
        name = f"{kind.replace(' ', '_')}.png"
        make(folder / name)
        rows.append(f"{name},{kind},train")
    with open(data, "ab") as f:
        f.write(("\n".join(rows) + "\n").encode() + b"img00.png,caf\xe9 au lait,train\n")
    n_lines = len(data.read_bytes().splitlines())
    bad_lines = range(n_lines - len(hostile_images), n_lines + 1)  # the image rows, then the caption row

    assert main(["data", "check", str(data), "--verify-images"]) == 0
    out = capsys.readouterr().out
    assert f"bad rows: {len(hostile_images) + 1}" in out
    listed = [row.strip() for row in out.splitlines() if re.match(rf"\s+{re.escape(str(data))}:\d", row)]
    messages = [message for _, message in hostile_images.values()] + ["not valid UTF-8"]
    assert len(listed) == len(messages)
    for row, line, message in zip(listed, bad_lines, messages, strict=True):
        assert row.startswith(f"{data}:{line}: ") and message in row, row
    assert "train: 16 images" in out  # the good rows are all kept

    assert main(["data", "check", str(data), "--verify-images", "--on-bad-row", "error"]) == 2
    one_line_error(capsys, "data", f"{len(hostile_images) + 1} bad row(s)")


@pytest.mark.slow
def test_training_on_an_unverified_corrupt_image_names_the_file(tiny_pairs, tmp_path, capsys, hostile_images):
    folder = tmp_path / "pairs"
    shutil.copytree(tiny_pairs.parent, folder)
    broken = folder / "img05.png"
    hostile_images["corrupt"][0](broken)
    argv = ["train", "--config", "tiny", "--data", str(folder / "pairs.csv"), "--out", str(tmp_path / "run")]
    assert main([*argv, "--set", "train.max_steps=4"]) == 2
    one_line_error(capsys, "train", "cannot be read", str(broken))
