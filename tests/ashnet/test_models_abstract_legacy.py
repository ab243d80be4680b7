"""The spiking encoder built from ``neuro`` modules against the 0.1 implementation, and 0.1 state dicts.

``data/abstract_encoder_v1.pt`` holds, for three encoder variants, the state dict written by the
0.1 encoder (``LinearNorm`` blocks that counted their own spikes; commit 84db8ff), fixed tokens and
mask, and that encoder's outputs and gradients in training mode (batch statistics) and in eval
mode (the running statistics of the training pass). They were recorded with 2 intra-op threads:
float32 sums split over another thread count round differently (with 1 thread, as under
``OMP_NUM_THREADS=1``, gradients differ by up to ~1e-6 relative to their largest element), so the
comparisons run with 2 threads, where they are bit-exact.
"""

from pathlib import Path

import pytest
import torch

import neuro
from ashnet.models import AbstractConfig, AbstractEncoder
from ashnet.models.abstract import rename_legacy_keys
from ashnet.training.runtime import pinned_threads

CASES = torch.load(Path(__file__).parent / "data" / "abstract_encoder_v1.pt", weights_only=True)


@pytest.fixture
def recorded_threads():
    """Two intra-op threads, as the reference was recorded with, for the duration of a test."""
    with pinned_threads(2):
        yield


def _run(encoder, case, mode: str, seed: int):
    tokens = case["tokens"].clone().requires_grad_(True)
    encoder.train(mode == "train")
    torch.manual_seed(seed)
    out = encoder(tokens, case["mask"])
    (out.readout.sum() + out.steps.pow(2).sum()).backward()
    return out, tokens.grad


@pytest.mark.parametrize("name", sorted(CASES))
def test_spikes_outputs_and_gradients_equal_the_legacy_encoder(name, recorded_threads):
    case = CASES[name]
    encoder = AbstractEncoder(AbstractConfig(**case["config"]), d_in=case["d_in"])
    encoder.load_state_dict(case["state_before"])  # 0.1 key names
    for mode, seed, state in (("train", 7, "state_after"), ("eval", 8, None)):
        expected = case[mode]
        out, tokens_grad = _run(encoder, case, mode, seed)
        assert torch.equal(out.spikes, expected["spikes"])
        assert torch.equal(out.steps, expected["steps"]) and torch.equal(out.readout, expected["readout"])
        assert float(out.firing_rate) == pytest.approx(float(expected["firing_rate"]), rel=1e-6)
        torch.testing.assert_close(tokens_grad, expected["tokens_grad"], rtol=1e-5, atol=1e-7)
        grads = {n: p.grad for n, p in encoder.named_parameters() if p.grad is not None}
        legacy_grads = rename_legacy_keys(dict(expected["param_grads"]))
        assert list(grads) == list(legacy_grads)
        for key, grad in grads.items():
            torch.testing.assert_close(grad, legacy_grads[key], rtol=1e-5, atol=1e-7)
        encoder.zero_grad()
        if state is not None:  # running statistics updated exactly as before, in the same order
            legacy = rename_legacy_keys(dict(case[state]))
            current = encoder.state_dict()
            assert list(current) == list(legacy)
            assert all(torch.equal(current[k], legacy[k]) for k in current)


def test_firing_rate_counts_every_spiking_layer_by_size():
    case = CASES["attention-poisson-membrane-lif"]
    encoder = AbstractEncoder(AbstractConfig(**case["config"]), d_in=case["d_in"]).eval()
    with neuro.Monitor(encoder) as monitor, torch.no_grad():
        out = encoder(case["tokens"], case["mask"])
    spikes = sum(float(s[0].sum()) for s in monitor.spikes.values())
    steps = sum(s[0].numel() for s in monitor.spikes.values())
    assert len(monitor.spikes) == 2 * (5 + 2) + 1  # attention 5, MLP 2 per block; the output layer
    assert float(out.firing_rate) == pytest.approx(spikes / steps)


def test_rename_legacy_keys_only_touches_the_prefix_and_is_idempotent():
    state = {
        "abstract.blocks.0.mlp.fc1.linear.weight": 1,
        "abstract.blocks.0.mlp.fc1.norm.running_mean": 2,
        "abstract.input_norm.weight": 3,
        "abstract.blocks.0.mixer.attn_norm.bias": 4,
        "concrete.body.norm.weight": 5,
    }
    once = rename_legacy_keys(dict(state), "abstract.")
    assert once == {
        "abstract.blocks.0.mlp.fc1.layer.linear.weight": 1,
        "abstract.blocks.0.mlp.fc1.layer.norm.running_mean": 2,
        "abstract.input_norm.weight": 3,
        "abstract.blocks.0.mixer.attn_norm.bias": 4,
        "concrete.body.norm.weight": 5,
    }
    assert rename_legacy_keys(dict(once), "abstract.") == once


def test_a_whole_checkpoint_of_0_1_loads_into_today_s_model(tmp_path, tiny_model_config):
    """load_run and load_init (``train --init``) read a checkpoint with 0.1 key names."""
    from ashnet.checkpoint import load_run, save_checkpoint
    from ashnet.config import Config
    from ashnet.models import build_model
    from ashnet.training.image_text import load_init

    config = Config(model=tiny_model_config())
    torch.manual_seed(0)
    model = build_model(config.model)
    state = model.state_dict()
    legacy = {
        k.replace(".layer.linear.", ".linear.").replace(".layer.norm.", ".norm."): v for k, v in state.items()
    }
    assert sum(k != old for k, old in zip(state, legacy, strict=True)) > 0
    save_checkpoint(tmp_path / "checkpoint.pt", {"model": legacy, "config": config.to_dict()})
    loaded, _ = load_run(tmp_path)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in state.items())
    torch.manual_seed(1)
    fresh = build_model(config.model)
    assert load_init(fresh, tmp_path / "checkpoint.pt") == len(state)
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in state.items())
