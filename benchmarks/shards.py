"""Benchmark: images per second decoded to tensors from a CSV pairs file and from WebDataset shards of it.

The same N images (JPEG by default, as img2dataset writes them) are read three ways, each through a
``torch`` DataLoader with the same batch size and worker count:

* ``csv``: the CSV reader (``load_pairs`` + ``ImageTextDataset``), one image file per sample;
* ``shard-index``: the shards read as a table (``load_pairs('…/{000000..N}.tar')``), images by offset,
  which is what ``ashnet train`` and ``ashnet eval`` do with shards;
* ``shard-stream``: ``ashnet.data.shards.shard_stream``, sequential tar reads split across workers.

Every reader makes one untimed pass first (so all read from the page cache), then rounds run each
reader in turn (a load change on a shared machine hits all alike); the median images/s is reported
with the load average. Usage: ``python benchmarks/shards.py --images 2000 --workers 0 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from ashnet.data import ImageTextDataset, load_pairs
from ashnet.data.shards import shard_spec, shard_stream, write_shards


def make_images(folder: Path, n: int, size: int, fmt: str) -> Path:
    """``n`` images of random shapes on random backgrounds, and their ``pairs.csv``."""
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["image,caption"]
    for i in range(n):
        image = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            box = sorted(rng.randrange(size) for _ in range(2)), sorted(rng.randrange(size) for _ in range(2))
            draw.ellipse(
                (box[0][0], box[1][0], box[0][1], box[1][1]), fill=tuple(rng.randrange(256) for _ in range(3))
            )
        name = f"{i:06d}.{fmt}"
        image.save(folder / name, quality=90) if fmt == "jpg" else image.save(folder / name)
        rows.append(f"{name},image {i}")
    (folder / "pairs.csv").write_text("\n".join(rows) + "\n")
    return folder / "pairs.csv"


def readers(pairs: Path, spec: str, image_size: int) -> dict:
    return {
        "csv": ImageTextDataset(load_pairs(pairs), image_size),
        "shard-index": ImageTextDataset(load_pairs(spec), image_size),
        "shard-stream": shard_stream(spec, image_size),
    }


def one_pass(dataset, batch_size: int, workers: int) -> tuple[int, float]:
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    start, count = time.perf_counter(), 0
    for images, *_ in loader:
        count += len(images)
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256, help="side of the stored images")
    parser.add_argument("--image-size", type=int, default=128, help="side of the decoded tensors")
    parser.add_argument("--format", choices=["jpg", "png"], default="jpg")
    parser.add_argument("--samples-per-shard", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ashnet_shards_") as tmp:
        pairs = make_images(Path(tmp) / "images", args.images, args.size, args.format)
        spec = shard_spec(write_shards(load_pairs(pairs), Path(tmp) / "shards", args.samples_per_shard))
        results = []
        for workers in args.workers:
            sets = readers(pairs, spec, args.image_size)
            times: dict[str, list[float]] = {name: [] for name in sets}
            for dataset in sets.values():
                one_pass(dataset, args.batch_size, workers)  # warm the page cache and the workers' imports
            for _ in range(args.rounds):
                for name, dataset in sets.items():
                    count, seconds = one_pass(dataset, args.batch_size, workers)
                    assert count == args.images, (name, count)
                    times[name].append(count / seconds)
            for name, rates in times.items():
                results.append({"reader": name, "workers": workers, "images_per_s": statistics.median(rates)})
                print(f"{name:13s} workers {workers}: {statistics.median(rates):8.0f} images/s")
    load_after = os.getloadavg()
    print(f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after ({os.cpu_count()} CPUs)")
    if args.out:
        meta = {key: getattr(args, key) for key in ("images", "size", "image_size", "format", "batch_size")}
        record = {"results": results, "load_before": load_before, "load_after": load_after, **meta}
        args.out.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
