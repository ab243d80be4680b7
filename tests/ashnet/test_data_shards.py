"""WebDataset shards: written by `data convert`, read by check/train/eval, streamed per rank and worker."""

import io
import json
import tarfile

import pytest
import torch
from PIL import Image

from ashnet.cli import main
from ashnet.data import ImageTextDataset, load_image, load_pairs
from ashnet.data.shards import shard_spec, shard_stream, write_shards


@pytest.fixture(scope="module")
def shards(tiny_pairs, tmp_path_factory):
    """The 24 tiny images in 3 shards of at most 10 samples, and their brace spec."""
    paths = write_shards(load_pairs(tiny_pairs), tmp_path_factory.mktemp("shards"), samples_per_shard=10)
    return shard_spec(paths)


def _png(colour="red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _tar(path, members: list[tuple[str, bytes]]):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_shards_hold_the_same_images_captions_and_splits(tiny_pairs, shards):
    table, again = load_pairs(tiny_pairs), load_pairs(shards, verify_images=True)
    assert shards.endswith("{000000..000002}.tar")
    assert not again.bad_rows and not again.ignored_columns
    assert [(r.captions, r.split) for r in again.images] == [(r.captions, r.split) for r in table.images]
    for a, b in zip(table.images, again.images, strict=True):
        assert torch.equal(load_image(a.path, 16), load_image(b.path, 16, b.member))
    assert len(again.split("train")) == 16 and ImageTextDataset(again.split("val"), 16)[0][0].shape == (
        3,
        16,
        16,
    )


def test_stream_splits_shards_across_ranks_and_dataloader_workers(shards, monkeypatch):
    every = [name for _, _, name in shard_stream(shards, 16)]  # one process reads all
    assert len(every) == len(set(every)) == 24
    seen = []
    for rank in range(2):  # what webdataset.split_by_node reads under torchrun
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        loader = torch.utils.data.DataLoader(shard_stream(shards, 16), batch_size=4, num_workers=2)
        ranks = [name for _, _, names in loader for name in names]
        seen.append(ranks)
    assert set(seen[0]).isdisjoint(seen[1]) and sorted(seen[0] + seen[1]) == sorted(every)
    assert len(seen[0]) == 14 and len(seen[1]) == 10  # shards 0 and 2 (10 + 4 samples); shard 1


def test_bad_samples_are_counted_skips_or_one_line_errors(tmp_path):
    good = _png()
    shard = _tar(
        tmp_path / "000000.tar",
        [
            ("a.png", good),
            ("a.json", json.dumps({"caption": "a red square", "url": "http://x", "split": "val"}).encode()),
            ("b.png", good),  # no caption
            ("c.txt", b"a caption"),
            ("c.exe", b"MZ"),  # no image: a non-image member
            ("d.png", b"not a png"),
            ("d.txt", b"a corrupt image"),
            ("e.png", good),
            ("e.txt", b"caf\xe9"),  # not UTF-8
            ("f.webp", good),
            ("f.txt", b"last whole sample"),
        ],
    )
    data = shard.read_bytes()
    whole = _tar(tmp_path / "t.tar", [("g.png", good), ("g.txt", b"kept"), ("h.png", good)]).read_bytes()
    cut = whole.index(b"h.png") + 512 + 30  # h.png's header, then 30 of its bytes
    (tmp_path / "000001.tar").write_bytes(whole[:cut])
    spec = str(tmp_path / "{000000..000001}.tar")
    table = load_pairs(spec, verify_images=True)
    assert [r.captions for r in table.images] == [["a red square"], ["last whole sample"], ["kept"]]
    assert table.images[0].split == "val" and table.ignored_columns == ["json:url", ".exe"]
    reasons = {row.where.rsplit("/", 1)[-1]: row.reason for row in table.bad_rows}
    assert reasons["000000.tar:b"].startswith("no caption")
    assert reasons["000000.tar:c"].startswith(
        "no image (.jpg, .jpeg, .png or .webp) in the sample; its members: .txt, .exe"
    )
    assert reasons["000000.tar:d"].startswith("image cannot be read")
    assert reasons["000000.tar:e"] == "caption (.txt) is not valid UTF-8"
    assert reasons["000001.tar"] == "shard is truncated or corrupt after 1 whole sample(s)"
    with pytest.raises(ValueError, match="bad row") as err:
        load_pairs(spec, verify_images=True, on_bad_row="error")
    assert "000001.tar: shard is truncated" in str(err.value)
    streamed = [caption for _, caption, _ in shard_stream(spec, 8)]  # the same rules while streaming
    assert streamed == ["a red square", "last whole sample", "kept"]
    with pytest.raises(ValueError, match="000000.tar:b: no caption"):
        list(shard_stream(spec, 8, on_bad_row="error"))
    assert shard.read_bytes() == data
    with pytest.raises(FileNotFoundError, match=r"1 of 3 shard\(s\) of .* not found"):
        load_pairs(str(tmp_path / "{000000..000002}.tar"))


def test_a_json_with_an_empty_captions_list_is_read_as_if_it_had_none(tmp_path):
    shard = _tar(
        tmp_path / "000000.tar",
        [
            ("a.png", _png()),
            ("a.json", b'{"captions": []}'),  # no caption at all: a counted skip, not a silent loss
            ("b.png", _png()),
            ("b.json", b'{"captions": [], "split": "val"}'),
            ("b.txt", b"from the txt"),
        ],
    )
    table = load_pairs(str(shard))
    assert [(r.captions, r.split) for r in table.images] == [(["from the txt"], "val")]
    assert [(row.where.rsplit("/", 1)[-1], row.reason) for row in table.bad_rows] == [
        ("000000.tar:a", "no caption (.txt, or 'caption' or 'captions' in .json)")
    ]
    assert [caption for _, caption, _ in shard_stream(str(shard), 8)] == ["from the txt"]


@pytest.mark.slow
def test_convert_check_train_and_eval_from_shards(tiny_pairs, tmp_path, capsys):
    out = tmp_path / "shards"
    assert main(["data", "convert", str(tiny_pairs), "--to", "webdataset", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    spec = str(out / "000000.tar")
    assert f"wrote 24 images, 30 captions in 1 shard(s): {spec}" in printed
    assert main(["data", "convert", str(tiny_pairs), "--to", "webdataset", "--out", str(out)]) == 2
    assert "already holds .tar files" in capsys.readouterr().err
    assert main(["data", "check", spec, "--verify-images"]) == 0
    printed = capsys.readouterr().out
    assert "24 images, 30 captions" in printed and "val: 4 images, 5 captions" in printed
    assert "bad rows: 0" in printed
    run = tmp_path / "run"
    args = ["train", "--config", "tiny", "--data", spec, "--out", str(run), "--set", "train.max_steps=2"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(run), "--data", spec, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["n_images"], result["n_texts"]) == (4, 5)
    # the same weights score the same on the CSV and on its shards
    assert main(["eval", "--checkpoint", str(run), "--data", str(tiny_pairs), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == result
