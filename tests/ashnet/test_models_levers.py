"""The levers of the spiking branch: backbone levels as a token grid (together or in a time cascade),
the input gain, hard-sample augmentation, and the ANN twin of each."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from ashnet.config import AbstractConfig, ConcreteConfig, ConfigError, ModelConfig, TextConfig, load_config
from ashnet.demo import twin_of
from ashnet.energy import ann_twin
from ashnet.export import export_pt2, spiking_core
from ashnet.models import AbstractEncoder, ConcreteEncoder, build_model
from ashnet.models.abstract import pool_onto_grid, repeat_onto_grid
from ashnet.models.concrete import stage_grid
from ashnet.models.heads import TaskModel

# timm's test_efficientnet (random weights): at 64 px the final map is 2x2 (64 channels after the
# head), level 2 is 8x8 (32 channels) and level 3 is 4x4 (48 channels).
BACKBONE = "test_efficientnet"


def images(b=4, size=64, seed=0):
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(seed))


def lever_config(text_dir, **abstract) -> ModelConfig:
    abstract = {"dim": 16, "depth": 1, "block": "mlp", "time_steps": 4, "neuron": "lif", **abstract}
    return ModelConfig(
        concrete=ConcreteConfig(backbone=BACKBONE, freeze=True),
        abstract=AbstractConfig(**abstract),
        text=TextConfig(path=text_dir, max_length=12),
        embed_dim=8,
    )


# --- backbone levels -------------------------------------------------------------------------


def test_stage_grid_puts_every_level_at_each_place_of_the_finest():
    fine = torch.randn(2, 3, 4, 4)
    coarse = torch.randn(2, 5, 2, 2)
    grid = stage_grid([fine, coarse])
    assert grid.shape == (2, 16, 8)
    for i in range(4):
        for j in range(4):
            torch.testing.assert_close(grid[:, 4 * i + j, :3], fine[:, :, i, j])
            torch.testing.assert_close(grid[:, 4 * i + j, 3:], coarse[:, :, i // 2, j // 2])


def test_repeat_onto_grid_is_nearest_neighbour_and_refuses_non_square_maps():
    tokens = torch.randn(2, 4, 3)  # a 2x2 map
    out = repeat_onto_grid(tokens, 16)
    for i in range(4):
        for j in range(4):
            torch.testing.assert_close(out[:, 4 * i + j], tokens[:, 2 * (i // 2) + j // 2])
    assert torch.equal(repeat_onto_grid(tokens, 4), tokens)
    with pytest.raises(ValueError, match="square"):
        repeat_onto_grid(torch.randn(2, 6, 3), 16)
    with pytest.raises(ValueError, match="at least as fine"):
        repeat_onto_grid(tokens, 1)


def test_pool_onto_grid_averages_blocks_and_undoes_the_repeat():
    tokens = torch.randn(2, 16, 3)  # a 4x4 map
    out = pool_onto_grid(tokens, 4)
    torch.testing.assert_close(out[:, 1], tokens[:, [2, 3, 6, 7]].mean(1))  # the top-right 2x2 block
    torch.testing.assert_close(pool_onto_grid(repeat_onto_grid(out, 16), 4), out)
    with pytest.raises(ValueError, match="at least as coarse"):
        pool_onto_grid(out, 16)


def test_concrete_encoder_adds_the_chosen_levels_as_a_grid():
    cfg = ConcreteConfig(backbone=BACKBONE, freeze=True)
    plain, staged = ConcreteEncoder(cfg), ConcreteEncoder(cfg, stages=(2, 3))
    staged.load_state_dict(plain.state_dict())
    x = images(2)
    a, b = plain(x), staged(x)
    assert a.grid is None and staged.stage_dims == (32, 48)
    torch.testing.assert_close(b.tokens, a.tokens)  # the final tokens do not change
    assert b.grid.shape == (2, 64, 80)
    _, maps = staged.backbone.forward_intermediates((x - staged.mean) / staged.std, indices=[2, 3])
    torch.testing.assert_close(b.grid, stage_grid(maps))
    with pytest.raises(ValueError, match="feature levels 0-4"):
        ConcreteEncoder(cfg, stages=(7,))
    with pytest.raises(ValueError, match="timm CNN"):
        ConcreteEncoder(ConcreteConfig(backbone="tiny_cnn"), stages=(1,))


def test_stage_config_rules():
    with pytest.raises(ConfigError, match="increasing"):
        AbstractConfig(stages=(3, 2))
    with pytest.raises(ConfigError, match="'cascade'"):
        AbstractConfig(stage_timing="cascade")  # no levels to cascade
    with pytest.raises(ConfigError, match="time_steps >= 3"):
        AbstractConfig(stages=(2, 3), stage_timing="cascade", time_steps=2)
    with pytest.raises(ConfigError, match="'cascade'"):  # the twin runs once, so it cannot cascade
        AbstractConfig(stages=(3,), stage_timing="cascade", neuron="gelu", time_steps=1)


def _level_inputs(encoder, tokens, grid):
    """What each level should feed, computed by hand: LayerNorm of its own projection."""
    split = grid.split([m.in_features for m in encoder.stage_inputs], dim=-1)
    levels = [m(x) for m, x in zip(encoder.stage_inputs, split, strict=True)]
    return levels + [repeat_onto_grid(encoder.input(tokens), grid.shape[1])]


def test_levels_sum_together_or_drive_their_own_time_windows():
    tokens, grid = torch.randn(2, 4, 12), torch.randn(2, 16, 5 + 7)
    cfg = AbstractConfig(dim=8, depth=1, block="mlp", time_steps=5, stages=(1, 2))
    together = AbstractEncoder(cfg, 12, stage_dims=(5, 7))
    cascade = AbstractEncoder(dataclasses.replace(cfg, stage_timing="cascade"), 12, stage_dims=(5, 7))
    cascade.load_state_dict(together.state_dict())
    with torch.no_grad():
        levels = _level_inputs(together, tokens, grid)
        x = together.encode(tokens, grid=grid)
        assert x.shape == (5, 2, 16, 8)
        for t in range(5):
            torch.testing.assert_close(x[t], together.input_norm(sum(levels)))
        x = cascade.encode(tokens, grid=grid)
        windows = [[0, 1], [2, 3], [4]]  # 5 steps over 3 levels, earliest level first
        for level, steps in zip(levels, windows, strict=True):
            for t in steps:
                torch.testing.assert_close(x[t], cascade.input_norm(level))
        # captions through STUA have no grid: the final tokens' projection alone, at every step
        torch.testing.assert_close(cascade.encode(tokens)[3], cascade.input_norm(cascade.input(tokens)))
    out = cascade(tokens, grid=grid)
    assert out.spikes.shape == (5, 2, 16, 8) and out.readout.shape == (2, 8)
    with pytest.raises(ValueError, match="stage grid must be"):
        cascade(tokens, grid=torch.randn(2, 16, 11))
    with pytest.raises(ValueError, match="spiking tokens"):
        cascade(tokens, mask=torch.ones(2, 4, dtype=torch.bool), grid=grid)


def test_model_reads_the_grid_and_its_twin_matches_its_parameters(tiny_text_dir):
    cfg = lever_config(tiny_text_dir, stages=(2,), stage_timing="cascade")
    model = build_model(cfg).eval()
    concrete = model.encode_concrete(images())
    emb = model.embed_image(concrete)
    assert emb.spikes.shape == (4, 4, 64, 16)  # T, B, the 8x8 grid of level 2, D
    with_grid = model.abstract(concrete.tokens, grid=concrete.grid).readout
    torch.testing.assert_close(
        model.abstract_proj(with_grid), model._abstract_embedding(concrete.tokens, grid=concrete.grid)[0]
    )
    assert not torch.allclose(with_grid, model.abstract(concrete.tokens).readout)  # the levels count
    analog = dict(neuron="gelu", time_steps=1, stage_timing="together")  # what twin_of sets
    twin = build_model(dataclasses.replace(cfg, abstract=dataclasses.replace(cfg.abstract, **analog)))
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in twin.state_dict().items()} == shapes
    assert twin.embed_image(twin.encode_concrete(images())).spikes.shape == (1, 4, 64, 16)
    # the energy meter's twin (the trained model's weights, analog) sums the levels as twin_of does
    twin.load_state_dict(model.state_dict())
    x = images()
    torch.testing.assert_close(
        ann_twin(model).encode_image(x).embedding, twin.eval().encode_image(x).embedding
    )


def test_grounding_pairs_each_image_token_with_the_spike_rates_of_its_grid_block(tiny_text_dir):
    model = build_model(lever_config(tiny_text_dir, stages=(2,), stage_timing="cascade")).eval()
    task_model = TaskModel(model, "grounding", hidden=8)
    concrete = model.encode_concrete(images(2))
    text = model.encode_text_features(["a red square", "a blue disc"])
    _, _, tokens, rates = task_model.embed(concrete, text)
    spikes = model.embed_image(concrete).spikes  # on the 8x8 grid of level 2
    assert tokens.shape[1] == 4 and rates.shape == (2, 4, 16)  # the 2x2 final map
    torch.testing.assert_close(rates, pool_onto_grid(spikes.mean(0), 4))
    scores, boxes = task_model([concrete], text)
    assert scores.shape == (2, 4) and boxes.shape == (2, 4, 4)


def test_twin_of_a_cascade_config_sums_the_levels():
    demo = load_config("demo", ["model.abstract.stages=[3]", "model.abstract.stage_timing=cascade"])
    twin = twin_of(demo)
    assert twin.model.abstract.stage_timing == "together" and twin.model.abstract.stages == (3,)
    assert twin.model.abstract.time_steps == 1 and twin.model.abstract.neuron == "gelu"


def test_models_with_levels_are_refused_for_export(tiny_text_dir):
    model = build_model(lever_config(tiny_text_dir, stages=(3,))).eval()
    with pytest.raises(ValueError, match="model.abstract.stages"):
        spiking_core(model)
    with pytest.raises(ValueError, match="model.abstract.stages"):
        export_pt2(model, images(1), "unused")


# --- input gain -----------------------------------------------------------------------------


def test_input_gain_sets_the_first_scale_and_raises_the_firing_rate():
    tokens = torch.randn(8, 16, 12, generator=torch.Generator().manual_seed(1))
    rates = []
    for gain in (1.0, 3.0):
        torch.manual_seed(0)
        cfg = AbstractConfig(dim=32, depth=1, block="mlp", time_steps=4, neuron="lif", input_gain=gain)
        encoder = AbstractEncoder(cfg, 12).eval()
        assert torch.equal(encoder.input_norm.weight, torch.full((32,), gain))
        rates.append(float(encoder(tokens).firing_rate))
    assert rates[1] > rates[0] + 0.02
    with pytest.raises(ConfigError, match="input_gain"):
        AbstractConfig(input_gain=0)


# --- hard-sample augmentation -----------------------------------------------------------------


def test_hard_mix_moves_each_input_towards_its_most_similar_neighbour(tiny_text_dir):
    model = build_model(lever_config(tiny_text_dir, stages=(3,), hard_mix=0.5))
    concrete = model.encode_concrete(images(5))
    model.eval()
    assert model._hard_mix(concrete) is concrete  # evaluation sees the real input
    model.train()
    torch.manual_seed(0)
    mixed = model._hard_mix(concrete)
    torch.testing.assert_close(mixed.pooled, concrete.pooled)  # the concrete head is not augmented
    v = F.normalize(concrete.pooled, dim=-1)
    similar = (v @ v.T).fill_diagonal_(-2).argmax(dim=1)
    for name in ("tokens", "grid"):
        x, y = getattr(concrete, name), getattr(mixed, name)
        step = (y - x).flatten(1)
        towards = (x[similar] - x).flatten(1)
        fraction = (step * towards).sum(1) / (towards * towards).sum(1)
        assert ((fraction >= 0) & (fraction < 0.5)).all() and fraction.max() > 0
        torch.testing.assert_close(step, fraction[:, None] * towards, atol=1e-5, rtol=1e-4)
    with pytest.raises(ConfigError, match="hard_mix"):
        AbstractConfig(hard_mix=1.0)
