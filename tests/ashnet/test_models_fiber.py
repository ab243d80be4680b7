"""Fusion in the backbone: exactly the dual encoder at step 0, gradients into the gates, spike keys, heads."""

from __future__ import annotations

import pytest
import torch

from ashnet.config import load_config
from ashnet.models import ModelConfig, build_model
from ashnet.models.heads import GroundingHead, TaskModel
from neuro.energy import EnergyMeter

CAPTIONS = ["a red square", "two blue dots and a ring", "x"]


def tiny_model(**fiber):
    cfg = load_config(
        "tiny", [f"model.fiber.{k}={v}" for k, v in {"enabled": True, "dim": 16, **fiber}.items()]
    )
    torch.manual_seed(0)
    return build_model(cfg.model).eval()


@pytest.mark.parametrize(
    "fiber", [{"keys": "concrete"}, {"keys": "spikes"}, {"keys": "both", "layers": 3}, {"image_side": False}]
)
def test_step_zero_is_exactly_the_dual_encoder(fiber):
    model = tiny_model(**fiber)
    images = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        fused = model.encode_fused(images, CAPTIONS)
        assert torch.equal(fused.image.embedding, model.encode_image(images).embedding)
        assert torch.equal(fused.text, model.encode_text(CAPTIONS))
        for p in model.fiber.parameters():
            if p.dim() == 0:
                p.fill_(0.5)  # open the gates
        opened = model.encode_fused(images, CAPTIONS)
    assert not torch.allclose(opened.text, fused.text)
    if fiber.get("image_side", True):
        assert not torch.allclose(opened.image.embedding, fused.image.embedding)


def test_gradients_reach_every_gate_from_zero():
    model = tiny_model(keys="both")
    out = model.encode_fused(torch.rand(2, 3, 16, 16), CAPTIONS[:2])
    (out.text.sum() + out.image.embedding.sum()).backward()
    gates = [p for p in model.fiber.parameters() if p.dim() == 0]
    assert len(gates) == 2 * 3  # text, image cross-attention and image MLP per layer
    assert all(g.grad is not None and g.grad.abs() > 0 for g in gates)


def test_spike_tokens_are_keys_and_values_counted_as_accumulates():
    model = tiny_model(keys="spikes")
    with EnergyMeter(model) as meter:
        with torch.no_grad():
            model.encode_fused(torch.rand(2, 3, 16, 16), CAPTIONS[:2])
    rows = {row.name: row for row in meter.report(2).layers}
    kv = [name for name in rows if name.startswith("fiber.text_cross.") and (".k." in name or ".v." in name)]
    assert kv and all(rows[name].op_kind == "SOP" for name in kv)
    assert rows["fiber.text_cross.0.q"].op_kind == "MAC"


def test_fiber_config_is_validated():
    with pytest.raises(ValueError, match="needs the spiking branch"):
        ModelConfig(abstract={"enabled": False}, fiber={"enabled": True, "keys": "spikes"})
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(fiber={"enabled": True, "dim": 10, "heads": 4})
    cfg = load_config("tiny", ["model.fiber.enabled=true", "model.fiber.layers=7"])
    with pytest.raises(ValueError, match="exceeds the text model's 6 layers"):
        build_model(cfg.model)


def test_grounding_head_boxes_lie_in_the_image_and_follow_cells():
    head = GroundingHead(d_image=8, d_spikes=4, embed_dim=6, hidden=12)
    scores, boxes = head(torch.randn(2, 9, 8), torch.rand(2, 9, 4), torch.randn(2, 6))
    assert scores.shape == (2, 9) and boxes.shape == (2, 9, 4)
    assert bool((boxes >= 0).all() and (boxes <= 1).all() and (boxes[..., 2:] >= boxes[..., :2]).all())
    centres = (boxes[..., :2] + boxes[..., 2:]) / 2
    assert bool(
        (centres[:, 8] > centres[:, 0]).all()
    )  # the last cell's box sits right of and below the first
    with pytest.raises(ValueError, match="square grid"):
        head(torch.randn(1, 8, 8), None, torch.randn(1, 6))


def test_task_model_freezes_all_but_fusion_and_head():
    model = tiny_model()
    task_model = TaskModel(model, "vqa", n_classes=5, hidden=8, freeze_encoder=True)
    trainable = {n.split(".")[0] if n.startswith("head") else ".".join(n.split(".")[:2])
                 for n, p in task_model.named_parameters() if p.requires_grad}  # fmt: skip
    assert trainable == {"head", "model.fiber"}
    task_model.train()
    assert not model.abstract.training and model.fiber.training
    with pytest.raises(ValueError, match="unknown task"):
        TaskModel(model, "caption")
