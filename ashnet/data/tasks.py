"""Examples of the vision-language tasks, read from a scenes-style JSON file, with bad rows named and counted.

A task file is the ``scenes.json`` of :func:`ashnet.data.build_scenes` (or of
:func:`ashnet.data.build_easy_vqa`): ``images`` with ``id``, ``file_name``, ``split`` (and
``width``/``height``), and ``tasks.<name>`` lists of examples. :func:`load_task` turns one task of
one split into :class:`TaskExample` s whose targets are checked and normalised.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ashnet.data.formats import ON_BAD_ROW, _list_bad_rows
from ashnet.data.scene_examples import VE_LABELS
from ashnet.data.scenes import TASKS
from ashnet.data.table import SPLITS, BadRow

__all__ = ["TASKS", "TEXT_FIELDS", "TaskExample", "TaskData", "load_task", "check_task"]

# The text field of each task's examples.
TEXT_FIELDS = {
    "itm": "caption",
    "vqa": "question",
    "ve": "statement",
    "nlvr2": "statement",
    "grounding": "phrase",
    "count": "question",
}


@dataclass(frozen=True)
class TaskExample:
    """One example: ``images`` (indices into :attr:`TaskData.images`; two for ``nlvr2``), its ``text``,
    its ``target`` and question ``type`` (``""`` when the task has none); ``where`` names its row.

    Targets: ``itm`` 1/0; ``vqa`` the answer string; ``ve`` one of :data:`VE_LABELS`; ``nlvr2``
    True/False; ``grounding`` the box ``(x0, y0, x1, y1)`` as fractions of the image side;
    ``count`` an int >= 0.
    """

    images: tuple[int, ...]
    text: str
    target: Any
    type: str = ""
    where: str = ""


@dataclass
class TaskData:
    """The examples of one task and split, the image files of the split and the rows that were skipped."""

    task: str
    split: str
    source: Path
    images: list[Path]
    examples: list[TaskExample]
    bad_rows: list[BadRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def texts(self) -> list[str]:
        """The distinct texts, in order of first use."""
        return list(dict.fromkeys(e.text for e in self.examples))


def check_task(task: str) -> str:
    """``task`` itself, or a ValueError naming the tasks there are."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


def _target(task: str, example: dict, image: dict | None) -> Any:
    """The checked target of an example; ValueError with the reason when it is unusable."""
    if task == "itm":
        label = example.get("label")
        if label not in (0, 1) or isinstance(label, float):
            raise ValueError(f"label must be 1 (match) or 0 (no match), got {label!r}")
        return int(label)
    if task == "vqa":
        answer = example.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            raise ValueError(f"answer must be a non-empty string, got {answer!r}")
        return answer.strip().lower()
    if task == "ve":
        label = example.get("label")
        if label not in VE_LABELS:
            raise ValueError(f"label must be one of {', '.join(VE_LABELS)}, got {label!r}")
        return label
    if task == "nlvr2":
        label = example.get("label")
        if not isinstance(label, bool):
            raise ValueError(f"label must be true or false, got {label!r}")
        return label
    if task == "count":
        answer = example.get("answer")
        if isinstance(answer, str) and answer.isdigit():
            answer = int(answer)
        if isinstance(answer, bool) or not isinstance(answer, int) or answer < 0:
            raise ValueError(f"answer must be a count (an int >= 0), got {answer!r}")
        return answer
    box = example.get("bbox")
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
        raise ValueError(f"bbox must be [x, y, width, height] in pixels, got {box!r}")
    width, height = image.get("width"), image.get("height")
    if not isinstance(width, int) or not isinstance(height, int) or width < 1 or height < 1:
        raise ValueError("grounding needs the image's 'width' and 'height'")
    x, y, w, h = box
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width + 0.5 or y + h > height + 0.5:
        raise ValueError(f"bbox {box} lies (partly) outside the {width}x{height} image or is empty")
    return (x / width, y / height, min(1.0, (x + w) / width), min(1.0, (y + h) / height))


def load_task(
    path: str | Path,
    task: str,
    split: str,
    on_bad_row: str = "skip",
    language: str | None = None,
) -> TaskData:
    """Read the ``task`` examples of ``split`` from a task JSON file.

    Parameters
    ----------
    path
        ``scenes.json`` or any file of the same layout; image files are relative to its folder.
    task
        One of :data:`TASKS`.
    split
        ``train``, ``val`` or ``test``: the split of the (first) image of each example.
    on_bad_row
        ``"skip"`` drops unusable examples (unknown or missing image, a pair with a missing member,
        a box outside its image, a label of the wrong kind, an empty text) into
        :attr:`TaskData.bad_rows`, each naming its row; ``"error"`` raises a ValueError listing them.
    language
        Read the text from ``<text field>_<language>`` (e.g. ``question_sw``) instead; examples
        without it are bad rows.

    Raises
    ------
    FileNotFoundError, ValueError
        No such file; not JSON; no ``tasks.<task>`` list; an unknown task or split.
    """
    check_task(task)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if on_bad_row not in ON_BAD_ROW:
        raise ValueError(f"on_bad_row must be one of {ON_BAD_ROW}, got {on_bad_row!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"task file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a UTF-8 JSON file ({err})") from None
    examples = (data.get("tasks") or {}).get(task) if isinstance(data, dict) else None
    if not isinstance(examples, list) or not isinstance(data.get("images"), list):
        held = ", ".join(data.get("tasks") or {}) if isinstance(data, dict) else ""
        raise ValueError(
            f"{path} has no 'images' list or no 'tasks.{task}' list of examples "
            f"(its tasks: {held or 'none'}); build one with `ashnet data build scenes`"
        )
    images = {i["id"]: i for i in data["images"] if isinstance(i, dict) and "id" in i}
    text_field = TEXT_FIELDS[task] + (f"_{language}" if language else "")
    root = path.absolute().parent

    def file(image_id) -> Path:  # resolved as load_pairs does, so cached features are shared
        return Path(os.path.normpath(root / str(images[image_id].get("file_name", ""))))

    # Every image of the split, in file order, so that all tasks (and retrieval training on the
    # same file) share one feature cache; images of examples from other splits follow.
    in_split = [i for i, e in images.items() if e.get("split", "train") == split and file(i).is_file()]
    files: dict[Any, int] = {i: n for n, i in enumerate(in_split)}
    out = TaskData(task, split, path, [], [])
    for row, example in enumerate(examples):
        where = f"{path.name}:tasks.{task}[{row}]"
        try:
            if not isinstance(example, dict):
                raise ValueError("an example must be a JSON object")
            ids = example.get("image_ids") if task == "nlvr2" else [example.get("image_id")]
            if not isinstance(ids, list) or len(ids) != (2 if task == "nlvr2" else 1):
                raise ValueError(f"image_ids must name two images (left, right), got {ids!r}")
            missing = [i for i in ids if i not in images]
            if missing:
                member = "pair member " if task == "nlvr2" else ""
                raise ValueError(f"{member}image_id {missing[0]!r} is not in 'images'")
            if images[ids[0]].get("split", "train") != split:
                continue
            text = example.get(text_field)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"'{text_field}' must be a non-empty string, got {text!r}")
            target = _target(task, example, images[ids[0]])
            for i in ids:
                if not file(i).is_file():
                    raise ValueError(f"image file not found: {file(i)}")
        except ValueError as err:
            out.bad_rows.append(BadRow(where, str(err)))
            continue
        index = tuple(files.setdefault(i, len(files)) for i in ids)
        out.examples.append(TaskExample(index, text.strip(), target, str(example.get("type", "")), where))
    out.images = [file(i) for i in files]
    if on_bad_row == "error" and out.bad_rows:
        raise ValueError(f"{path}: {len(out.bad_rows)} bad example(s):\n{_list_bad_rows(out.bad_rows)}")
    return out
