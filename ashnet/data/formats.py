"""Readers for image-caption files (CSV/TSV, JSON-lines, COCO-captions and Karpathy JSON) into a PairTable."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ashnet.data.images import open_image
from ashnet.data.shards import is_shard_spec, read_shards
from ashnet.data.table import SPLITS, BadRow, ImageRecord, PairTable

logger = logging.getLogger(__name__)

ON_BAD_ROW = ("skip", "error")
EXPECTED_COLUMNS = "image,caption[,split][,caption_<lang>...]"
EXTRA_PREFIX = "caption_"
# How many bad rows a warning or an error message lists before "... and N more".
LISTED_BAD_ROWS = 5


def load_pairs(
    path: str | Path,
    on_bad_row: str = "skip",
    verify_images: bool = False,
    image_root: str | Path | None = None,
    image_key: str = "image",
    caption_key: str = "caption",
    split_key: str = "split",
) -> PairTable:
    """Read an image-caption file into a :class:`PairTable`, grouping captions per image.

    The format follows the extension: ``.csv`` / ``.tsv`` with a header
    ``image,caption[,split][,caption_<lang>...]``; ``.jsonl`` with the same keys on each line;
    ``.json`` in COCO-captions form (``images`` + ``annotations``; an image entry may carry a
    ``split``, an annotation ``caption_<lang>`` keys) or Karpathy-split form (``images`` with
    ``filename``, ``split``, ``sentences``),
    such as ``scenes.json`` of :func:`ashnet.data.build_scenes`. Rows naming the same image are
    grouped into one record. Rows without a split are ``"train"``; Karpathy's ``restval`` is
    ``"train"``. An empty ``caption_<lang>`` value means "no caption in that language".

    CSV/TSV columns and JSON-lines keys other than these are ignored and listed in the table's
    ``ignored_columns`` (exports such as CC3M/CC12M TSVs or LAION metadata carry many). Their
    image, caption and split columns may have other names: ``image_key``, ``caption_key`` and
    ``split_key`` name them (open_clip's ``--csv-img-key`` / ``--csv-caption-key``).

    Parameters
    ----------
    path : str or Path
        The pairs file.
    on_bad_row : {"skip", "error"}
        What to do with unusable rows (missing, empty or unreadable image; empty caption;
        caption that is not valid UTF-8; unknown split; malformed line): ``"skip"`` drops
        them, counts them in ``bad_rows`` and logs one warning; ``"error"`` raises.
    verify_images : bool
        Decode every image now, so corrupt, truncated or oversized images become bad rows
        before training rather than errors during it.
    image_root : str or Path, optional
        Directory that relative image paths are relative to; the file's directory by default.
    image_key, caption_key, split_key : str
        The CSV/TSV columns (JSON-lines keys) holding the image path, the caption and the split.
        The split column is optional; without one every row is ``"train"``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is empty, undecodable, lacks the image or caption column (the message lists
        the columns it has), has no usable rows, or (with ``on_bad_row="error"``) has any bad row.
        Messages name the file.
    """
    if on_bad_row not in ON_BAD_ROW:
        raise ValueError(f"on_bad_row must be one of {ON_BAD_ROW}, got {on_bad_row!r}")
    keys = Keys(image_key, caption_key, split_key)
    if is_shard_spec(path):
        builder = _TableBuilder(Path(str(path)), Path("."), verify_images, keys, name_rows_by_file=False)
        read_shards(path, builder)
        return builder.finish(on_bad_row)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pairs file not found: {path}")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"{path}: unknown pairs file type; expected one of {', '.join(_READERS)}")
    # Undecodable bytes survive as lone surrogates, so the rows holding them can be reported.
    text = path.read_bytes().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    if not text.strip():
        raise ValueError(f"{path}: file is empty; expected {_expected(path)}")
    root = Path(image_root) if image_root is not None else path.absolute().parent
    builder = _TableBuilder(path, root, verify_images, keys)
    reader(text, builder)
    return builder.finish(on_bad_row)


@dataclass(frozen=True)
class Keys:
    """The names of the image, caption and split columns (JSON-lines keys)."""

    image: str = "image"
    caption: str = "caption"
    split: str = "split"

    def check_names(self, names: list[str], where: str) -> tuple[list[str], list[str]]:
        """Check a header (or a JSON-lines object's keys); return the ``caption_<lang>`` languages
        it holds and the names it ignores."""
        if not _is_utf8("".join(names)):
            raise ValueError(f"{where}: column names are not valid UTF-8")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{where}: column {repeated[0]!r} appears more than once")
        for key, option in ((self.image, "--image-key"), (self.caption, "--caption-key")):
            if key not in names:
                found = ", ".join(names) if names else "none"
                raise ValueError(
                    f"{where}: no {key!r} column (name the one to use with {option}); its columns: {found}"
                )
        known = {self.image, self.caption, self.split}
        langs = [n for n in names if n.startswith(EXTRA_PREFIX) and n != EXTRA_PREFIX and n not in known]
        ignored = [n for n in names if n not in known and n not in langs]
        return [n.removeprefix(EXTRA_PREFIX) for n in langs], ignored


def _expected(path: Path) -> str:
    if path.suffix.lower() == ".json":
        return "COCO-captions or Karpathy-split JSON"
    return f"columns {EXPECTED_COLUMNS}"


class _TableBuilder:
    """Checks rows one by one, groups good ones per image and records bad ones."""

    def __init__(self, source: Path, root: Path, verify_images: bool, keys: Keys, name_rows_by_file=True):
        self.source = source
        self.prefix = f"{source}:" if name_rows_by_file else ""  # shard readers name the shard
        self.root = root
        self.verify_images = verify_images
        self.keys = keys
        self.ignored: dict[str, None] = {}  # ignored column names, in first-seen order
        self.records: dict[str, ImageRecord] = {}
        self.first_seen: dict[str, str] = {}
        self.image_errors: dict[str, str | None] = {}
        self.bad_rows: list[BadRow] = []

    def bad(self, where: str, reason: str) -> None:
        # Undecodable bytes (e.g. in an image path) are shown as \xNN so the report prints.
        printable = reason.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        self.bad_rows.append(BadRow(f"{self.prefix}{where}", printable))

    def add(
        self,
        where: str,
        image: Any,
        caption: Any,
        split: Any = "",
        extra: dict[str, Any] | None = None,
        member: tuple[int, int] | None = None,
    ) -> None:
        """Add one (image, caption) row, or record why it cannot be used.

        ``member``: the image is at ``(offset, size)`` inside the file ``image`` (a tar shard).
        """
        extra = extra or {}
        reason = self._row_problem(image, caption, split, extra)
        if reason is not None:
            self.bad(where, reason)
            return
        key = os.path.normpath(self.root / image.strip())
        if member is not None:
            key = f"{image}:{member[0]}"
        split = split or "train"
        record = self.records.get(key)
        if record is not None and record.split != split:
            self.bad(where, f"image already in split {record.split!r} at {self.first_seen[key]}")
            return
        if record is None:
            reason = self._image_problem(key, image, member)
            if reason is not None:
                self.bad(where, reason)
                return
            path = Path(image) if member is not None else Path(key)
            record = self.records[key] = ImageRecord(path, [], split, member=member)
            self.first_seen[key] = f"{self.prefix}{where}"
        record.captions.append(caption.strip())
        for lang, text in extra.items():
            if text.strip():
                record.extra.setdefault(lang, []).append(text.strip())

    def _row_problem(self, image: Any, caption: Any, split: Any, extra: dict[str, Any]) -> str | None:
        if not isinstance(image, str) or not image.strip():
            return "image path is missing, empty or not a string"
        for name, text in {"caption": caption, **{EXTRA_PREFIX + k: v for k, v in extra.items()}}.items():
            if not isinstance(text, str):
                return f"{name} is not a string"
            if not _is_utf8(text):
                return f"{name} is not valid UTF-8"
        if not caption.strip():
            return "empty caption"
        if split not in ("", *SPLITS):
            return f"unknown split {split!r}; expected one of {', '.join(SPLITS)} or empty"
        return None

    def _image_problem(self, key: str, image: str, member: tuple[int, int] | None) -> str | None:
        if key not in self.image_errors:
            path = Path(image) if member is not None else Path(key)
            self.image_errors[key] = _check_image(path, self.verify_images, member)
        return self.image_errors[key]

    def finish(self, on_bad_row: str) -> PairTable:
        bad = self.bad_rows
        if bad and on_bad_row == "error":
            raise ValueError(f"{self.source}: {len(bad)} bad row(s):\n{_list_bad_rows(bad)}")
        if not self.records:
            detail = f"; {len(bad)} bad row(s):\n{_list_bad_rows(bad)}" if bad else ""
            raise ValueError(f"{self.source}: no usable image-caption rows{detail}")
        if bad:
            logger.warning("%s: skipped %d bad row(s):\n%s", self.source, len(bad), _list_bad_rows(bad))
        return PairTable(list(self.records.values()), bad, list(self.ignored))


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_image(path: Path, verify: bool, member: tuple[int, int] | None = None) -> str | None:
    if not path.is_file():
        return f"image not found: {path}"
    if (member[1] if member is not None else path.stat().st_size) == 0:
        return f"image file is empty (0 bytes): {path}" + (f":{member[0]}" if member else "")
    if verify:
        try:
            open_image(path, member)
        except (ValueError, FileNotFoundError) as err:
            return str(err)
    return None


def _list_bad_rows(bad: list[BadRow]) -> str:
    lines = [f"  {row}" for row in bad[:LISTED_BAD_ROWS]]
    if len(bad) > LISTED_BAD_ROWS:
        lines.append(f"  ... and {len(bad) - LISTED_BAD_ROWS} more")
    return "\n".join(lines)


def _read_delimited(text: str, builder: _TableBuilder, delimiter: str) -> None:
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    source, keys = builder.source, builder.keys
    try:
        header = [name.strip() for name in next(rows)]
        extra_langs, ignored = keys.check_names(header, str(source))
        builder.ignored.update(dict.fromkeys(ignored))
        start = rows.line_num + 1
        for row in rows:
            where, start = str(start), rows.line_num + 1
            if not row:
                continue
            if len(row) != len(header):
                builder.bad(where, f"expected {len(header)} fields ({','.join(header)}), got {len(row)}")
                continue
            values = dict(zip(header, row, strict=True))
            extra = {lang: values[EXTRA_PREFIX + lang] for lang in extra_langs}
            split = values.get(keys.split, "").strip()
            builder.add(where, values[keys.image], values[keys.caption], split, extra)
    except csv.Error as err:
        raise ValueError(f"{source}:{rows.line_num}: cannot parse as CSV ({err})") from None


def _read_csv(text: str, builder: _TableBuilder) -> None:
    _read_delimited(text, builder, ",")


def _read_tsv(text: str, builder: _TableBuilder) -> None:
    _read_delimited(text, builder, "\t")


def _read_jsonl(text: str, builder: _TableBuilder) -> None:
    keys, first = builder.keys, True
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = str(number)
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            builder.bad(where, f"not valid JSON ({err.msg})")
            continue
        if not isinstance(row, dict):
            builder.bad(where, f"expected a JSON object, got {type(row).__name__}")
            continue
        names = [str(k) for k in row]
        missing = [k for k in (keys.image, keys.caption) if k not in row]
        if missing and not first:  # the first object decides the key names; later ones are rows
            builder.bad(where, f"no {missing[0]!r} key; its keys: {', '.join(names) or 'none'}")
            continue
        extra_langs, ignored = keys.check_names(names, f"{builder.source}:{number}")
        builder.ignored.update(dict.fromkeys(ignored))
        first = False
        # A missing (null) extra-language caption is absent, like an empty one.
        extra = {
            lang: row[EXTRA_PREFIX + lang] for lang in extra_langs if row[EXTRA_PREFIX + lang] is not None
        }
        split = row.get(keys.split) or ""
        builder.add(where, row[keys.image], row[keys.caption], split, extra)


def _read_json(text: str, builder: _TableBuilder) -> None:
    source = builder.source
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{source}:{err.lineno}: not valid JSON ({err.msg})") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise ValueError(f"{source}: expected a JSON object with an 'images' list ({_expected(source)})")
    if "annotations" in data:
        _read_coco(data, builder)
    elif all(isinstance(entry, dict) and "sentences" in entry for entry in images):
        _read_karpathy(images, builder)
    else:
        raise ValueError(
            f"{source}: neither COCO-captions ('images' + 'annotations') "
            "nor Karpathy-split ('images' with 'sentences') JSON"
        )


def _read_coco(data: dict, builder: _TableBuilder) -> None:
    annotations = data["annotations"]
    if not isinstance(annotations, list):
        raise ValueError(f"{builder.source}: 'annotations' must be a list")
    # image id -> (where, file name, split, [(where, caption, {lang: caption}), ...])
    by_id: dict[int | str, tuple[str, Any, Any, list[tuple[str, Any, dict]]]] = {}
    for i, entry in enumerate(data["images"]):
        image_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(image_id, int | str) or "file_name" not in entry:
            builder.bad(f"images[{i}]", "image entry needs an 'id' (number or string) and a 'file_name'")
            continue
        by_id[image_id] = (f"images[{i}]", entry["file_name"], entry.get("split", ""), [])
    for i, entry in enumerate(annotations):
        image_id = entry.get("image_id") if isinstance(entry, dict) else None
        if not isinstance(image_id, int | str) or image_id not in by_id:
            builder.bad(f"annotations[{i}]", f"annotation refers to unknown image_id {image_id!r}")
            continue
        extra = {
            key[len(EXTRA_PREFIX) :]: text
            for key, text in entry.items()
            if key.startswith(EXTRA_PREFIX) and text is not None
        }
        by_id[image_id][3].append((f"annotations[{i}]", entry.get("caption"), extra))
    for image_where, file_name, split, captions in by_id.values():
        if not captions:
            builder.bad(image_where, f"image {file_name!r} has no captions")
        for where, caption, extra in captions:
            builder.add(where, file_name, caption, split, extra)


def _read_karpathy(images: list[dict], builder: _TableBuilder) -> None:
    for i, entry in enumerate(images):
        file_name = entry.get("filename")
        if isinstance(file_name, str) and entry.get("filepath"):
            file_name = f"{entry['filepath']}/{file_name}"
        split = entry.get("split", "")
        split = "train" if split == "restval" else split
        sentences = entry["sentences"]
        if not isinstance(sentences, list) or not sentences:
            builder.bad(f"images[{i}]", f"image {file_name!r} has no sentences")
            continue
        for j, sentence in enumerate(sentences):
            raw = sentence.get("raw") if isinstance(sentence, dict) else None
            builder.add(f"images[{i}].sentences[{j}]", file_name, raw, split)


_READERS = {".csv": _read_csv, ".tsv": _read_tsv, ".jsonl": _read_jsonl, ".json": _read_json}
