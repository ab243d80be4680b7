"""Tests for ashnet.data.formats: every pairs format, caption grouping, splits and bad rows."""

from __future__ import annotations

import json
import logging

import pytest
from PIL import Image

from ashnet.data import load_pairs


@pytest.fixture
def images(tmp_path):
    """Three small PNGs a.png, b.png, c.png (in tmp_path/img) of different colours."""
    folder = tmp_path / "img"
    folder.mkdir()
    for name, colour in zip("abc", ["red", "green", "blue"], strict=True):
        Image.new("RGB", (8, 8), colour).save(folder / f"{name}.png")
    return folder


def write_csv(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_delimited_reads_paths_relative_to_file_with_splits(tmp_path, images, suffix, sep):
    lines = ["image,caption,split", "img/a.png,a red square,train", "img/b.png,a green square,val"]
    path = write_csv(tmp_path / f"pairs{suffix}", [line.replace(",", sep) for line in lines])
    table = load_pairs(path)
    assert [r.path for r in table.images] == [images / "a.png", images / "b.png"]
    assert [r.captions for r in table.images] == [["a red square"], ["a green square"]]
    assert [r.split for r in table.images] == ["train", "val"]
    assert table.bad_rows == []


def test_csv_groups_rows_of_one_image_and_reads_extra_languages(tmp_path, images):
    path = write_csv(
        tmp_path / "pairs.csv",
        [
            "image,caption,caption_de,caption_ja",
            "img/a.png,red,rot,赤",
            "img/b.png,green,,緑",
            "img/a.png,crimson,,",
        ],
    )
    table = load_pairs(path)
    a, b = table.images
    assert a.captions == ["red", "crimson"]
    assert a.extra == {"de": ["rot"], "ja": ["赤"]}
    # An empty extra-language caption means "none in that language", not a bad row.
    assert b.extra == {"ja": ["緑"]}
    assert table.bad_rows == []
    assert table.n_captions == 3 and table.languages == ["de", "ja"]
    assert {r.split for r in table.images} == {"train"}  # no split column: everything is train


def test_jsonl(tmp_path, images):
    rows = [
        {"image": "img/a.png", "caption": "red", "split": "test"},
        {"image": "img/b.png", "caption": "green", "caption_fr": "vert"},
        {"image": "img/a.png", "caption": "scarlet", "split": "test", "caption_fr": None},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    table = load_pairs(path)
    assert [(r.path.name, r.captions, r.split, r.extra) for r in table.images] == [
        ("a.png", ["red", "scarlet"], "test", {}),
        ("b.png", ["green"], "train", {"fr": ["vert"]}),
    ]


def test_coco_captions_groups_annotations_per_image(tmp_path, images):
    coco = {
        "images": [{"id": 7, "file_name": "img/a.png"}, {"id": 9, "file_name": "img/b.png"}],
        "annotations": [
            {"id": 1, "image_id": 9, "caption": "green one"},
            {"id": 2, "image_id": 7, "caption": "red one "},
            {"id": 3, "image_id": 9, "caption": "green two"},
        ],
    }
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(coco), encoding="utf-8")
    table = load_pairs(path)
    assert [(r.path.name, r.captions) for r in table.images] == [
        ("a.png", ["red one"]),
        ("b.png", ["green one", "green two"]),
    ]


def test_karpathy_splits_filepath_and_restval(tmp_path, images):
    entries = [
        {
            "filepath": "img",
            "filename": "a.png",
            "split": "restval",
            "sentences": [{"raw": "red"}, {"raw": "rouge"}],
        },
        {"filepath": "img", "filename": "b.png", "split": "val", "sentences": [{"raw": "green"}]},
        {
            "filepath": "img",
            "filename": "c.png",
            "split": "test",
            "sentences": [{"raw": "blue"}, {"raw": "navy"}],
        },
    ]
    path = tmp_path / "dataset_flickr.json"
    path.write_text(json.dumps({"images": entries, "dataset": "flickr"}), encoding="utf-8")
    table = load_pairs(path)
    assert [r.split for r in table.images] == ["train", "val", "test"]
    test = table.split("test")
    assert [(r.path, r.captions) for r in test.images] == [(images / "c.png", ["blue", "navy"])]
    assert test.n_captions == 2
    assert len(table.split("train")) == 1 and len(table.split("val")) == 1
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        table.split("dev")


def test_image_root_overrides_the_file_directory(tmp_path, images):
    folder = tmp_path / "lists"
    folder.mkdir()
    path = write_csv(folder / "pairs.csv", ["image,caption", "a.png,red"])
    assert load_pairs(path, image_root=images).images[0].path == images / "a.png"


GOOD = "img/a.png,a red square,train"
# (row placed on line 3 after the header and a good row, expected words in the reason)
BAD_ROWS = {
    "missing image": (b"img/nope.png,a caption,train", "not found"),
    "zero-byte image": (b"img/empty.png,a caption,train", "empty (0 bytes)"),
    "empty caption": (b"img/b.png,   ,train", "empty caption"),
    "non-UTF-8 caption": (b"img/b.png,caf\xe9 au lait,train", "not valid UTF-8"),
    "unknown split": (b"img/b.png,a caption,validation", "unknown split"),
    "wrong field count": (b"img/b.png,a caption", "expected 3 fields"),
    "split conflict": (b"img/a.png,another caption,test", "already in split 'train'"),
}


def write_bad_csv(tmp_path, images, bad_line: bytes):
    (images / "empty.png").write_bytes(b"")
    path = tmp_path / "pairs.csv"
    path.write_bytes(b"image,caption,split\n" + GOOD.encode() + b"\n" + bad_line + b"\nimg/c.png,blue,test\n")
    return path


@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_bad_row_is_skipped_and_counted_with_file_and_line(tmp_path, images, kind, caplog):
    bad_line, reason = BAD_ROWS[kind]
    path = write_bad_csv(tmp_path, images, bad_line)
    with caplog.at_level(logging.WARNING, logger="ashnet.data.formats"):
        table = load_pairs(path, on_bad_row="skip")
    assert [r.path.name for r in table.images] == ["a.png", "c.png"]
    assert len(table.bad_rows) == 1
    assert table.bad_rows[0].where == f"{path}:3"
    assert reason in table.bad_rows[0].reason
    assert "skipped 1 bad row(s)" in caplog.text and f"{path}:3" in caplog.text


@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_bad_row_raises_listing_file_and_line_in_error_mode(tmp_path, images, kind):
    bad_line, reason = BAD_ROWS[kind]
    path = write_bad_csv(tmp_path, images, bad_line)
    with pytest.raises(ValueError, match="1 bad row") as info:
        load_pairs(path, on_bad_row="error")
    assert f"{path}:3" in str(info.value) and reason in str(info.value)


def test_undecodable_image_path_is_reported_printably(tmp_path, images):
    path = tmp_path / "pairs.csv"
    path.write_bytes(b"image,caption\nimg/a.png,red\nimg/caf\xe9.png,coffee\n")
    (row,) = load_pairs(path).bad_rows
    assert row.where == f"{path}:3" and row.reason.startswith("image not found")
    assert "caf\\xe9.png" in str(row) and str(row).encode("utf-8")


def test_bad_rows_in_json_formats_name_the_entry(tmp_path, images):
    coco = {
        "images": [
            {"id": 1, "file_name": "img/a.png"},
            {"id": 2, "file_name": "img/gone.png"},
            {"id": [3], "file_name": "img/b.png"},
            {"id": 4, "file_name": "img/c.png"},
        ],
        "annotations": [
            {"image_id": 1, "caption": "red"},
            {"image_id": 2, "caption": "missing"},
            {"image_id": 3, "caption": "orphan"},
            {"image_id": 1, "caption": ""},
            {"image_id": [1], "caption": "odd id"},
        ],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco), encoding="utf-8")
    table = load_pairs(path)
    assert [r.captions for r in table.images] == [["red"]]
    assert {(row.where, row.reason.split(":")[0]) for row in table.bad_rows} == {
        (f"{path}:annotations[1]", "image not found"),
        (f"{path}:annotations[2]", "annotation refers to unknown image_id 3"),
        (f"{path}:annotations[3]", "empty caption"),
        (f"{path}:annotations[4]", "annotation refers to unknown image_id [1]"),
        (f"{path}:images[2]", "image entry needs an 'id' (number or string) and a 'file_name'"),
        (f"{path}:images[3]", "image 'img/c.png' has no captions"),
    }


def test_jsonl_bad_lines_and_lines_without_the_keys_are_bad_rows(tmp_path, images):
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(
        b'{"image": "img/a.png", "caption": "red"}\n'
        b"{not json\n"
        b'["img/b.png", "green"]\n'
        b'{"image": "img/b.png", "caption": "gr\xfcn"}\n'
    )
    table = load_pairs(path)
    assert len(table) == 1
    assert [(row.where, row.reason.split(" (")[0]) for row in table.bad_rows] == [
        (f"{path}:2", "not valid JSON"),
        (f"{path}:3", "expected a JSON object, got list"),
        (f"{path}:4", "caption is not valid UTF-8"),
    ]
    path.write_text('{"image": "img/a.png", "caption": "red"}\n{"img": "img/b.png", "caption": "x"}\n')
    assert [str(row) for row in load_pairs(path).bad_rows] == [
        f"{path}:2: no 'image' key; its keys: img, caption"
    ]
    path.write_text('{"img": "img/b.png", "caption": "x"}\n{"image": "img/a.png", "caption": "red"}\n')
    with pytest.raises(
        ValueError, match=rf"{path}:1: no 'image' column \(name the one to use with --image-key\)"
    ):
        load_pairs(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "file is empty; expected columns image,caption"),
        (b"\n  \n", "file is empty"),
        (b"\xef\xbb\xbf\n", "file is empty"),
        (b"image,caption\n", "no usable image-caption rows"),
        (b"path,text\nimg/a.png,red\n", "no 'image' column .*--image-key.*; its columns: path, text"),
        (b"image,text\nimg/a.png,red\n", "no 'caption' column .*--caption-key.*; its columns: image, text"),
        (b"image,caption,image\nimg/a.png,red,x\n", "column 'image' appears more than once"),
        (b"image,capti\xf6n\nimg/a.png,red\n", "column names are not valid UTF-8"),
        (b"image,caption\nimg/a.png," + b"x" * 200_000 + b"\n", "2: cannot parse as CSV"),
    ],
)
def test_unusable_csv_files_raise_naming_the_file(tmp_path, images, content, message):
    path = tmp_path / "pairs.csv"
    path.write_bytes(content)
    for mode in ("skip", "error"):
        with pytest.raises(ValueError, match=message) as info:
            load_pairs(path, on_bad_row=mode)
        assert str(path) in str(info.value)


def test_file_with_only_bad_rows_is_an_error_even_when_skipping(tmp_path, images):
    path = write_csv(tmp_path / "pairs.csv", ["image,caption", "img/x.png,red", "img/y.png,green"])
    with pytest.raises(ValueError, match=r"no usable image-caption rows; 2 bad row\(s\)"):
        load_pairs(path)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{broken", "not valid JSON"),
        ('{"images": [{"file_name": "a.png"}]}', "neither COCO-captions"),
        ("[1, 2]", "expected a JSON object with an 'images' list"),
    ],
)
def test_unusable_json_files_raise(tmp_path, content, message):
    path = tmp_path / "data.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_pairs(path)


def test_arguments_and_paths_are_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match="pairs file not found"):
        load_pairs(tmp_path / "none.csv")
    (tmp_path / "pairs.parquet").write_bytes(b"x")
    with pytest.raises(
        ValueError, match="unknown pairs file type; expected one of .csv, .tsv, .jsonl, .json"
    ):
        load_pairs(tmp_path / "pairs.parquet")
    with pytest.raises(ValueError, match="on_bad_row must be one of"):
        load_pairs(tmp_path / "pairs.parquet", on_bad_row="ignore")


def test_extra_columns_are_ignored_and_listed_once(tmp_path, images):
    rows = ["image,caption,split,group,subgroup,source,caption_fr,caption_"]
    rows += [
        "img/a.png,red,train,g1,s1,web,rouge,x",
        "img/b.png,green,val,g2,s2,web,,y",
        "img/a.png,red 2,train,g,s,w,,",
    ]
    path = write_csv(tmp_path / "pairs.csv", rows)
    table = load_pairs(path)
    assert table.ignored_columns == ["group", "subgroup", "source", "caption_"]
    assert [(r.path.name, r.captions, r.split, r.extra) for r in table.images] == [
        ("a.png", ["red", "red 2"], "train", {"fr": ["rouge"]}),
        ("b.png", ["green"], "val", {}),
    ]
    assert not table.bad_rows and table.split("val").ignored_columns == table.ignored_columns
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text(
        '{"image": "img/a.png", "caption": "red", "url": "http://x", "width": 16}\n'
        '{"image": "img/b.png", "caption": "green", "similarity": 0.3, "url": null}\n'
    )
    assert load_pairs(jsonl).ignored_columns == ["url", "width", "similarity"]  # first seen, once


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_key_options_name_the_image_caption_and_split_columns(tmp_path, images, suffix, sep):
    # A LAION/CC3M-style export: other column names, extra metadata.
    rows = [sep.join(["key", "filepath", "title", "part", "url"])]
    rows += [
        sep.join(["0", "img/a.png", "red", "val", "http://a"]),
        sep.join(["1", "img/b.png", "green", "test", "http://b"]),
    ]
    path = write_csv(tmp_path / f"pairs{suffix}", rows)
    table = load_pairs(path, image_key="filepath", caption_key="title", split_key="part")
    assert [(r.path.name, r.captions, r.split) for r in table.images] == [
        ("a.png", ["red"], "val"),
        ("b.png", ["green"], "test"),
    ]
    assert table.ignored_columns == ["key", "url"]
    with pytest.raises(
        ValueError, match=r"no 'image' column .*; its columns: key, filepath, title, part, url"
    ):
        load_pairs(path)
    no_split = load_pairs(path, image_key="filepath", caption_key="title")  # 'part' is then ignored
    assert {r.split for r in no_split.images} == {"train"} and "part" in no_split.ignored_columns
