"""``ashnet viz`` and ashnet.viz: spike, retrieval and training-curve figures of a tiny trained run."""

import json

import pytest
import torch

from ashnet.cli import main
from ashnet.viz import image_to_text_grid, text_to_image_grid, training_curves

FIGURES = ["spike_raster", "firing_rates", "membrane", "retrieval_image_to_text", "retrieval_text_to_image"]


@pytest.mark.slow
def test_cli_writes_every_figure(tiny_mlp_run, tiny_pairs, tmp_path, capsys):
    out = tmp_path / "figures"
    argv = ["viz", "--checkpoint", str(tiny_mlp_run), "--data", str(tiny_pairs), "--out", str(out)]
    assert main(argv + ["--format", "svg", "--k", "2", "--queries", "2"]) == 0
    for name in FIGURES + ["training_curves"]:
        assert (out / f"{name}.svg").read_text().lstrip().startswith("<?xml"), name
    assert f"wrote {out / 'membrane.svg'}" in capsys.readouterr().out


def test_bad_counts_are_one_line_errors(tiny_mlp_run, tiny_pairs, tmp_path, capsys):
    argv = [
        "viz",
        "--checkpoint",
        str(tiny_mlp_run),
        "--data",
        str(tiny_pairs),
        "--out",
        str(tmp_path),
        "--k",
        "0",
    ]
    assert main(argv) == 2
    assert "--k and --queries must be at least 1" in capsys.readouterr().err


def _toy_retrieval():
    images = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    captions = ["a red square", "red box", "a green disc", "a blue bar"]
    text_image = torch.tensor([0, 0, 1, 2])
    similarity = torch.tensor([[0.9, 0.1, 0.5, 0.2], [0.3, 0.2, 0.1, 0.8], [0.1, 0.0, 0.2, 0.7]])
    return images, captions, similarity, text_image


def test_image_to_text_grid_lists_the_best_captions_and_marks_the_right_ones():
    images, captions, similarity, text_image = _toy_retrieval()
    fig = image_to_text_grid(images, captions, similarity, text_image, queries=[0, 1], k=3)
    lines = [t.get_text() for t in fig.axes[1].texts]
    assert [line.split("  ")[-1] for line in lines] == ["a red square", "a green disc", "a blue bar"]
    assert lines[0].startswith("1. ✓ +0.90") and "✗" in lines[1]
    second = [t.get_text() for t in fig.axes[3].texts]
    assert second[0].startswith("1. ✗ +0.80")  # image 1's best caption belongs to image 2


def test_text_to_image_grid_frames_the_captions_own_image():
    images, captions, similarity, text_image = _toy_retrieval()
    fig = text_to_image_grid(images, captions, similarity, text_image, queries=[3], k=2)
    titles = [ax.get_title() for ax in fig.axes[1:]]
    assert titles == ["1.  +0.80", "2. ✓ +0.70"]  # caption 3 is image 2's, but image 1 scores higher
    assert [ax.spines["top"].get_linewidth() for ax in fig.axes[1:]] == [1, 4]
    assert fig.axes[0].texts[0].get_text() == "a blue bar"


def test_training_curves_plot_each_loss_and_refuse_missing_files(tmp_path):
    events = [
        {"event": "train", "step": s, "total": 3.0 - s, "itc": 2.0 - s / 2, "lr": 1e-3 * s} for s in (1, 2, 3)
    ] + [{"event": "eval", "step": 3, "i2t_r1": 40.0, "t2i_r1": 30.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    fig = training_curves(tmp_path, path=tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
    ax_loss, ax_lr, ax_recall = fig.axes
    assert [line.get_label() for line in ax_loss.lines] == ["total", "itc"]
    assert list(ax_loss.lines[0].get_ydata()) == [2.0, 1.0, 0.0]
    assert [line.get_label() for line in ax_recall.lines] == ["i2t_r1", "t2i_r1"]
    with pytest.raises(FileNotFoundError, match="no metrics file"):
        training_curves(tmp_path / "missing")

    other = tmp_path / "other"
    other.mkdir()
    (other / "metrics.jsonl").write_text(
        json.dumps({"event": "train", "step": 1, "itc": 1.5, "lr": 0.1}) + "\n"
    )
    fig = training_curves({"ASH-Net": tmp_path, "baseline": other})  # runs compared: one colour each
    ax_loss, ax_lr, ax_recall = fig.axes
    assert [line.get_label() for line in ax_loss.lines] == ["ASH-Net itc", "baseline itc"]
    assert [line.get_color() for line in ax_loss.lines] == ["C0", "C1"] and len(ax_lr.lines) == 2
    assert [line.get_label() for line in ax_recall.lines] == ["ASH-Net i2t_r1", "ASH-Net t2i_r1"]
