"""The easy-VQA data set (PyPI ``easy-vqa``: 64 px shapes, 13 answers) as a task file like ``scenes.json``.

``build_easy_vqa`` copies the package's 4,000 + 1,000 images and writes ``OUT/easy_vqa.json`` with
``images`` (``id``, ``file_name``, ``width``, ``height``, ``split``) and ``tasks.vqa`` (``id``,
``image_id``, ``question``, ``answer``, ``type``), so :func:`ashnet.data.load_task` and every
``--task vqa`` command read it like the scenes. The package has a train and a test split; every
tenth train image (and its questions) becomes val, so settings can be chosen without the test set.
Question types follow the answer: ``yes/no``, ``shape`` or ``color``.
"""

from __future__ import annotations

import json
import shutil
from importlib.metadata import version
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from ashnet.data.openmoji import load_manifest
from ashnet.files import write_atomic

__all__ = ["build_easy_vqa", "EASY_VQA"]

BUILDER_VERSION = 1
EASY_VQA = "easy_vqa.json"
MANIFEST = "manifest.json"
SHAPES = ("circle", "rectangle", "triangle")
# Every VAL_EVERY-th train image (by the package's image id) is held out as val.
VAL_EVERY = 10


def _type(answer: str) -> str:
    return "yes/no" if answer in ("yes", "no") else "shape" if answer in SHAPES else "color"


def build_easy_vqa(out_dir: str | Path, progress: bool = True) -> Path:
    """Copy easy-VQA into ``out_dir/images`` and write ``out_dir/easy_vqa.json`` (cached).

    Returns
    -------
    Path
        ``out_dir/easy_vqa.json``, readable with ``load_task(path, "vqa", split)``.
    """
    import easy_vqa

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a directory, but {out_dir} is a file")
    target = out_dir / EASY_VQA
    key = {"builder": BUILDER_VERSION, "easy-vqa": version("easy-vqa")}
    manifest = load_manifest(out_dir)
    if manifest is not None and manifest.get("key") == key and target.is_file():
        return target
    (out_dir / MANIFEST).unlink(missing_ok=True)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    data: dict = {
        "info": {"description": "easy-VQA (PyPI easy-vqa) as an ashnet task file", "answers": []},
        "images": [],
        "tasks": {"vqa": []},
    }
    data["info"]["answers"] = easy_vqa.get_answers()
    sources = [
        ("train", easy_vqa.get_train_image_paths(), easy_vqa.get_train_questions()),
        ("test", easy_vqa.get_test_image_paths(), easy_vqa.get_test_questions()),
    ]
    for part, paths, (texts, answers, image_ids) in sources:
        ids = {}
        for number in tqdm(sorted(paths), desc=f"easy-vqa {part}", disable=not progress):
            split = "val" if part == "train" and number % VAL_EVERY == VAL_EVERY - 1 else part
            name = f"{part}_{number}.png"
            shutil.copyfile(paths[number], out_dir / "images" / name)
            with Image.open(paths[number]) as image:
                width, height = image.size
            ids[number] = len(data["images"])
            entry = {"id": ids[number], "file_name": f"images/{name}", "width": width, "height": height}
            data["images"].append({**entry, "split": split})
        for text, answer, number in zip(texts, answers, image_ids, strict=True):
            data["tasks"]["vqa"].append(
                {
                    "id": len(data["tasks"]["vqa"]),
                    "image_id": ids[number],
                    "question": text,
                    "answer": answer,
                    "type": _type(answer),
                }
            )
    write_atomic(target, json.dumps(data).encode("utf-8"))
    splits = {s: sum(i["split"] == s for i in data["images"]) for s in ("train", "val", "test")}
    n_questions = len(data["tasks"]["vqa"])
    summary = {"key": key, "n_images": len(data["images"]), "splits": splits, "tasks": {"vqa": n_questions}}
    write_atomic(out_dir / MANIFEST, json.dumps(summary, indent=1).encode("utf-8"))
    return target
