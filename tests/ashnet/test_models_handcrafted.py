"""Tests of the handcrafted vision experts (colour histogram, HOG) and their use as concrete backbones."""

import pytest
import torch
from torch import nn

from ashnet.data import load_pairs
from ashnet.models import ConcreteConfig, ConcreteEncoder
from ashnet.models.handcrafted import HOG, ColourHistogram
from ashnet.training.features import cache_features

RED, BLUE, WHITE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 1.0)


def canvas(size=64, fill=WHITE):
    return torch.tensor(fill).view(1, 3, 1, 1).expand(1, 3, size, size).clone()


def test_colour_histogram_counts_each_cell_into_its_rgb_bin():
    x = canvas(64, RED)
    x[..., 32:, :] = torch.tensor(BLUE).view(3, 1, 1)  # bottom row of cells blue
    x[..., :16, :16] = 1.0  # a quarter of the top-left cell white
    hist = ColourHistogram(levels=4)(x)
    assert hist.shape == (1, 64, 2, 2)
    torch.testing.assert_close(hist.sum(1), torch.ones(1, 2, 2))
    red, blue, white = 3 * 16, 3, 63  # bin (r * 4 + g) * 4 + b
    assert hist[0, red, 0, 0] == 0.75 and hist[0, white, 0, 0] == 0.25
    assert hist[0, red, 0, 1] == 1.0
    assert (hist[0, blue, 1] == 1.0).all() and hist[0, red, 1].sum() == 0
    odd = ColourHistogram(levels=4)(torch.rand(2, 3, 100, 70))  # whole 32-pixel cells only
    assert odd.shape == (2, 64, 3, 2)
    torch.testing.assert_close(odd.sum(1), torch.ones(2, 3, 2))


def test_hog_sees_edges_in_their_cell_and_orientation():
    vertical, horizontal = canvas(64), canvas(64)
    vertical[..., :, 10:] = 0  # one vertical edge, in the left column of cells
    horizontal[..., 10:, :] = 0  # one horizontal edge, in the top row
    hog = HOG(orientations=9)
    v, h = hog(vertical), hog(horizontal)
    assert v.shape == h.shape == (1, 36, 2, 2)
    strength = v.abs().sum(1)[0]
    assert strength[0, 0] > 0 and strength[1, 0] > 0 and strength[:, 1].sum() == 0
    assert h.abs().sum(1)[0, 1].sum() == 0 and h.abs().sum(1)[0, 0].sum() > 0
    # a vertical edge has a horizontal gradient (bin 0); a horizontal edge a vertical one (bin 4 of 9)
    assert v[0, :, 0, 0].view(4, 9).sum(0).argmax() == 0
    assert h[0, :, 0, 0].view(4, 9).sum(0).argmax() == 4


@pytest.mark.parametrize(("name", "width"), [("colour_histogram", 64), ("hog", 36)])
def test_handcrafted_backbones_are_frozen_experts_on_the_cnn_grid(name, width):
    enc = ConcreteEncoder(ConcreteConfig(backbone=name))
    assert enc.frozen and enc.dim == width and not list(enc.parameters())
    out = enc(torch.rand(2, 3, 128, 128))
    assert out.tokens.shape == (2, 16, width)  # 4 x 4 cells of 32 pixels, as EfficientNet at 128 px
    torch.testing.assert_close(out.pooled, out.tokens.mean(1))


@pytest.mark.parametrize("name", ["colour_histogram", "hog"])
def test_handcrafted_backbones_reject_tiny_images_and_weights(name):
    with pytest.raises(ValueError, match="at least 32 pixels"):
        ConcreteEncoder(ConcreteConfig(backbone=name))(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="no weights"):
        ConcreteConfig(backbone=name, weights="w.pt")


class ImageOnly(nn.Module):
    """The part of an ASH-Net that :func:`cache_features` reads for images."""

    def __init__(self, backbone):
        super().__init__()
        self.concrete = ConcreteEncoder(ConcreteConfig(backbone=backbone))
        self.frozen_concrete = True

    def encode_concrete(self, images):
        return self.concrete(images)


def test_feature_cache_keeps_weightless_backbones_apart(tiny_pairs, tmp_path):
    table = load_pairs(tiny_pairs).split("val")
    features = {
        name: cache_features(ImageOnly(name), table, None, 32, 4, "cpu", tmp_path, progress=False).concrete
        for name in ("colour_histogram", "hog")
    }
    assert features["colour_histogram"].tokens.shape[-1] == 64 and features["hog"].tokens.shape[-1] == 36
    assert len(list(tmp_path.glob("images-*.pt"))) == 2
