"""Tests for ashnet.data images and dataset: image loading, hostile image files, dataset, caption_index."""

from __future__ import annotations

import re

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ashnet.data import ImageTextDataset, PairTable, caption_index, load_image, load_pairs


def test_load_image_is_rgb_in_unit_range_and_square(tmp_path):
    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "wide.png")
    image = load_image(tmp_path / "wide.png", 16)
    assert image.dtype == torch.float32 and image.shape == (3, 16, 16)
    assert torch.allclose(image[0], torch.ones(16, 16)) and image[1:].abs().max() == 0


def test_transparency_becomes_white(tmp_path):
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    rgba.save(tmp_path / "rgba.png")
    rgba.convert("P").save(tmp_path / "palette.png", transparency=0)
    image = load_image(tmp_path / "rgba.png", 8)
    assert image[:, 0, 0].tolist() == [0.0, 0.0, 1.0]
    assert torch.all(image[:, 1:, 1:] == 1.0)
    assert load_image(tmp_path / "palette.png", 8).mean() > 0.9


def test_hostile_image_raises_value_error_naming_the_file(tmp_path, hostile_image):
    kind, make, message = hostile_image
    path = tmp_path / f"{kind.replace(' ', '_')}.png"
    make(path)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_image(path, 8)
    assert str(path) in str(info.value)


def test_missing_image_and_bad_size(tmp_path):
    with pytest.raises(FileNotFoundError, match="image not found"):
        load_image(tmp_path / "gone.png", 8)
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        load_image(tmp_path / "ok.png", 0)


def test_verify_images_turns_unreadable_images_into_bad_rows(tmp_path, hostile_images):
    Image.new("RGB", (8, 8), "red").save(tmp_path / "good.png")
    lines = ["image,caption", "good.png,red"]
    for kind, (make, _) in hostile_images.items():
        name = f"{kind.replace(' ', '_')}.png"
        make(tmp_path / name)
        lines.append(f"{name},{kind}")
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(lines) + "\n")
    # Without verification only the zero-byte file is caught (by size, without decoding).
    assert len(load_pairs(path).bad_rows) == 1
    table = load_pairs(path, verify_images=True)
    assert [r.path.name for r in table.images] == ["good.png"]
    assert [row.where for row in table.bad_rows] == [f"{path}:{n}" for n in range(3, 3 + len(hostile_images))]
    for row, (_, message) in zip(table.bad_rows, hostile_images.values(), strict=True):
        assert message in row.reason
    with pytest.raises(ValueError, match=f"{len(hostile_images)} bad row"):
        load_pairs(path, verify_images=True, on_bad_row="error")


@pytest.fixture
def table(tmp_path):
    for name, colour in [("a", "red"), ("b", "blue")]:
        Image.new("RGB", (12, 12), colour).save(tmp_path / f"{name}.png")
    path = tmp_path / "pairs.csv"
    path.write_text("image,caption,caption_de\na.png,red,rot\na.png,crimson,\na.png,scarlet,\nb.png,blue,\n")
    return load_pairs(path)


def test_dataset_items_and_batches(table):
    dataset = ImageTextDataset(table, image_size=8)
    image, caption, index = dataset[1]
    assert image.shape == (3, 8, 8) and caption == "blue" and index == 1
    assert dataset[0][1] == "red"  # evaluation always takes the first caption
    images, captions, indices = next(iter(DataLoader(dataset, batch_size=2)))
    assert images.shape == (2, 3, 8, 8) and list(captions) == ["red", "blue"] and indices.tolist() == [0, 1]


def test_training_dataset_draws_each_caption_repeatably(table):
    dataset = ImageTextDataset(table, image_size=8, train=True)
    torch.manual_seed(0)
    draws = [dataset[0][1] for _ in range(30)]
    assert set(draws) == {"red", "crimson", "scarlet"}
    torch.manual_seed(0)
    assert [dataset[0][1] for _ in range(30)] == draws


def test_dataset_reports_a_broken_image_by_name(table):
    table.images[1].path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"b\.png"):
        ImageTextDataset(table, image_size=8)[1]


def test_dataset_rejects_empty_tables_and_bad_sizes(table):
    with pytest.raises(ValueError, match="no images"):
        ImageTextDataset(table.split("test"))
    with pytest.raises(ValueError, match="image_size"):
        ImageTextDataset(table, image_size=-1)
    with pytest.raises(TypeError, match="PairTable"):
        ImageTextDataset([("a.png", "red")])


def test_caption_index_flattens_captions_per_image(table):
    index = caption_index(table)
    assert index.texts == ["red", "crimson", "scarlet", "blue"]
    assert index.text_image.tolist() == [0, 0, 0, 1]
    german = caption_index(table, language="de")
    assert german.texts == ["rot"] and german.text_image.tolist() == [0]
    with pytest.raises(ValueError, match="no captions in 'ja'"):
        caption_index(table, language="ja")
    with pytest.raises(ValueError, match="no captions"):
        caption_index(PairTable([]))
