"""``ashnet energy``: energy per image of a tiny trained run against its ANN twin; SOPs from real spikes."""

import json

import pytest
import torch

import neuro
from ashnet.checkpoint import load_run
from ashnet.cli import main
from ashnet.energy import ann_twin, image_energy


def test_spiking_layers_cost_their_spikes_times_fan_out(tiny_mlp_run):
    model, _ = load_run(tiny_mlp_run)
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    mlp = model.abstract.blocks[0].mlp
    with neuro.Monitor(model.abstract, ["blocks.0.mlp.neuron_in", "blocks.0.mlp.neuron_hidden"]) as monitor:
        report = image_energy(model, images)
    spikes = {name: float(s[0].sum()) for name, s in monitor.spikes.items()}
    assert spikes["blocks.0.mlp.neuron_in"] > 0
    rows = {(r.name, r.op_kind): r.ops for r in report.layers}
    # Each spike of a layer reaches every output of the next Linear: hidden width, then model width.
    fc1 = spikes["blocks.0.mlp.neuron_in"] * mlp.fc1.layer.linear.out_features / 3
    fc2 = spikes["blocks.0.mlp.neuron_hidden"] * mlp.fc2.layer.linear.out_features / 3
    assert rows[("abstract.blocks.0.mlp.fc1.layer.linear", "SOP")] == pytest.approx(fc1)
    assert rows.get(("abstract.blocks.0.mlp.fc2.layer.linear", "SOP"), 0.0) == pytest.approx(fc2)
    # The projection into the spiking width sees real values: dense MACs, tokens x in x out per image.
    tokens = model.encode_concrete(images[:1]).tokens.shape[1]
    linear = model.abstract.input
    assert rows[("abstract.input", "MAC")] == tokens * linear.in_features * linear.out_features


def test_ann_twin_has_the_same_layers_without_spikes(tiny_mlp_run):
    model, _ = load_run(tiny_mlp_run)
    twin = ann_twin(model)
    assert not any(isinstance(m, neuro.SpikingNeuron) for m in twin.modules())
    assert any(isinstance(m, neuro.SpikingNeuron) for m in model.modules())  # the model is left alone
    images = torch.rand(2, 3, 16, 16)
    report = image_energy(twin, images)
    assert report.sops == 0 and report.macs > 0


@pytest.mark.slow
def test_cli_compares_the_hybrid_with_its_ann_twin(tiny_mlp_run, tiny_pairs, capsys):
    argv = ["energy", "--checkpoint", str(tiny_mlp_run), "--data", str(tiny_pairs), "--max-images", "3"]
    assert main(argv + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    hybrid, ann = result["hybrid"], result["ann"]
    assert result["images"] == 3 and hybrid["n_samples"] == 3
    assert hybrid["sops_per_sample"] > 0 and ann["sops_per_sample"] == 0
    assert result["ratio_hybrid_to_ann"] == pytest.approx(
        hybrid["energy_pj_per_sample"] / ann["energy_pj_per_sample"]
    )
    concrete = [
        sum(r["ops"] for r in report["layers"] if r["name"].startswith("concrete."))
        for report in (hybrid, ann)
    ]
    assert concrete[0] == concrete[1] > 0  # the same backbone on the same images
    assert result["text_per_caption"]["macs_per_sample"] > 0
    assert "memory traffic" in hybrid["caveat"].lower()

    assert main(argv + ["--baseline", str(tiny_mlp_run), "--mac-pj", "2", "--ac-pj", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "hybrid / ANN-only = 1.000" in printed  # the run against itself
    assert "2.0 pJ/MAC, 0.5 pJ/AC (given on the command line)" in printed
    assert "not counted" in printed
