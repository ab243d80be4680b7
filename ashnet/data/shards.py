"""WebDataset tar shards: read as a table (train, eval, check), streamed per rank and worker, and written.

A shard is a tar file whose members are grouped into samples by their name up to the first dot
(the WebDataset convention, what img2dataset writes): ``KEY.jpg|jpeg|png|webp`` is the image,
``KEY.txt`` its caption and ``KEY.json`` optional metadata: the caption under ``data.caption_key``
(or a ``"captions"`` list, as :func:`write_shards` writes), the split under ``data.split_key``
and ``caption_<lang>`` captions. Other members and JSON keys are ignored and listed. A set of
shards is named like ``--data 'shards/{000000..000009}.tar'`` (brace expansion).

Two readers share the sample rules, which are those of the other pairs files (bad samples are
counted and skipped, or an error with ``on_bad_row="error"``): a sample without an image or a
caption, an empty or undecodable caption, a truncated shard (the samples before the damage are
kept), and, with ``verify_images``, an image that does not decode.

- :func:`read_shards` indexes the shards into a :class:`PairTable` whose images are read back by
  offset, so training, evaluation, feature caching, DDP batches and exact resume work as for a CSV.
- :func:`shard_stream` streams decoded samples with ``webdataset``, each DDP rank and DataLoader
  worker reading its own shards: one pass over data of any size (a Python API; the commands use
  the index).
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
from collections.abc import Iterator
from pathlib import Path

from ashnet.data.images import decode_image, image_tensor, open_image
from ashnet.data.table import PairTable

__all__ = [
    "IMAGE_EXTENSIONS",
    "is_shard_spec",
    "expand_shards",
    "read_shards",
    "shard_spec",
    "shard_stream",
    "write_shards",
]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
_TEXT_EXTENSIONS = ("txt", "json")
_EXTRA_PREFIX = "caption_"


def is_shard_spec(data: str | Path) -> bool:
    """Whether ``--data`` names tar shards (``x.tar``, ``shards/{000000..000009}.tar``)."""
    return str(data).lower().endswith(".tar")


def expand_shards(spec: str | Path) -> list[Path]:
    """The shard files of ``spec`` (brace-expanded, ``::`` between lists, as webdataset reads it).

    Every one must exist (else a one-line ``FileNotFoundError``).
    """
    from webdataset.shardlists import expand_urls

    paths = [Path(p) for p in expand_urls(str(spec))]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(paths)} shard(s) of {spec} not found, e.g. {missing[0]}"
        )
    return paths


class _BadSample(ValueError):
    pass


def _split_name(name: str) -> tuple[str | None, str]:
    from webdataset.tariterators import base_plus_ext

    key, ext = base_plus_ext(name)
    return key, (ext or "").lower()


def _sample_fields(
    texts: dict[str, bytes], exts: list[str], keys, ignored: dict
) -> tuple[str, list, str, dict]:
    """``(image extension, captions, split, extra captions)`` of one sample, or :class:`_BadSample`.

    ``texts``: the ``txt``/``json`` members' bytes; ``exts``: every member's extension. Names that
    are not read are added to ``ignored``.
    """
    image = next((e for e in IMAGE_EXTENSIONS if e in exts), None)
    for ext in exts:
        if ext not in IMAGE_EXTENSIONS + _TEXT_EXTENSIONS:
            ignored[f".{ext}"] = None
    if image is None:
        found = ", ".join(f".{e}" for e in exts)
        raise _BadSample(f"no image (.jpg, .jpeg, .png or .webp) in the sample; its members: {found}")
    meta: dict = {}
    if "json" in texts:
        try:
            meta = json.loads(texts["json"].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise _BadSample(f".json is not valid UTF-8 JSON ({err})") from None
        if not isinstance(meta, dict):
            raise _BadSample(f".json holds a {type(meta).__name__}, not an object")
    used = {keys.caption, "captions", keys.split}
    langs = [k for k in meta if k.startswith(_EXTRA_PREFIX) and k not in used]
    ignored.update({f"json:{k}": None for k in meta if k not in used and k not in langs})
    if isinstance(meta.get("captions"), list) and meta["captions"]:  # an empty list: as if absent
        captions = meta["captions"]
    elif "txt" in texts:
        try:
            captions = [texts["txt"].decode("utf-8")]
        except UnicodeDecodeError:
            raise _BadSample("caption (.txt) is not valid UTF-8") from None
    elif keys.caption in meta:
        captions = [meta[keys.caption]]
    else:
        raise _BadSample(f"no caption (.txt, or {keys.caption!r} or 'captions' in .json)")
    extra = {k.removeprefix(_EXTRA_PREFIX): meta[k] for k in langs}
    extra = {lang: v if isinstance(v, list) else [v] for lang, v in extra.items() if v is not None}
    return image, captions, meta.get(keys.split) or "", extra


def _shard_samples(path: Path) -> Iterator[tuple[str, dict[str, tarfile.TarInfo], dict[str, bytes]]]:
    """``(key, {ext: member}, {ext: text bytes})`` per sample of one shard, in file order; a shard
    cut short ends with ``("", {}, {})`` after its last whole sample."""
    size = path.stat().st_size
    group: dict[str, tarfile.TarInfo] = {}
    texts: dict[str, bytes] = {}
    key = None
    try:
        with tarfile.open(path, "r:") as tar:
            for info in tar:
                if not info.isreg():
                    continue
                name_key, ext = _split_name(info.name)
                if name_key != key and group:
                    yield key, group, texts
                    group, texts = {}, {}
                key = name_key
                if info.offset_data + info.size > size:
                    raise tarfile.ReadError("member runs past the end of the file")
                group[ext] = info
                if ext in _TEXT_EXTENSIONS:
                    texts[ext] = tar.extractfile(info).read()
    except (tarfile.ReadError, EOFError, OSError):
        yield "", {}, {}  # truncated or corrupt: the partial sample is dropped
        return
    if group:
        yield key, group, texts


def read_shards(spec: str | Path, builder) -> None:
    """Add every sample of the shards of ``spec`` to ``builder`` (``ashnet.data.formats``'s table builder)."""
    for shard in expand_shards(spec):
        count = 0
        for key, members, texts in _shard_samples(shard):
            where = f"{shard}:{key}"
            if not members:
                builder.bad(f"{shard}", f"shard is truncated or corrupt after {count} whole sample(s)")
                break
            count += 1
            try:
                image, captions, split, extra = _sample_fields(
                    texts, list(members), builder.keys, builder.ignored
                )
            except _BadSample as err:
                builder.bad(where, str(err))
                continue
            member = (members[image].offset_data, members[image].size)
            for i, caption in enumerate(captions):
                languages = {lang: (v[i] if i < len(v) else "") for lang, v in extra.items()}
                builder.add(where, str(shard), caption, split, languages, member=member)


def _decode_sample(sample: dict, image_size: int, keys, on_bad_row: str):
    """A webdataset sample (``{"__key__", "__url__", ext: bytes}``) as ``(image, caption, name)``, or None."""
    name = f"{sample.get('__url__')}:{sample.get('__key__')}"
    exts = [k for k in sample if not k.startswith("__")]
    texts = {e: sample[e] for e in _TEXT_EXTENSIONS if e in sample}
    try:
        image_ext, captions, _, _ = _sample_fields(texts, exts, keys, {})
        caption = captions[0] if captions and isinstance(captions[0], str) else ""
        if not caption.strip():
            raise _BadSample("empty caption")
        image = image_tensor(decode_image(sample[image_ext], name), image_size)
    except ValueError as err:  # _BadSample, or an image that does not decode
        if on_bad_row == "error":
            raise ValueError(f"{name}: {err}") from None
        logger.warning("%s: skipped (%s)", name, err)
        return None
    return image, caption.strip(), name


def shard_stream(spec: str | Path, image_size: int, keys=None, on_bad_row: str = "skip"):
    """A ``torch`` IterableDataset of ``(image [3, S, S], caption, "shard:key")`` read from the shards.

    Shards are split across DDP ranks (``webdataset.split_by_node``) and then across DataLoader
    workers (``split_by_worker``), so each sample is read once per pass. Bad samples follow the
    rules of this module (skipped with a warning, or a ``ValueError`` with ``on_bad_row="error"``).
    """
    import webdataset as wds

    from ashnet.data.formats import Keys

    keys = keys or Keys()
    urls = [str(p) for p in expand_shards(spec)]

    def truncated(err: Exception) -> bool:
        if on_bad_row == "error":
            raise ValueError(f"shard is truncated or corrupt: {err}") from None
        logger.warning("skipped the rest of a shard (%s)", err)
        return True

    return wds.DataPipeline(
        wds.SimpleShardList(urls),
        wds.split_by_node,
        wds.split_by_worker,
        wds.tarfile_to_samples(handler=truncated),
        wds.map(lambda s: _decode_sample(s, image_size, keys, on_bad_row)),
        wds.select(lambda s: s is not None),
    )


def write_shards(table: PairTable, out: str | Path, samples_per_shard: int = 1000) -> list[Path]:
    """Write the images of ``table`` as WebDataset shards ``out/000000.tar``, ... and return their paths.

    Each image is one sample: the image bytes as they are (JPEG, PNG and WebP; other formats are
    stored as PNG), ``.txt`` its first caption and ``.json`` ``{"captions": [...], "split": ...,
    "caption_<lang>": [...]}``.
    """
    import webdataset as wds

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pattern = str(out / "%06d.tar")
    with wds.ShardWriter(pattern, maxcount=samples_per_shard, verbose=0) as writer:
        for i, record in enumerate(table.images):
            ext = record.path.suffix.lower().lstrip(".")
            if record.member is None and ext in IMAGE_EXTENSIONS:
                data = record.path.read_bytes()
            else:
                buffer = io.BytesIO()
                open_image(record.path, record.member).save(buffer, format="PNG")
                data, ext = buffer.getvalue(), "png"
            meta = {"captions": record.captions, "split": record.split}
            meta.update({f"{_EXTRA_PREFIX}{lang}": texts for lang, texts in record.extra.items()})
            writer.write({"__key__": f"{i:09d}", ext: data, "txt": record.captions[0], "json": meta})
        opened = writer.shard  # the number of shards started
    return [out / f"{n:06d}.tar" for n in range(opened)]


def shard_spec(paths: list[Path]) -> str:
    """The brace pattern that names ``paths`` (``out/{000000..000003}.tar``)."""
    first, last = paths[0], paths[-1]
    return str(first) if len(paths) == 1 else f"{first.parent}/{{{first.stem}..{last.stem}}}.tar"
