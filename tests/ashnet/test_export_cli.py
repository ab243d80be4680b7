"""``ashnet export``: NIR spiking core, torch.export ANN parts and manifest of a tiny trained run."""

import contextlib
import io
import json
from dataclasses import replace

import pytest
import torch

import neuro
from ashnet.checkpoint import load_run
from ashnet.cli import main
from ashnet.export import spiking_core
from ashnet.models import build_model
from neuro.export import from_nir


@pytest.fixture(scope="module")
def nir_export(tiny_mlp_run, tiny_pairs, tmp_path_factory):
    """``(folder, printed output)`` of ``ashnet export --format nir`` on the test images."""
    out = tmp_path_factory.mktemp("export") / "core.nir"
    argv = [
        "export",
        "--checkpoint",
        str(tiny_mlp_run),
        "--format",
        "nir",
        "--out",
        str(out),
        "--data",
        str(tiny_pairs),
    ]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(argv) == 0
    return out.parent, printed.getvalue()


def _test_images(pairs, n=4):
    from ashnet.data import ImageTextDataset, load_pairs

    dataset = ImageTextDataset(load_pairs(pairs).split("test"), image_size=16)
    return torch.stack([dataset[i][0] for i in range(n)])


def test_nir_export_reproduces_the_models_spikes(tiny_mlp_run, tiny_pairs, nir_export):
    folder, printed = nir_export
    out = folder / "core.nir"
    assert "read back, equal to the model's 100.00%" in printed
    # Independently: the file, imported by neuro, against the trained model's own spiking encoder.
    model, _ = load_run(tiny_mlp_run)
    with torch.no_grad():
        tokens = model.encode_concrete(_test_images(tiny_pairs)).tokens
        expected = model.abstract(tokens).spikes.flatten(1, 2)
        spikes = from_nir(out)(model.abstract.encode(tokens).flatten(1, 2))
    assert 0 < expected.mean() < 1
    assert torch.equal(spikes, expected)
    manifest = json.loads((out.parent / "manifest.json").read_text())
    core = next(p for p in manifest["parts"] if p["name"] == "spiking_core")
    assert core["file"] == "core.nir" and core["format"] == "NIR"
    assert ["abstract_input.current", "spiking_core.current"] in manifest["connections"]


@pytest.mark.slow
def test_pt2_export_runs_like_the_model_and_joins_the_manifest(tiny_mlp_run, tiny_pairs, nir_export):
    out, _ = nir_export
    assert main(["export", "--checkpoint", str(tiny_mlp_run), "--out", str(out), "--format", "pt2"]) == 0
    model, _ = load_run(tiny_mlp_run)
    images = _test_images(tiny_pairs, n=3)  # another batch size than the export's: the batch is dynamic
    programs = {name: torch.export.load(out / f"{name}.pt2").module() for name in ("concrete", "image_head")}
    with torch.no_grad():
        tokens, pooled = programs["concrete"](images)
        reference = model.encode_concrete(images)
        torch.testing.assert_close(tokens, reference.tokens)
        spikes = model.abstract(reference.tokens).spikes
        embedding = programs["image_head"](pooled, spikes)
        torch.testing.assert_close(embedding, model.embed_image(reference).embedding)
    files = {p["name"]: p["file"] for p in json.loads((out / "manifest.json").read_text())["parts"]}
    assert files == {
        "concrete": "concrete.pt2",
        "abstract_input": "abstract_input.pt2",
        "spiking_core": "core.nir",
        "image_head": "image_head.pt2",
        "text": None,
        "text_head": "text_head.pt2",
    }


def test_models_nir_cannot_hold_are_refused(tiny_mlp_run):
    model, config = load_run(tiny_mlp_run)
    transformer = build_model(
        replace(config.model, abstract=replace(config.model.abstract, block="transformer"))
    )
    with pytest.raises(ValueError, match="spiking self-attention"):
        spiking_core(transformer)
    ann_only = build_model(replace(config.model, abstract=replace(config.model.abstract, enabled=False)))
    with pytest.raises(ValueError, match="no spiking branch"):
        spiking_core(ann_only)
    neuro.reset(model)


def test_bad_output_name_is_a_one_line_error(tiny_mlp_run, tmp_path, capsys):
    argv = [
        "export",
        "--checkpoint",
        str(tiny_mlp_run),
        "--format",
        "nir",
        "--out",
        str(tmp_path / "core.h5"),
    ]
    assert main(argv) == 2
    assert "must end in .nir" in capsys.readouterr().err
