"""Shared fixtures of the ashnet tests: a tiny image-caption set, the tiny model, a tiny trained run,
and hostile image files."""

import csv
import shutil
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ashnet.cli import main
from ashnet.config import AbstractConfig, ConcreteConfig, ModelConfig, TextConfig

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 70, 220), "orange": (250, 150, 20)}
SHAPES = ("square", "disc", "bar", "cross", "ring", "dot")


def write_tiny_pairs(folder, n_train=16, n_val=4, n_test=4):
    """Coloured shapes on white, listed in ``folder/pairs.csv``; every 4th image has 2 captions."""
    folder.mkdir(parents=True, exist_ok=True)
    combos = [(c, s) for s in SHAPES for c in COLOURS]
    splits = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    rows = []
    for i, split in enumerate(splits):
        colour, shape = combos[i % len(combos)]
        img = Image.new("RGB", (16, 16), "white")
        draw = ImageDraw.Draw(img)
        box = {"square": (3, 3, 12, 12), "disc": (2, 2, 13, 13), "bar": (2, 6, 13, 9)}.get(
            shape, (5, 5, 10, 10)
        )
        (draw.ellipse if shape in ("disc", "ring", "dot") else draw.rectangle)(box, fill=COLOURS[colour])
        name = f"img{i:02d}.png"
        img.save(folder / name)
        rows.append((name, f"a {colour} {shape} number {i}", split))
        if i % 4 == 0:
            rows.append((name, f"{shape} coloured {colour}, item {i}", split))
    with open(folder / "pairs.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "caption", "split"])
        writer.writerows(rows)
    return folder / "pairs.csv"


@pytest.fixture(scope="session")
def tiny_pairs(tmp_path_factory):
    """Path of a 24-image pairs.csv (16 train / 4 val / 4 test)."""
    return write_tiny_pairs(tmp_path_factory.mktemp("tiny_pairs"))


TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@pytest.fixture(scope="session")
def tiny_text_dir(tmp_path_factory):
    """A 1-layer, 32-wide BERT with MiniLM's tokenizer, saved like any local transformers model."""
    from transformers import BertConfig, BertModel

    from ashnet.models.text import default_text_model_path

    out = tmp_path_factory.mktemp("tiny_bert")
    for name in TOKENIZER_FILES:
        shutil.copy(default_text_model_path() / name, out / name)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def tiny_model_config(tiny_text_dir):
    """The one tiny model of the unit tests: ``tiny_model_config(**abstract) -> ModelConfig``.

    The ``tiny_cnn`` backbone (128 channels, stride 8), the tiny BERT text model (frozen, 12 tokens),
    8-wide embeddings and a 16-wide spiking encoder (2 heads, 1 block, 4 steps); ``abstract`` sets
    other ``model.abstract`` keys (``enabled=False``: the ANN-only model). Build it with
    ``build_model`` after ``torch.manual_seed``. Tests of whole runs use the packaged ``tiny`` config.
    """

    def make(**abstract) -> ModelConfig:
        abstract = {"dim": 16, "heads": 2, "depth": 1, "time_steps": 4, **abstract}
        return ModelConfig(
            concrete=ConcreteConfig(backbone="tiny_cnn"),
            abstract=AbstractConfig(**abstract),
            text=TextConfig(path=tiny_text_dir, max_length=12),
            embed_dim=8,
        )

    return make


@pytest.fixture(scope="session")
def tiny_mlp_run(tmp_path_factory, tiny_pairs):
    """A 3-step run of the tiny config with a token-wise (mlp) spiking encoder, trained once per session."""
    run = tmp_path_factory.mktemp("tiny_mlp_run") / "run"
    argv = ["train", "--config", "tiny", "--data", str(tiny_pairs), "--out", str(run)]
    assert main(argv + ["--set", "model.abstract.block=mlp"]) == 0
    return run


def huge_png(path, width, height):
    """A valid PNG header claiming width x height pixels, with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def truncated_png(path):
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


HOSTILE = {
    "corrupt": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image"), "cannot be read"),
    "not an image": (lambda p: p.write_text("hello"), "cannot be read"),
    "truncated": (truncated_png, "cannot be read"),
    "zero-byte": (lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    # Over Pillow's decompression-bomb limit (refused on open) and in its warning band.
    "huge": (lambda p: huge_png(p, 100_000, 100_000), "too large"),
    "large": (lambda p: huge_png(p, 10_000, 10_000), "too large"),
}


@pytest.fixture(scope="session")
def hostile_images():
    """``{kind: (make(path), message)}``: ways to break an image file, and what the error says."""
    return HOSTILE


@pytest.fixture(params=list(HOSTILE))
def hostile_image(request):
    """Each hostile image file in turn: ``(kind, make(path), message)``."""
    return (request.param, *HOSTILE[request.param])


@pytest.fixture(scope="session")
def tiny_scenes(tmp_path_factory):
    """Path of a 40-scene ``scenes.json`` (64 px; 32/4/4 train/val/test) built from 300 OpenMoji emoji."""
    from ashnet.data import build_openmoji, build_scenes

    root = tmp_path_factory.mktemp("tiny_scenes")
    build_openmoji(root / "openmoji", size=32, limit=300, progress=False)
    return build_scenes(
        root / "scenes", n_scenes=40, size=64, seed=0, openmoji_dir=root / "openmoji", progress=False
    )
