"""Tests of ashnet.losses: InfoNCE and hard negatives by hand, spatio-temporal, STUA, compute_losses."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from ashnet.config import (
    ITCObjective,
    LossConfig,
    SpatioTemporalObjective,
    STUAObjective,
)
from ashnet.losses import compute_losses, info_nce, itc_loss, spatiotemporal_loss, stua_loss
from ashnet.models import build_model

CAPTIONS = [
    "grinning face",
    "red apple",
    "a black cat",
    "rocket",
    "sun behind cloud",
    "green heart",
    "pile of poo",
    "thumbs up",
]


def normed(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def hand_info_nce(a, b, scale, beta=0.0):
    """Symmetric InfoNCE with importance-weighted negatives, written out row by row."""

    def rows(x, y):
        total = 0.0
        n = x.shape[0]
        for i in range(n):
            cos = [float(x[i] @ y[j]) for j in range(n)]
            neg = [j for j in range(n) if j != i]
            mean_w = sum(math.exp(beta * cos[j]) for j in neg) / len(neg)
            denom = math.exp(scale * cos[i]) + sum(
                math.exp(beta * cos[j]) / mean_w * math.exp(scale * cos[j]) for j in neg
            )
            total += -math.log(math.exp(scale * cos[i]) / denom)
        return total / n

    return 0.5 * (rows(a, b) + rows(b, a))


@pytest.mark.parametrize("beta", [0.0, 3.0])
def test_info_nce_matches_the_formula_by_hand(beta):
    a, b = normed(6, 5, seed=1), normed(6, 5, seed=2)
    got = info_nce(a, b, math.log(10.0), hard_negative_beta=beta)
    assert math.isclose(float(got), hand_info_nce(a, b, 10.0, beta), rel_tol=1e-5)


def test_beta_zero_is_plain_infonce():
    a, b = normed(6, 5, seed=1), normed(6, 5, seed=2)
    logits = 10.0 * a @ b.T
    labels = torch.arange(6)
    plain = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
    torch.testing.assert_close(itc_loss(a, b, math.log(10.0), 0.0), plain)


def test_hard_negative_weighting_never_lowers_the_loss():
    """Weights grow with similarity as the negatives' terms do, so the weighted sum (mean weight 1) grows."""
    for seed in range(5):
        a, b = normed(8, 4, seed=seed), normed(8, 4, seed=seed + 10)
        assert float(itc_loss(a, b, math.log(20.0), 2.0)) >= float(itc_loss(a, b, math.log(20.0), 0.0)) - 1e-6


def test_aligned_pairs_give_a_lower_loss_than_shuffled():
    img = normed(8, 16, seed=3)
    txt = F.normalize(img + 0.1 * normed(8, 16, seed=4), dim=-1)
    shuffled = txt[torch.roll(torch.arange(8), 1)]
    for beta in (0.0, 1.0):
        assert float(itc_loss(img, txt, math.log(1 / 0.07), beta)) < float(
            itc_loss(img, shuffled, math.log(1 / 0.07), beta)
        )


def test_logit_scale_is_capped_at_100():
    a, b = normed(4, 3, seed=5), normed(4, 3, seed=6)
    torch.testing.assert_close(info_nce(a, b, math.log(1000.0)), info_nce(a, b, math.log(100.0)))


def test_info_nce_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\[B, E\]"):
        info_nce(normed(4, 3), normed(5, 3), 0.0)


def test_spatiotemporal_windows_are_the_views():
    steps = normed(4, 6, 5, seed=7)
    first, second = (F.normalize(w.mean(0), dim=-1) for w in (steps[:2], steps[2:]))
    torch.testing.assert_close(spatiotemporal_loss(steps, 1.0, windows=2), info_nce(first, second, 1.0))
    views = [F.normalize(w.mean(0), dim=-1) for w in (steps[:2], steps[2:3], steps[3:])]
    pairs = [info_nce(views[i], views[j], 1.0) for i, j in ((0, 1), (0, 2), (1, 2))]
    torch.testing.assert_close(spatiotemporal_loss(steps, 1.0, windows=3), sum(pairs) / 3)
    with pytest.raises(ValueError, match="windows"):
        spatiotemporal_loss(steps, 1.0, windows=5)


def test_spatiotemporal_rewards_stable_embeddings_over_time():
    stable = normed(1, 6, 5, seed=8).expand(4, 6, 5)
    assert float(spatiotemporal_loss(stable, 2.0)) < float(spatiotemporal_loss(normed(4, 6, 5, seed=9), 2.0))


def test_spatiotemporal_second_view_uses_time_means():
    one, two = normed(3, 6, 5, seed=10), normed(3, 6, 5, seed=11)
    expected = info_nce(F.normalize(one.mean(0), dim=-1), F.normalize(two.mean(0), dim=-1), 1.0)
    torch.testing.assert_close(spatiotemporal_loss(one, 1.0, second_view=two), expected)


def test_stua_trains_both_sides():
    stua = normed(5, 4, seed=12).requires_grad_()
    text = normed(5, 4, seed=13).requires_grad_()
    stua_loss(stua, text, 1.0).backward()
    assert stua.grad.abs().sum() > 0 and text.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: ITCObjective(hard_negative_beta=-1.0), "hard_negative_beta"),
        (lambda: STUAObjective(weight=-0.5), "loss.stua.weight"),
        (lambda: SpatioTemporalObjective(mode="frames"), "loss.st.mode"),
        (lambda: SpatioTemporalObjective(windows=1), "loss.st.windows"),
    ],
)
def test_objective_configs_validate(make, needle):
    with pytest.raises(ValueError, match=needle):
        make()


# --- with a model ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tiny_model_config):
    torch.manual_seed(0)
    return build_model(tiny_model_config(encoding="poisson"))


@pytest.fixture(scope="module")
def batch(model):
    images = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        text = model.encode_text_features(CAPTIONS)
    return images, text


def only(name: str, **kwargs) -> LossConfig:
    cfg = {k: {"enabled": k == name} for k in ("itc", "st", "stua")}
    cfg[name].update(kwargs)
    return LossConfig(**cfg)


@pytest.mark.parametrize("name", ["itc", "st", "stua"])
def test_each_objective_trains_the_spiking_encoder(model, batch, name):
    net = copy.deepcopy(model)
    images, text = batch
    losses = compute_losses(net, net.encode_concrete(images), text, only(name))
    assert set(losses) == {"itc", "st", "stua", "total"}
    for other in {"itc", "st", "stua"} - {name}:
        assert losses[other].item() == 0.0
    torch.testing.assert_close(losses["total"], losses[name] * getattr(LossConfig(), name).weight)
    losses["total"].backward()
    grads = [p.grad for p in net.abstract.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0
    assert net.abstract.input.weight.grad.abs().sum() > 0


def test_st_encodings_mode(model, batch):
    images, text = batch
    losses = compute_losses(model, model.encode_concrete(images), text, only("st", mode="encodings"))
    assert losses["st"].item() > 0
    direct = copy.deepcopy(model)
    direct.cfg = copy.deepcopy(model.cfg)
    direct.cfg.abstract.encoding = "direct"
    with pytest.raises(ValueError, match="poisson"):
        compute_losses(direct, model.encode_concrete(images), text, only("st", mode="encodings"))


def test_st_has_its_own_temperature(model, batch):
    images, text = batch
    net = copy.deepcopy(model).train()  # batch statistics: the untrained encoder spikes
    concrete = net.encode_concrete(images)
    torch.manual_seed(0)
    first = compute_losses(net, concrete, text, only("st"))["st"]
    assert abs(float(first) - math.log(len(images))) > 1e-3  # not the loss of identical views
    with torch.no_grad():
        net.logit_scale.fill_(0.0)  # the ITC temperature changes; the spatio-temporal loss does not
    torch.manual_seed(0)
    torch.testing.assert_close(compute_losses(net, concrete, text, only("st"))["st"], first)
    torch.manual_seed(0)
    hotter = compute_losses(net, concrete, text, only("st", temperature=1.0))["st"]
    assert not torch.allclose(hotter, first)
    with pytest.raises(ValueError, match="loss.st.temperature"):
        SpatioTemporalObjective(temperature=0)


def test_st_windows_share_no_time_step(model, batch):
    """Each step embedding is that step's own spikes (not a running mean), so windows are disjoint."""
    images, _ = batch
    net = copy.deepcopy(model).train()
    torch.manual_seed(0)
    emb = net.embed_image(net.encode_concrete(images))
    assert emb.spikes.sum() > 0
    torch.testing.assert_close(emb.step_embeddings, net.abstract_proj(emb.spikes.mean(dim=2)))


def test_captions_alone_give_only_stua(model, batch):
    losses = compute_losses(model, None, batch[1], LossConfig())
    assert losses["itc"].item() == 0.0 and losses["st"].item() == 0.0 and losses["stua"].item() > 0


def test_ann_only_model_gets_itc_only(batch, tiny_model_config):
    net = build_model(tiny_model_config(enabled=False))
    images, _ = batch
    losses = compute_losses(
        net, net.encode_concrete(images), net.encode_text_features(CAPTIONS), LossConfig()
    )
    assert losses["st"].item() == 0.0 and losses["stua"].item() == 0.0
    torch.testing.assert_close(losses["total"], losses["itc"])


@pytest.mark.slow
def test_stua_trains_the_abstract_encoder_from_text_alone(model, batch):
    torch.manual_seed(0)
    net = copy.deepcopy(model).train()
    text = batch[1]
    backbone = copy.deepcopy(net.concrete.state_dict())
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=1e-2)
    history = []
    for _ in range(15):
        loss = compute_losses(net, None, text, only("stua"))["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert sum(history[-3:]) / 3 < history[0] - 0.1, history
    # STUA aligns to the text space ITC uses: the text projection learns too.
    assert net.text_proj.weight.grad is not None and net.text_proj.weight.grad.abs().sum() > 0
    for name, tensor in net.concrete.state_dict().items():
        assert torch.equal(tensor, backbone[name]), name


def test_per_head_itc_adds_each_branch_alone(model, batch):
    images, text = batch
    net = copy.deepcopy(model).eval()
    concrete = net.encode_concrete(images)
    torch.manual_seed(0)
    fused = compute_losses(net, concrete, text, only("itc"))["itc"]
    torch.manual_seed(0)
    both = compute_losses(net, concrete, text, only("itc", per_head=0.5))["itc"]
    torch.manual_seed(0)
    image = net.embed_image(concrete)
    text_emb = net.embed_text(text)
    heads = sum(itc_loss(e, text_emb, net.logit_scale) for e in image.branches) / 2
    torch.testing.assert_close(both, fused + 0.5 * heads)
