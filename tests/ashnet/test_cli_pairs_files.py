"""Pairs files as users have them: extra columns, other column names, through data check, train and eval."""

import csv

from ashnet.cli import main
from ashnet.config import load_config


def _rows(tiny_pairs):
    with open(tiny_pairs, newline="") as f:
        return list(csv.DictReader(f))


def test_data_check_reads_a_csv_with_extra_columns_and_lists_them_once(tiny_pairs, capsys):
    path = tiny_pairs.parent / "extra.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "caption", "split", "group", "subgroup", "source"])  # issue 10's file
        for i, row in enumerate(_rows(tiny_pairs)):
            writer.writerow([row["image"], row["caption"], row["split"], f"g{i % 3}", f"s{i}", "shapes"])
    assert main(["data", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("ignored columns: group, subgroup, source\n") == 1
    assert "24 images, 30 captions" in out and "bad rows: 0" in out


def test_train_and_eval_with_other_column_names(tiny_pairs, tmp_path, capsys):
    path = tiny_pairs.parent / "renamed.tsv"  # CC3M-style names, and a column to ignore
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["url", "title", "filepath", "subset"])
        for row in _rows(tiny_pairs):
            writer.writerow(["http://example.org/x", row["caption"], row["image"], row["split"]])
    keys = ["--image-key", "filepath", "--caption-key", "title", "--split-key", "subset"]
    assert main(["data", "check", str(path), *keys]) == 0
    out = capsys.readouterr().out
    assert "train: 16 images" in out and "ignored columns: url" in out
    run = tmp_path / "run"
    train = ["train", "--config", "tiny", "--data", str(path), "--out", str(run)]
    train += ["--set", "train.max_steps=1"]
    assert main([*train, *keys]) == 0
    data = load_config(run / "config.yaml").data
    assert (data.image_key, data.caption_key, data.split_key) == ("filepath", "title", "subset")
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(run), "--data", str(path), "--json"]) == 0  # the run's keys
    assert '"n_images": 4' in capsys.readouterr().out
    assert main(["data", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{path}: no 'image' column (name the one to use with --image-key); its columns: " in err
    assert "url, title, filepath, subset" in err
