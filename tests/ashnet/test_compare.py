"""Comparing runs over seeds: R@1 hits, mean ± sd, ensembles, the paired bootstrap and ``ashnet compare``."""

import json

import pytest
import torch

from ashnet.cli import main
from ashnet.compare import Hits, _hits, compare_groups, paired_bootstrap, summarise, table
from ashnet.config import load_config
from ashnet.evaluate import recall_at_k
from ashnet.training import train


def hits(i2t, t2i=None, text_image=None):
    i2t = torch.tensor(i2t, dtype=torch.float32)
    t2i = i2t.clone() if t2i is None else torch.tensor(t2i, dtype=torch.float32)
    owner = torch.arange(len(i2t)) if text_image is None else torch.tensor(text_image)
    return Hits(i2t, t2i, owner)


def test_hits_agree_with_recall_at_k():
    sim = torch.randn(7, 9, generator=torch.Generator().manual_seed(0))
    owner = torch.tensor([0, 1, 2, 3, 4, 5, 6, 2, 5])
    h = _hits(sim, owner)
    recall = recall_at_k(sim, owner)
    assert h.r1() == pytest.approx((recall["i2t"]["r1"], recall["t2i"]["r1"]))


def test_summary_is_mean_and_sample_sd_over_seeds():
    s = summarise([hits([1, 1, 0, 0]), hits([1, 0, 0, 0])])
    assert s["i2t"][0] == pytest.approx(37.5) and s["i2t"][1] == pytest.approx(17.6777, rel=1e-4)
    assert s["mean"][0] == pytest.approx(37.5)


def test_paired_bootstrap_interval():
    n = 200
    good, bad = hits([1] * n), hits([0] * n)
    assert paired_bootstrap([good], [bad], resamples=50) == (100.0, 100.0, 100.0)
    half = hits([1, 0] * (n // 2))
    assert paired_bootstrap([half], [half], resamples=50) == (0.0, 0.0, 0.0)  # paired: no spread
    # b gets 10 % of the items that a gets right wrong: a clear, paired difference.
    a = hits([1] * 100 + [0] * 100)
    b = hits([1] * 80 + [0] * 120)
    d, lo, hi = paired_bootstrap([a], [b], resamples=500)
    assert d == pytest.approx(10.0) and 0 < lo < d < hi < 20
    # Unpaired-looking noise (a and b right on different items) gives an interval around 0.
    c = hits([0] * 100 + [1] * 100)
    d, lo, hi = paired_bootstrap([a], [c], resamples=500)
    assert d == 0 and lo < 0 < hi
    with pytest.raises(ValueError, match="different image sets"):
        paired_bootstrap([a], [hits([1, 0])])


def test_table_lists_groups_and_differences():
    groups = {"x": [hits([1, 1, 0, 1]), hits([1, 0, 1, 1])], "y": [hits([0, 1, 0, 0]), hits([0, 0, 0, 1])]}
    result = compare_groups(groups, reference="x", resamples=100)
    assert result["y"]["reference_minus_this"]["diff"] == pytest.approx(50.0)
    text = table(result, "x")
    assert "| x | 2 | 75.0 ± 0.0" in text and "| y | 2 | 25.0 ± 0.0" in text and "+50.0 [" in text


@pytest.mark.slow
def test_cli_compare_groups_seeds_and_ensembles(tiny_pairs, tmp_path, capsys):
    for seed in (0, 1):
        for name, extra in (
            ("hybrid", []),
            ("ann", ["model.abstract.enabled=false", "loss.st.enabled=false"]),
        ):
            overrides = ["train.max_steps=2", f"seed={seed}", "loss.stua.enabled=false", *extra]
            train(load_config("tiny", overrides), tiny_pairs, tmp_path / f"s{seed}" / name, progress=False)
    runs = [str(p) for p in sorted(tmp_path.glob("s*/*"))]
    args = ["compare", *runs, "--data", f"tiny={tiny_pairs}", "--reference", "hybrid", "--resamples", "50"]
    assert main([*args, "--ensemble", "hybrid+ann", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["tiny"]
    assert set(result) == {"hybrid", "ann", "ensemble"}
    assert result["ann"]["seeds"] == result["ensemble"]["seeds"] == 2
    assert "reference_minus_this" in result["ann"] and "reference_minus_this" not in result["hybrid"]
    assert all((tmp_path / "s0" / n / "embeddings").is_dir() for n in ("hybrid", "ann"))
    assert main(args) == 0  # again, from the stored embeddings
    assert "## tiny (test)" in capsys.readouterr().out
    assert main([*args, "--ensemble", "hybrid+nope"]) == 2
    assert "--ensemble hybrid+nope" in capsys.readouterr().err
