"""Tests of ashnet.models: configs, spiking encoder options, fusion, ASHNet with a tiny CNN and text model."""

import math

import pytest
import torch
import torch.nn.functional as F

import neuro
from ashnet.models import (
    AbstractConfig,
    AbstractEncoder,
    ConcreteConfig,
    FusionConfig,
    ModelConfig,
    TextConfig,
    build_model,
)
from ashnet.models.abstract import masked_token_mean
from ashnet.models.fusion import Fusion


def images(b=3, size=32, seed=0):
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(seed))


CAPTIONS = ["a red apple", "grinning face with big eyes", "a dog"]


# --- configs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "kwargs", "needle"),
    [
        (AbstractConfig, {"block": "rnn"}, "model.abstract.block"),
        (AbstractConfig, {"time_steps": 0}, "model.abstract.time_steps"),
        (AbstractConfig, {"dim": 10, "heads": 4}, "divisible"),
        (AbstractConfig, {"tau": 0.5}, "model.abstract.tau"),
        (AbstractConfig, {"readout": "spikes"}, "model.abstract.readout"),
        (FusionConfig, {"ratio_init": 1.0}, "model.fusion.ratio_init"),
        (FusionConfig, {"mode": "sum"}, "model.fusion.mode"),
        (TextConfig, {"max_length": 1}, "model.text.max_length"),
        (ConcreteConfig, {"backbone": "tv:"}, "torchvision"),
        (ConcreteConfig, {"backbone": "tiny_cnn", "weights": "w.pt"}, "model.concrete.weights"),
    ],
)
def test_config_rejects_bad_values_with_the_key_name(section, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        section(**kwargs)


def test_model_config_takes_mappings_and_rejects_unknown_keys():
    cfg = ModelConfig(abstract={"dim": 32, "block": "mlp"}, embed_dim=16)
    assert isinstance(cfg.abstract, AbstractConfig) and cfg.abstract.dim == 32
    with pytest.raises(ValueError, match="unknown config key 'model.abstract.width'"):
        ModelConfig(abstract={"width": 32})
    with pytest.raises(ValueError, match="model.embed_dim"):
        ModelConfig(embed_dim=2.5)


# --- abstract (spiking) encoder ----------------------------------------------------------------

OPTIONS = [
    dict(block="mlp"),
    dict(block="transformer", attention=True),
    dict(block="transformer", attention=False),
    dict(block="transformer", encoding="poisson"),
    dict(block="mlp", readout="membrane"),
    dict(block="transformer", neuron="lif", readout="membrane", encoding="poisson"),
    dict(depth=0),
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_abstract_encoder_shapes_spikes_and_readout(options):
    torch.manual_seed(0)
    cfg = AbstractConfig(dim=16, heads=2, depth=options.pop("depth", 2), time_steps=5, **options)
    enc = AbstractEncoder(cfg, d_in=12)
    out = enc(torch.randn(3, 7, 12))
    assert out.spikes.shape == (5, 3, 7, 16)
    assert set(out.spikes.unique().tolist()) <= {0.0, 1.0}
    assert out.steps.shape == (5, 3, 16) and out.readout.shape == (3, 16)
    torch.testing.assert_close(out.readout, out.steps[-1])
    r = out.spikes.mean(dim=2)
    if cfg.readout == "rate":
        expected = torch.stack([r[: t + 1].mean(0) for t in range(5)])
    else:
        m, expected = torch.zeros_like(r[0]), []
        for t in range(5):
            m = m + (r[t] - m) / cfg.tau
            expected.append(m)
        expected = torch.stack(expected)
    torch.testing.assert_close(out.steps, expected)
    assert 0 < float(out.firing_rate) < 1


def test_abstract_encoder_state_is_reset_between_calls():
    enc = AbstractEncoder(AbstractConfig(dim=16, heads=2, depth=1), d_in=8).eval()
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(enc(x).spikes, enc(x).spikes)
    enc(torch.randn(5, 3, 8))  # another batch size must not clash with a stale state


@pytest.mark.parametrize("block", ["mlp", "transformer"])
@pytest.mark.parametrize("attention", [True, False])
def test_masked_tokens_do_not_change_the_result(block, attention):
    """In eval mode, padding tokens (any values) change nothing: attention, pooling and readout skip them."""
    torch.manual_seed(0)
    cfg = AbstractConfig(dim=16, heads=2, depth=2, block=block, attention=attention, v_threshold=0.5)
    enc = AbstractEncoder(cfg, d_in=8).eval()
    real = torch.randn(2, 3, 8) * 3
    padded = torch.cat([real, torch.randn(2, 4, 8) * 3], dim=1)
    mask = torch.tensor([[True] * 3 + [False] * 4] * 2)
    a, b = enc(real), enc(padded, mask)
    assert a.spikes.sum() > 0
    torch.testing.assert_close(a.steps, b.steps)
    torch.testing.assert_close(a.spikes, b.spikes[:, :, :3])


@pytest.mark.parametrize("encoding", ["direct", "poisson"])
def test_gradients_reach_the_input_projection(encoding):
    enc = AbstractEncoder(AbstractConfig(dim=16, heads=2, depth=1, encoding=encoding), d_in=8)
    enc(torch.randn(4, 3, 8)).readout.sum().backward()
    assert enc.input.weight.grad is not None and enc.input.weight.grad.abs().sum() > 0


def test_abstract_encoder_rejects_wrong_token_width():
    enc = AbstractEncoder(AbstractConfig(dim=16, heads=2, depth=1), d_in=8)
    with pytest.raises(ValueError, match=r"tokens \[B, N, 8\]"):
        enc(torch.randn(2, 3, 9))


def test_masked_token_mean_ignores_masked_tokens():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert float(masked_token_mean(x, torch.tensor([[True, True, False]]))) == 2.0


# --- fusion ------------------------------------------------------------------------------------


def test_ratio_fusion_formula():
    fusion = Fusion(FusionConfig(mode="ratio", ratio_init=0.3), embed_dim=4)
    c, a = torch.randn(2, 4), torch.randn(2, 4)
    lam = torch.sigmoid(fusion.rho.detach())
    assert math.isclose(float(lam), 0.3, rel_tol=1e-6)
    torch.testing.assert_close(
        fusion(c, a), lam * F.normalize(c, dim=-1) + (1 - lam) * F.normalize(a, dim=-1)
    )


def test_gate_fusion_formula_and_init():
    fusion = Fusion(FusionConfig(mode="gate", ratio_init=0.8), embed_dim=4)
    c, a = F.normalize(torch.randn(2, 4), dim=-1), F.normalize(torch.randn(2, 4), dim=-1)
    torch.testing.assert_close(fusion(c, a), 0.8 * c + 0.2 * a)  # W = 0 at init: the ratio fusion
    torch.nn.init.normal_(fusion.gate.weight)
    g = torch.sigmoid(torch.cat([c, a], -1) @ fusion.gate.weight.T + fusion.gate.bias)
    torch.testing.assert_close(fusion(c, a), g * c + (1 - g) * a)


# --- ASHNet ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        dict(fusion="gate"),
        dict(fusion="ratio"),
        dict(fusion="gate", block="mlp", readout="membrane", encoding="poisson"),
        dict(snn=False),
    ],
    ids=["gate", "ratio", "mlp-membrane-poisson", "snn-off"],
)
def test_ashnet_shapes_for_each_variant(tiny_model_config, variant):
    variant = dict(variant)
    fusion = variant.pop("fusion", "gate")
    cfg = tiny_model_config(enabled=variant.pop("snn", True), **variant)
    cfg.fusion = FusionConfig(mode=fusion)
    model = build_model(cfg)
    concrete = model.encode_concrete(images(3, 32))
    assert concrete.tokens.shape == (3, 16, 128) and concrete.pooled.shape == (3, 128)
    emb = model.embed_image(concrete)
    txt = model.encode_text(CAPTIONS)
    assert emb.embedding.shape == (3, 8) and txt.shape == (3, 8)
    torch.testing.assert_close(emb.embedding.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(txt.norm(dim=-1), torch.ones(3))
    if model.has_snn:
        assert emb.step_embeddings.shape == (4, 3, 8) and emb.spikes.shape == (4, 3, 16, 16)
        torch.testing.assert_close(emb.step_embeddings, model.abstract_proj(emb.spikes.mean(dim=2)))
        assert 0 <= float(emb.firing_rate) <= 1
        stua = model.embed_stua(model.encode_text_features(CAPTIONS))
        assert stua.embedding.shape == (3, 8) and stua.step_embeddings.shape == (4, 3, 8)
    else:
        assert emb.step_embeddings is None and emb.firing_rate is None and emb.spikes is None
        assert model.fusion is None and model.abstract is None
        with pytest.raises(ValueError, match="spiking branch"):
            model.embed_stua(model.encode_text_features(CAPTIONS))
    assert math.isclose(float(model.logit_scale.detach().exp()), 1 / 0.07, rel_tol=1e-5)


def test_encode_image_is_embed_image_of_encode_concrete(tiny_model_config):
    model = build_model(tiny_model_config()).eval()
    x = images()
    torch.testing.assert_close(
        model.encode_image(x).embedding, model.embed_image(model.encode_concrete(x)).embedding
    )


def test_frozen_parts_get_no_gradient_and_stay_in_eval_mode(tiny_model_config):
    cfg = tiny_model_config()
    cfg.concrete = ConcreteConfig(backbone="tiny_cnn", freeze=True)
    cfg.text = TextConfig(path=cfg.text.path, freeze=True)
    model = build_model(cfg).train()
    assert model.frozen_concrete and model.frozen_text
    assert not model.concrete.backbone.training and not model.text.model.training
    running = model.concrete.backbone.layers[1].running_mean.clone()
    loss = (model.encode_image(images()).embedding * model.encode_text(CAPTIONS)).sum()
    loss.backward()
    assert all(p.grad is None for p in model.concrete.parameters())
    assert all(p.grad is None for p in model.text.parameters())
    torch.testing.assert_close(model.concrete.backbone.layers[1].running_mean, running)
    for part in (model.concrete_proj, model.abstract, model.text_proj):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_unfrozen_backbone_is_trained(tiny_model_config):
    model = build_model(tiny_model_config())
    assert not model.frozen_concrete
    model.encode_image(images()).embedding.sum().backward()
    assert model.concrete.backbone.layers[0].weight.grad.abs().sum() > 0


def test_build_model_rejects_a_plain_dict():
    with pytest.raises(TypeError, match="ModelConfig"):
        build_model({"embed_dim": 8})


def test_ann_twin_has_the_same_parameters_and_no_spikes(tiny_model_config):
    hybrid = build_model(tiny_model_config(neuron="lif"))
    twin = build_model(tiny_model_config(neuron="gelu", time_steps=1))
    shapes = {k: v.shape for k, v in hybrid.state_dict().items()}
    assert {k: v.shape for k, v in twin.state_dict().items()} == shapes  # parameter-matched
    assert not any(isinstance(m, neuro.SpikingNeuron) for m in twin.modules())
    assert twin.has_snn and not twin.spiking and hybrid.spiking
    emb = twin.embed_image(twin.encode_concrete(images()))
    assert emb.firing_rate is None and emb.step_embeddings.shape == (1, 3, 8)
    assert len(emb.spikes.unique()) > 2  # real values, not spikes
    with pytest.raises(ValueError, match="ANN twin"):
        AbstractConfig(neuron="gelu", time_steps=4)


def test_stua_text_keeps_its_own_norm_statistics(tiny_model_config):
    model = build_model(tiny_model_config(block="mlp")).train()
    norms = [m for m in model.abstract.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert norms
    model.embed_image(model.encode_concrete(images()))
    image_stats = [m.running_mean.clone() for m in norms]
    model.embed_stua(model.encode_text_features(CAPTIONS))
    for m, before in zip(norms, image_stats, strict=True):
        assert torch.equal(m.running_mean, before)  # text did not move the image statistics
    text_stats = model._text_statistics
    assert any(not torch.equal(t["running_mean"], torch.zeros_like(t["running_mean"])) for t in text_stats)
    model.embed_image(model.encode_concrete(images()))
    assert not torch.equal(norms[0].running_mean, image_stats[0])  # images still update their own
    assert set(model.state_dict()) == set(build_model(tiny_model_config(block="mlp")).state_dict())


def test_token_dropout_hides_tokens_in_training_only(tiny_model_config):
    model = build_model(tiny_model_config(block="mlp", token_dropout=0.5))
    concrete = model.encode_concrete(images())
    model.eval()
    torch.testing.assert_close(model.embed_image(concrete).embedding, model.embed_image(concrete).embedding)
    model.train()
    torch.manual_seed(0)
    keep = model._token_keep(concrete.tokens)
    assert keep.shape == concrete.tokens.shape[:2] and keep.any(dim=1).all()
    assert 0.2 < keep.float().mean() < 0.8
    with pytest.raises(ValueError, match="token_dropout"):
        AbstractConfig(token_dropout=1.0)
