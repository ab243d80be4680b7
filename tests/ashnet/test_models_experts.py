"""Tests of the vision experts of MoVE, their energy per image, and the expert-use figure."""

import pytest
import torch

from ashnet.energy import expert_energy
from ashnet.models import AbstractConfig, MoVEConfig
from ashnet.models.experts import VisionExperts
from ashnet.models.move import MoVE
from ashnet.viz import expert_use

ABSTRACT = AbstractConfig(dim=16, time_steps=2, depth=1, block="mlp", v_threshold=0.5)


def experts(names, spiking_input="tiny_cnn"):
    torch.manual_seed(0)
    return VisionExperts(MoVEConfig(experts=names, spiking_input=spiking_input), ABSTRACT).eval()


def test_experts_give_tokens_on_one_grid_and_spiking_reads_its_input():
    ex = experts(("tiny_cnn", "colour_histogram", "spiking"))
    assert ex.widths == {"tiny_cnn": 128, "colour_histogram": 64, "spiking": 16}
    images = torch.rand(2, 3, 64, 64)
    tokens = ex(images)
    assert list(tokens) == ["tiny_cnn", "colour_histogram", "spiking"]
    assert tokens["tiny_cnn"].shape == (2, 64, 128)  # tiny_cnn has stride 8
    assert tokens["colour_histogram"].shape == (2, 4, 64)
    rates = tokens["spiking"]
    assert rates.shape == (2, 64, 16) and ((rates * 2) == (rates * 2).round()).all()  # k/T spike rates
    expected = ex.spiking(ex.backbones["tiny_cnn"](images).tokens).spikes.mean(0)
    torch.testing.assert_close(rates, expected)


def test_spiking_input_is_built_but_not_an_expert_and_backbones_are_frozen():
    ex = experts(("spiking",), spiking_input="colour_histogram")
    assert set(ex.backbones) == {"colour_histogram"} and list(ex(torch.rand(1, 3, 64, 64))) == ["spiking"]
    assert all(not p.requires_grad for p in ex.backbones.parameters())
    assert all(p.requires_grad for p in ex.spiking.parameters())


def test_cached_backbone_tokens_give_the_same_experts_and_feed_move():
    ex = experts(("colour_histogram", "spiking"))
    images = torch.rand(3, 3, 64, 64)
    cached = ex.backbone_tokens(images)
    torch.testing.assert_close(ex.forward_tokens(cached)["spiking"], ex(images)["spiking"])
    move = MoVE(MoVEConfig(experts=ex.names, dim=8, grid=2), ex.widths, text_dim=5, num_tasks=2)
    out = move(ex.forward_tokens(cached), torch.tensor([0, 1, 1]), torch.randn(3, 5))
    assert out.tokens.shape == (3, 4, 8)


def test_expert_energy_counts_each_expert_on_its_own():
    ex = experts(("tiny_cnn", "colour_histogram", "spiking"))
    reports = expert_energy(ex, torch.rand(4, 3, 32, 32), batch_size=3)
    assert set(reports) == {"tiny_cnn", "colour_histogram", "spiking"}
    assert reports["tiny_cnn"].macs > 0 and reports["tiny_cnn"].sops == 0
    assert reports["colour_histogram"].energy_pj == 0  # elementwise work and pooling only
    spiking = reports["spiking"]
    assert spiking.sops > 0  # the spiking blocks' synapses are driven by spikes
    assert all(r.name.split(".")[0] in ("input", "blocks", "(model)") for r in spiking.layers)


def test_expert_use_figure(tmp_path):
    weights = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    fig = expert_use(
        weights,
        ["vqa", "count"],
        ["lite0", "hog", "spiking"],
        {"lite0": 80.0, "hog": 0.0, "spiking": 1.5},
        path=tmp_path / "use.png",
    )
    assert (tmp_path / "use.png").stat().st_size > 1000
    assert len(fig.axes) == 3  # heatmap, its colour bar, energy bars
    with pytest.raises(ValueError, match="n_tasks, n_experts"):
        expert_use(weights.T, ["vqa", "count"], ["lite0", "hog", "spiking"])


def test_backbone_tokens_are_cached_once_per_backbone(tiny_pairs, tmp_path):
    from ashnet.data import ImageTextDataset, load_pairs
    from ashnet.models import ConcreteConfig, ConcreteEncoder
    from ashnet.training.features import cache_backbone_tokens

    table = load_pairs(tiny_pairs).split("val")
    ex = experts(("tiny_cnn", "colour_histogram", "spiking"))
    cached = cache_backbone_tokens(ex.backbones, table, 32, 3, "cpu", tmp_path, progress=False)
    images = torch.stack([ImageTextDataset(table, image_size=32)[i][0] for i in range(len(table.images))])
    live = ex.backbone_tokens(images)
    for name in ("tiny_cnn", "colour_histogram"):
        torch.testing.assert_close(cached[name].tokens, live[name])
    assert len(list(tmp_path.glob("images-*.pt"))) == 2
    again = cache_backbone_tokens(ex.backbones, table, 32, 3, "cpu", tmp_path, progress=False)
    assert torch.equal(again["tiny_cnn"].tokens, cached["tiny_cnn"].tokens)
    with pytest.raises(ValueError, match="trained"):
        trained = {"tiny_cnn": ConcreteEncoder(ConcreteConfig(backbone="tiny_cnn"))}
        cache_backbone_tokens(trained, table, 32, 3, "cpu", None, progress=False)


def test_mixed_vision_gives_a_concrete_output_of_the_mixed_tokens():
    from ashnet.models.experts import MixedVision

    torch.manual_seed(0)
    cfg = MoVEConfig(experts=("colour_histogram", "spiking"), spiking_input="tiny_cnn", dim=12, grid=2)
    vision = MixedVision(cfg, ABSTRACT, text_dim=5, num_tasks=3).eval()
    cached = vision.experts.backbone_tokens(torch.rand(2, 3, 64, 64))
    task, text = torch.tensor([0, 2]), torch.randn(2, 5)
    concrete, routed = vision(cached, task, text)
    assert concrete.tokens.shape == (2, 4, 12) and routed.weights.shape == (2, 2)
    torch.testing.assert_close(concrete.pooled, concrete.tokens.mean(1))
    torch.testing.assert_close(
        concrete.tokens, vision.move(vision.experts.forward_tokens(cached), task, text).tokens
    )
