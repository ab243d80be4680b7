"""Shared fixtures for the ashnet training, evaluation and CLI tests: a tiny image-caption set."""

import csv

import pytest
from PIL import Image, ImageDraw

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
