"""Tests of the pretrained parts: EfficientNet-Lite0/2 weights, other backbones, the MiniLM text encoder."""

import pytest
import skimage.data
import torch
import torch.nn.functional as F

from ashnet.models import (
    ConcreteConfig,
    ConcreteEncoder,
    TextConfig,
    TextEncoder,
    pretrained_efficientnet_lite,
)
from ashnet.models.concrete import LITE_PACKAGES

# ImageNet classes 281-285 are tabby, tiger cat, Persian, Siamese and Egyptian cat.
CAT_CLASSES = set(range(281, 286))


@pytest.fixture(scope="module")
def lite0():
    return pretrained_efficientnet_lite("efficientnet_lite0").eval()


@pytest.fixture(scope="module")
def minilm():
    return TextEncoder(TextConfig())


def chelsea(size: int) -> torch.Tensor:
    """scikit-image's photo of Chelsea the cat, ``[1, 3, size, size]`` in ``[0, 1]``."""
    img = torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1).float().div(255)[None]
    return F.interpolate(img, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


@pytest.mark.parametrize(("name", "count"), [("efficientnet_lite0", 247), ("efficientnet_lite2", 322)])
def test_all_packaged_tensors_are_loaded(name, count):
    import importlib

    package, file_class = LITE_PACKAGES[name]
    path = getattr(importlib.import_module(package), file_class).get_model_file_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    model = pretrained_efficientnet_lite(name)
    src = [v for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    assert len(src) == len(dst) == count
    for a, b in zip(src, dst, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(("name", "size"), [("efficientnet_lite0", 224), ("efficientnet_lite2", 260)])
def test_pretrained_lite_recognises_a_cat(name, size):
    model = pretrained_efficientnet_lite(name).eval()
    x = (chelsea(size) * 255 - 127) / 128
    with torch.no_grad():
        top5 = model(x).topk(5).indices[0].tolist()
    assert top5[0] in CAT_CLASSES, top5
    assert len(CAT_CLASSES.intersection(top5)) >= 3, top5


def test_unknown_lite_name_is_a_clear_error():
    with pytest.raises(ValueError, match="efficientnet_lite2"):
        pretrained_efficientnet_lite("efficientnet_lite7")


@pytest.mark.slow
def test_lite0_concrete_encoder_tokens_and_normalisation(lite0):
    enc = ConcreteEncoder(ConcreteConfig(freeze=True))
    x = chelsea(64)
    out = enc(x)
    assert out.tokens.shape == (1, 4, 1280) and out.pooled.shape == (1, 1280)
    torch.testing.assert_close(out.pooled, out.tokens.mean(1))
    with torch.no_grad():
        fmap = lite0.forward_features((x * 255 - 127) / 128)
    torch.testing.assert_close(out.tokens, fmap.flatten(2).transpose(1, 2), atol=1e-4, rtol=1e-4)
    assert not any(p.requires_grad for p in enc.parameters())
    assert not any(k.startswith("classifier") for k in enc.backbone.state_dict())


@pytest.mark.slow
def test_lite2_concrete_encoder_gives_a_4x4_map_at_128_pixels():
    enc = ConcreteEncoder(ConcreteConfig(backbone="efficientnet_lite2", freeze=True))
    out = enc(chelsea(128))
    assert out.tokens.shape == (1, 16, 1280) and enc.dim == 1280
    assert torch.isfinite(out.tokens).all() and out.tokens.abs().sum() > 0


def test_torchvision_backbone_is_cut_before_the_pool():
    enc = ConcreteEncoder(ConcreteConfig(backbone="tv:resnet18"))
    out = enc(torch.rand(2, 3, 64, 64))
    assert out.tokens.shape == (2, 4, 512) and enc.dim == 512


def test_timm_backbone_with_local_weights(tmp_path):
    import timm

    source = timm.create_model("resnet10t", pretrained=False, num_classes=0, global_pool="")
    path = tmp_path / "resnet10t.pt"
    torch.save(source.state_dict(), path)
    enc = ConcreteEncoder(ConcreteConfig(backbone="resnet10t", weights=str(path)))
    for name, tensor in source.state_dict().items():
        assert torch.equal(enc.backbone.state_dict()[name], tensor), name
    assert enc(torch.rand(1, 3, 64, 64)).tokens.shape == (1, 4, 512)


@pytest.mark.parametrize(
    ("cfg", "error", "needle"),
    [
        (ConcreteConfig(backbone="no_such_net"), ValueError, "unknown backbone 'no_such_net'"),
        (ConcreteConfig(backbone="tv:no_such_net"), ValueError, "torchvision model 'no_such_net'"),
        (ConcreteConfig(backbone="tv:squeezenet1_1"), ValueError, "no 'avgpool'"),
        (ConcreteConfig(backbone="resnet10t", weights="/nonexistent/w.pt"), FileNotFoundError, "w.pt"),
    ],
)
def test_bad_backbones_are_clear_errors(cfg, error, needle):
    with pytest.raises(error, match=needle):
        ConcreteEncoder(cfg)


def test_unfitting_local_weights_are_clear_errors(tmp_path):
    import timm

    wrong = tmp_path / "wrong.pt"
    torch.save(timm.create_model("resnet10t", num_classes=0).state_dict(), wrong)
    with pytest.raises(ValueError, match="does not fit backbone 'resnet14t'|lacks"):
        ConcreteEncoder(ConcreteConfig(backbone="resnet14t", weights=str(wrong)))
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch state dict"):
        ConcreteEncoder(ConcreteConfig(backbone="resnet10t", weights=str(junk)))


def test_concrete_encoder_rejects_bad_images():
    enc = ConcreteEncoder(ConcreteConfig(backbone="tiny_cnn"))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        enc(torch.rand(3, 32, 32))
    with pytest.raises(TypeError, match="float"):
        enc(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


def test_text_mean_pooling_matches_a_manual_mean(minilm):
    captions = ["a cat", "a much longer caption about a grinning face with smiling eyes"]
    feats = minilm(captions)
    assert feats.tokens.shape[0] == 2 and feats.tokens.shape[2] == 384 and minilm.dim == 384
    assert feats.mask.dtype == torch.bool and feats.mask[0].sum() < feats.mask[1].sum()
    for i, caption in enumerate(captions):
        alone = minilm.tokenizer(caption, return_tensors="pt")
        with torch.no_grad():
            hidden = minilm.model(**alone).last_hidden_state[0]
        torch.testing.assert_close(feats.pooled[i], hidden.mean(0), atol=1e-5, rtol=1e-4)


def test_text_encoder_truncates_to_max_length(minilm):
    assert minilm(["word " * 200]).tokens.shape[1] == minilm.max_length


@pytest.mark.parametrize(
    ("captions", "error", "needle"),
    [
        (["fine", ""], ValueError, "caption 1 is empty"),
        (["fine", "ok", "  \t"], ValueError, "caption 2 is empty"),
        ([], ValueError, "empty list"),
        ("a single string", TypeError, "list of strings"),
        (["ok", 3], TypeError, "caption 1 must be a string"),
    ],
)
def test_bad_captions_are_clear_errors(minilm, captions, error, needle):
    with pytest.raises(error, match=needle):
        minilm(captions)


def test_missing_text_model_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        TextEncoder(TextConfig(path=str(tmp_path / "nope")))
    with pytest.raises(FileNotFoundError, match="not a transformers model"):
        TextEncoder(TextConfig(path=str(tmp_path)))
