"""The easy-VQA builder: every image and question of the package, val held out of train, read as a task."""

from __future__ import annotations

import easy_vqa
import pytest

from ashnet.cli import main
from ashnet.data import build_easy_vqa, load_manifest, load_task


@pytest.mark.slow  # copies 5,000 small PNGs
def test_build_reads_as_a_vqa_task_file(tmp_path, capsys):
    path = build_easy_vqa(tmp_path, progress=False)
    assert load_manifest(tmp_path)["splits"] == {"train": 3600, "val": 400, "test": 1000}
    splits = {s: load_task(path, "vqa", s, on_bad_row="error") for s in ("train", "val", "test")}
    n_train, n_test = len(easy_vqa.get_train_questions()[0]), len(easy_vqa.get_test_questions()[0])
    assert len(splits["train"]) + len(splits["val"]) == n_train and len(splits["test"]) == n_test
    assert not set(splits["train"].images) & set(splits["val"].images)
    answers = {e.target for data in splits.values() for e in data.examples}
    assert answers == set(easy_vqa.get_answers())
    for example in splits["test"].examples:
        kind = "yes/no" if example.target in ("yes", "no") else None
        assert example.type == kind or (kind is None and example.type in ("shape", "color"))
    stamp = path.stat().st_mtime_ns
    assert main(["data", "build", "easy-vqa", "--out", str(tmp_path)]) == 0  # cached
    assert path.stat().st_mtime_ns == stamp and "5000 images" in capsys.readouterr().out
    assert main(["data", "build", "easy-vqa", "--out", str(tmp_path), "--size", "32"]) == 2
