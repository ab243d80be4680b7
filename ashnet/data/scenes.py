"""The scenes dataset: canvases of 1-6 OpenMoji emoji at known boxes, with captions and per-task examples.

``build_scenes`` writes ``OUT/images/*.png`` and one COCO-style ``OUT/scenes.json``:

* ``images``: ``id``, ``file_name``, ``width``, ``height``, ``split``;
* ``annotations``: captions (``id``, ``image_id``, ``caption``), so the file is also a pairs file
  for ``ashnet train``;
* ``categories``: the emoji used (``id``, ``name``, ``emoji``, ``split``);
* ``objects``: every emoji drawn (``id``, ``image_id``, ``category_id``, ``bbox`` ``[x, y, w, h]``
  in pixels around its ink, ``phrase``);
* ``tasks``: per task a list of examples (see :data:`TASKS`), each with an ``id``, its text, its
  target, and ``template`` plus ``slots`` (emoji slots hold category ids) to word it again in another
  language (:mod:`ashnet.data.scene_text`).

:func:`ashnet.data.scene_multilingual.enrich` adds ``<text field>_<lang>`` (``question_sw``) in
Japanese, Swahili and Urdu, a ``rationale`` on every example, odd-one-out scenes and the tasks
``unrelated``, ``colour``, ``recognise`` and ``rationale``; readers ignore keys they do not know.
Emoji are split by
:func:`ashnet.data.openmoji.emoji_split` (by concept), so a test scene holds only test emoji.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ashnet.data.formats import load_pairs
from ashnet.data.openmoji import build_openmoji, concept, emoji_split, load_manifest
from ashnet.data.scene_multilingual import (
    EXTRA_TASKS,
    SLOTS,
    enrich,
    main_colour,
    odd_one_out,
    unrelated_example,
)
from ashnet.data.scene_text import POSITIONS, render
from ashnet.data.table import SPLITS
from ashnet.files import write_atomic

logger = logging.getLogger(__name__)

# Bump when layouts, texts or the JSON change, so that cached builds are rebuilt.
BUILDER_VERSION = 2
SCENES = "scenes.json"
MANIFEST = "manifest.json"
MAX_OBJECTS = 6
MAX_KINDS = 3
# The tasks a scenes file holds examples for, in the order the CLI lists them.
TASKS = ("itm", "vqa", "ve", "nlvr2", "grounding", "count")
SCENE_SPLITS = {"train": 0.8, "val": 0.1, "test": 0.1}


@dataclass
class _Emoji:
    name: str
    text: str
    path: Path
    split: str
    ink: tuple[float, float, float, float] | None = None  # (x0, y0, x1, y1) as fractions of the side


@dataclass
class _Object:
    kind: int  # index into the emoji pool
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels

    @property
    def bbox(self) -> list[float]:
        """COCO's ``[x, y, width, height]``, to 0.1 pixel."""
        x0, y0, x1, y1 = (round(v, 1) for v in self.box)
        return [x0, y0, round(x1 - x0, 1), round(y1 - y0, 1)]

    @property
    def centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


def build_scenes(
    out_dir: str | Path,
    n_scenes: int = 3000,
    size: int = 128,
    seed: int = 0,
    openmoji_dir: str | Path | None = None,
    emoji_limit: int | None = None,
    progress: bool = True,
) -> Path:
    """Compose ``n_scenes`` scenes of ``size`` x ``size`` pixels and write ``out_dir/scenes.json``.

    About 80% of the scenes are train, 10% val, 10% test; each draws its emoji (base emoji only,
    no skin-tone variants) from the OpenMoji emoji of its own split. The OpenMoji images are built
    (cached) in ``openmoji_dir`` (default ``out_dir/openmoji``) at half the scene size, from the
    first ``emoji_limit`` emoji when given. Everything follows from ``seed``; a second call with the
    same arguments only checks the cache.

    Returns
    -------
    Path
        ``out_dir/scenes.json``; read its examples with :func:`ashnet.data.load_task`.
    """
    for name, value, low in (("n_scenes", n_scenes, 1), ("size", size, 48), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a directory, but {out_dir} is a file")
    openmoji_dir = Path(openmoji_dir) if openmoji_dir is not None else out_dir / "openmoji"
    pairs = build_openmoji(openmoji_dir, size=max(32, size // 2), limit=emoji_limit, progress=progress)
    key = {
        "builder": BUILDER_VERSION,
        "n_scenes": n_scenes,
        "size": size,
        "seed": seed,
        "openmoji": load_manifest(openmoji_dir)["key"],
    }
    scenes_file = out_dir / SCENES
    manifest = load_manifest(out_dir)
    if manifest is not None and manifest.get("key") == key and scenes_file.is_file():
        if sum(1 for _ in (out_dir / "images").glob("*.png")) == manifest.get("n_images"):
            return scenes_file

    (out_dir / MANIFEST).unlink(missing_ok=True)
    pools = _emoji_pools(pairs)
    for split in SPLITS:
        if len(pools[split]) < MAX_KINDS + 2:
            raise ValueError(
                f"the OpenMoji build in {openmoji_dir} has only {len(pools[split])} {split} emoji; "
                f"scenes need at least {MAX_KINDS + 2} per split (raise emoji_limit)"
            )
    data = _compose(out_dir, pools, n_scenes, size, seed, progress)
    write_atomic(scenes_file, json.dumps(data, ensure_ascii=False).encode("utf-8"))
    summary = {
        "key": key,
        "n_images": len(data["images"]),
        "splits": {s: sum(i["split"] == s for i in data["images"]) for s in SPLITS},
        "tasks": {t: len(v) for t, v in data["tasks"].items()},
    }
    write_atomic(out_dir / MANIFEST, json.dumps(summary, indent=1).encode("utf-8"))
    logger.info("scenes: %d images in %s", len(data["images"]), out_dir)
    return scenes_file


def _emoji_pools(pairs: Path) -> dict[str, list[_Emoji]]:
    """The OpenMoji emoji per split (:func:`emoji_split`), one per concept and name, in file order.

    One emoji stands for each concept, so a scene never holds two variants that look alike
    ("man farmer", "woman farmer"); skin-tone variants are left out.
    """
    pools: dict[str, list[_Emoji]] = {s: [] for s in SPLITS}
    seen: set[str] = set()
    for record in load_pairs(pairs, on_bad_row="error").images:
        text = "".join(chr(int(c, 16)) for c in record.path.stem.split("-"))
        name = record.captions[0]
        if any(0x1F3FB <= ord(c) <= 0x1F3FF for c in text) or concept(text) in seen or name in seen:
            continue
        seen.update((concept(text), name))
        split = emoji_split(text)
        pools[split].append(_Emoji(name, text, record.path, split))
    return pools


def _ink(emoji: _Emoji) -> tuple[float, float, float, float]:
    """The bounding box of the drawing (non-white pixels) as fractions of the image side."""
    if emoji.ink is None:
        with Image.open(emoji.path) as image:
            pixels = np.asarray(image.convert("RGB"))
        ys, xs = np.nonzero(pixels.min(axis=2) < 245)
        side = pixels.shape[0]
        if len(xs) == 0:
            emoji.ink = (0.0, 0.0, 1.0, 1.0)
        else:
            emoji.ink = (xs.min() / side, ys.min() / side, (xs.max() + 1) / side, (ys.max() + 1) / side)
    return emoji.ink


def _layout(
    rng: np.random.Generator, pool: list[_Emoji], size: int, members: list[int] | None = None
) -> tuple[list[_Object], list]:
    """Choose 1-6 objects of 1-3 kinds (or place ``members``, pool indices) without overlap; return
    objects and placements."""
    if members is None:
        n = int(rng.integers(1, MAX_OBJECTS + 1))
        k = int(rng.integers(1, min(MAX_KINDS, n) + 1))
        kinds = rng.choice(len(pool), k, replace=False).tolist()
        cuts = sorted(rng.choice(np.arange(1, n), k - 1, replace=False).tolist()) if k > 1 else []
        counts = np.diff([0, *cuts, n]).tolist()
        members = [kind for kind, c in zip(kinds, counts, strict=True) for _ in range(c)]
    n = len(members)
    low, high = size // 6, size // 3
    for shrink in np.linspace(1.0, 0.5, 6):
        sides = (rng.integers(low, high + 1, n) * shrink).astype(int).clip(min=8)
        placed: list[tuple[int, int, int]] = []
        for side in sides:
            for _ in range(60):
                x, y = (int(v) for v in rng.integers(0, size - side + 1, 2))
                if all(x + side + 2 <= px or px + ps + 2 <= x or y + side + 2 <= py or py + ps + 2 <= y
                       for px, py, ps in placed):  # fmt: skip
                    placed.append((x, y, int(side)))
                    break
            else:
                break
        if len(placed) == n:
            break
    else:  # pragma: no cover - 6 objects of 8 px always fit a 48 px canvas
        raise RuntimeError("could not place the scene's objects")
    objects = []
    for kind, (x, y, side) in zip(members, placed, strict=True):
        f = _ink(pool[kind])
        objects.append(_Object(kind, (x + f[0] * side, y + f[1] * side, x + f[2] * side, y + f[3] * side)))
    return objects, placed


def _draw(objects: list[_Object], placed: list, pool: list[_Emoji], size: int) -> bytes:
    canvas = Image.new("RGB", (size, size), "white")
    for obj, (x, y, side) in zip(objects, placed, strict=True):
        with Image.open(pool[obj.kind].path) as image:
            canvas.paste(image.convert("RGB").resize((side, side), Image.Resampling.LANCZOS), (x, y))
    png = io.BytesIO()
    canvas.save(png, format="PNG")
    return png.getvalue()


class _Scene:
    """One composed scene and the facts its texts are made of."""

    def __init__(self, image_id: int, objects: list[_Object], pool: list[_Emoji], size, category, first):
        self.id, self.objects, self.pool, self.size = image_id, objects, pool, size
        self.category = category  # pool index -> category id in the JSON
        self.object_ids = {id(obj): first + i for i, obj in enumerate(objects)}
        self.margin = 0.06 * size
        self.by_kind: dict[int, list[_Object]] = {}
        for obj in objects:
            self.by_kind.setdefault(obj.kind, []).append(obj)
        # kinds in reading order of their leftmost member
        self.kinds = sorted(self.by_kind, key=lambda k: min(o.centre[0] for o in self.by_kind[k]))
        self.unique = [k for k in self.kinds if len(self.by_kind[k]) == 1]

    def count(self, kind: int) -> int:
        return len(self.by_kind.get(kind, []))

    def quadrant(self, obj: _Object) -> str | None:
        """The quadrant of the box centre, or None within ``margin`` of a midline."""
        cx, cy = obj.centre
        half = self.size / 2
        if abs(cx - half) < self.margin or abs(cy - half) < self.margin:
            return None
        return POSITIONS[2 * (cy > half) + (cx > half)]

    @staticmethod
    def relation(a: _Object, b: _Object) -> list[str]:
        """The relations that clearly hold from ``a`` to ``b`` (boxes apart along that axis)."""
        out = []
        if a.box[2] < b.box[0]:
            out.append("left of")
        if b.box[2] < a.box[0]:
            out.append("right of")
        if a.box[3] < b.box[1]:
            out.append("above")
        if b.box[3] < a.box[1]:
            out.append("below")
        return out

    def absent(self, rng: np.random.Generator) -> int:
        """A kind of the same split that the scene does not hold."""
        while True:
            kind = int(rng.integers(len(self.pool)))
            if kind not in self.by_kind:
                return kind

    def related_pairs(self) -> list[tuple[int, int, str]]:
        return [
            (x, y, r)
            for x in self.unique
            for y in self.unique
            if x != y
            for r in self.relation(self.by_kind[x][0], self.by_kind[y][0])
        ]


def _compose(out_dir: Path, pools: dict, n_scenes: int, size: int, seed: int, progress: bool) -> dict:
    from ashnet.data.scene_examples import scene_examples, split_pairs

    images_dir = out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    n_val = n_test = max(1, round(SCENE_SPLITS["val"] * n_scenes)) if n_scenes >= 3 else 0
    order = ["train"] * (n_scenes - n_val - n_test) + ["val"] * n_val + ["test"] * n_test
    # Odd-one-out scenes for unrelatedness, a tenth as many as the others, split alike.
    n_odd = n_scenes // 10
    odd_val = odd_test = max(1, round(SCENE_SPLITS["val"] * n_odd)) if n_odd >= 3 else 0
    order += ["train"] * (n_odd - odd_val - odd_test) + ["val"] * odd_val + ["test"] * odd_test
    data: dict = {
        "info": {
            "description": "ashnet scenes: OpenMoji emoji composed on white canvases",
            "builder_version": BUILDER_VERSION,
            "seed": seed,
            "size": size,
            "tasks": list(TASKS),
        },
        "licenses": [{"id": 1, "name": "CC BY-SA 4.0 (OpenMoji)", "url": "https://openmoji.org"}],
        "categories": [],
        "images": [],
        "annotations": [],
        "objects": [],
        "tasks": {t: [] for t in (*TASKS, EXTRA_TASKS[0])},
    }
    used: dict[tuple[str, int], int] = {}
    scenes: dict[str, list[_Scene]] = {s: [] for s in SPLITS}
    keep = set()
    bar = tqdm(order, desc="composing scenes", unit="scene", disable=not progress)
    for image_id, split in enumerate(bar):
        rng = np.random.default_rng([seed, image_id])
        pool = pools[split]
        odd = odd_one_out(rng, [e.text for e in pool]) if image_id >= n_scenes else None
        if image_id >= n_scenes and odd is None:
            continue  # the split has no family of three
        objects, placed = _layout(rng, pool, size, None if odd is None else odd[0])
        name = f"{image_id:06d}.png"
        keep.add(name)
        write_atomic(images_dir / name, _draw(objects, placed, pool, size))
        data["images"].append(
            {"id": image_id, "file_name": f"images/{name}", "width": size, "height": size, "split": split}
        )

        def category(kind: int, split=split) -> int:
            if (split, kind) not in used:
                emoji = pools[split][kind]
                used[(split, kind)] = len(data["categories"])
                data["categories"].append(
                    {
                        "id": used[(split, kind)],
                        "name": emoji.name,
                        "emoji": emoji.text,
                        "split": split,
                        "colour": main_colour(emoji.path),
                    }
                )
            return used[(split, kind)]

        for obj in objects:
            data["objects"].append(
                {
                    "id": len(data["objects"]),
                    "image_id": image_id,
                    "category_id": category(obj.kind),
                    "bbox": obj.bbox,
                    "phrase": render("phrase", x=pool[obj.kind].name),
                }
            )
        if odd is not None:
            members, odd_family, other_family = odd
            ids = [category(kind) for kind in members]
            slots = {**dict(zip(SLOTS, ids, strict=True)), **dict.fromkeys("nmkj", 1)}
            caption = {"image_id": image_id, "caption": None, "template": "caption_four", "slots": slots}
            data["annotations"].append({"id": len(data["annotations"]), **caption})
            example = unrelated_example(image_id, ids, odd_family, other_family, rng)
            data["tasks"]["unrelated"].append({"id": len(data["tasks"]["unrelated"]), **example})
            continue
        first_object = len(data["objects"]) - len(objects)
        scene = _Scene(image_id, objects, pool, size, category, first_object)
        scenes[split].append(scene)
        for task, examples in scene_examples(scene, rng).items():
            target = data["annotations"] if task == "annotations" else data["tasks"][task]
            for example in examples:
                target.append({"id": len(target), **example})
    for split in SPLITS:
        rng = np.random.default_rng([seed, n_scenes, SPLITS.index(split)])
        for example in split_pairs(scenes[split], rng):
            data["tasks"]["nlvr2"].append({"id": len(data["tasks"]["nlvr2"]), **example})
    for png in images_dir.glob("*.png"):
        if png.name not in keep:
            png.unlink()
    enrich(data, seed)
    return data
