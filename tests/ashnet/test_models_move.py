"""Tests of MoVE, the mixture of vision experts: routing, modulation, token maps, config."""

import pytest
import torch
import torch.nn.functional as F

from ashnet.models import MoVEConfig
from ashnet.models.move import MoVE, route

WIDTHS = {"lite0": 12, "spiking": 6, "hog": 5}
TEXT = 10


def randomise(module, seed=0):
    """Every parameter random (the FiLM and router start at zero or near it), so no test passes by chance."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return module


def inputs(b=3, n=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    tokens = {name: torch.randn(b, n, c, generator=g) for name, c in WIDTHS.items()}
    return tokens, torch.arange(b) % 2, torch.randn(b, TEXT, generator=g)


def move(experts, num_tasks=2, **kw):
    return randomise(MoVE(MoVEConfig(experts=experts, dim=8, grid=4, **kw), WIDTHS, TEXT, num_tasks))


@pytest.mark.parametrize("routing", ["soft", "top_k"])
@pytest.mark.parametrize("name", list(WIDTHS))
def test_one_expert_move_is_that_expert_alone(name, routing):
    tokens, task, text = inputs()
    m = move((name,), routing=routing)
    out = m(tokens, task, text)
    assert torch.equal(out.weights, torch.ones(3, 1))
    assert torch.equal(out.tokens, m.expert_tokens(name, tokens[name], m.conditioning(task, text)))
    plain = move((name,), routing=routing, modulate=False)
    assert torch.equal(plain(tokens, task, text).tokens, plain.adapters[name](tokens[name]))


def test_soft_routing_mixes_every_expert_by_its_weight():
    tokens, task, text = inputs()
    m = move(("lite0", "spiking", "hog"))
    out = m(tokens, task, text)
    torch.testing.assert_close(out.weights, out.logits.softmax(-1))
    assert (out.weights > 0).all()
    c = m.conditioning(task, text)
    expected = sum(
        out.weights[:, i, None, None] * m.expert_tokens(n, tokens[n], c) for i, n in enumerate(m.experts)
    )
    torch.testing.assert_close(out.tokens, expected)
    assert out.tokens.shape == (3, 16, 8)


def test_top_k_routing_keeps_k_experts_renormalised():
    tokens, task, text = inputs(b=5)
    m = move(("lite0", "spiking", "hog"), routing="top_k", top_k=2)
    out = m(tokens, task, text)
    assert ((out.weights > 0).sum(-1) == 2).all()
    torch.testing.assert_close(out.weights.sum(-1), torch.ones(5))
    best = out.logits.topk(2, dim=-1).indices
    assert (out.weights.gather(-1, best) > 0).all()
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    p = logits.softmax(-1)[0]
    torch.testing.assert_close(route(logits, 2), torch.tensor([[p[0], p[1], 0]]) / (p[0] + p[1]))
    torch.testing.assert_close(route(logits, 3), logits.softmax(-1))


def test_router_reads_the_task_and_the_text():
    tokens, _, text = inputs()
    m = move(("lite0", "spiking"), num_tasks=3)
    by_task = [m(tokens, torch.full((3,), t), text).weights for t in range(3)]
    assert not torch.allclose(by_task[0], by_task[1]) and not torch.allclose(by_task[1], by_task[2])
    other_text = m(tokens, torch.zeros(3, dtype=torch.long), text.flip(0)).weights
    assert not torch.allclose(other_text, by_task[0])


def test_gradients_reach_router_film_adapters_and_task_embedding():
    tokens, task, text = inputs()
    m = move(("lite0", "hog"))
    m(tokens, task, text).tokens.square().sum().backward()
    for part in (m.router, m.film, m.adapters["lite0"], m.adapters["hog"], m.task_embedding, m.condition):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters()), part


def test_modulation_starts_as_the_identity():
    tokens, task, text = inputs()
    m = MoVE(MoVEConfig(experts=("lite0", "hog"), dim=8, grid=4), WIDTHS, TEXT, 2)
    c = m.conditioning(task, text)
    torch.testing.assert_close(m.expert_tokens("hog", tokens["hog"], c), m.adapters["hog"](tokens["hog"]))


def test_experts_are_pooled_to_the_common_grid():
    g = torch.Generator().manual_seed(0)
    fine = torch.randn(2, 64, WIDTHS["hog"], generator=g)  # an 8 x 8 map
    m = move(("hog",), modulate=False)
    pooled = F.avg_pool2d(fine.transpose(1, 2).reshape(2, -1, 8, 8), 2).flatten(2).transpose(1, 2)
    torch.testing.assert_close(
        m({"hog": fine}, torch.zeros(2, dtype=torch.long), torch.randn(2, TEXT)).tokens,
        m.adapters["hog"](pooled),
    )
    with pytest.raises(ValueError, match="not a square map"):
        m({"hog": fine[:, :10]}, torch.zeros(2, dtype=torch.long), torch.randn(2, TEXT))


def test_any_subset_of_experts_and_clear_errors():
    tokens, task, text = inputs()
    m = move(("spiking",))
    assert set(m.adapters) == {"spiking"}
    m(tokens, task, text)  # tokens of other experts are ignored
    with pytest.raises(ValueError, match="missing the tokens of expert"):
        move(("lite0", "hog"))({"lite0": tokens["lite0"]}, task, text)
    with pytest.raises(ValueError, match="no token width"):
        MoVE(MoVEConfig(experts=("lite0", "clip")), WIDTHS, TEXT)
    with pytest.raises(ValueError, match="task ids"):
        m(tokens, task[:2], text)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"experts": ()}, "non-empty"),
        ({"experts": "lite0"}, "model.move.experts' must be a list"),
        ({"experts": ("a", " ")}, "non-empty names"),
        ({"experts": ("a", "a")}, "free of repeats"),
        ({"spiking_input": "spiking"}, "model.move.spiking_input"),
        ({"routing": "hard"}, "model.move.routing"),
        ({"experts": ("a", "b"), "routing": "top_k", "top_k": 3}, "exceeds"),
        ({"dim": 0}, "model.move.dim"),
    ],
)
def test_move_config_rejects_bad_values(kwargs, needle):
    with pytest.raises((ValueError, TypeError), match=needle):
        MoVEConfig(**kwargs)
