"""Export a trained ASH-Net in parts: spiking core as NIR, ANN parts as torch.export programs, a manifest.

The image path splits into

1. ``concrete``: the ANN backbone, images ``[B, 3, S, S]`` to tokens ``[B, N, C]`` and pooled ``[B, C]``;
2. ``abstract_input``: the projection and LayerNorm of the tokens to the spiking width, ``[B, N, D]``;
3. ``spiking_core``: the spiking blocks and the output LIF layer, exported by
   :func:`neuro.export.to_nir` from the encoder's own modules. Every block of an
   ``abstract.block: mlp`` encoder works on each token alone, so one NIR graph of ``D`` inputs and
   ``D`` output neurons runs per token for ``T`` steps. The input current at every step is the
   ``abstract_input`` output (direct encoding) or Bernoulli spikes of probability ``sigmoid`` of
   it (poisson encoding). ``to_nir`` folds each BatchNorm into the Linear before it and exports
   ParametricLIF neurons with their trained ``tau``.
4. ``image_head``: the readout of the token-mean spikes, the projections, the fusion and the L2
   normalisation, giving the image embedding ``[B, E]``.

The text path is the transformers model (tokenizer included), mean-pooled, then ``text_head``.
Token-mixing blocks (spiking self-attention, the pooling mixer) take products or means *across*
tokens, and NIR 1.0 has no node for them, so such encoders are refused for NIR export.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nir
import torch
import torch.nn.functional as F
from torch import nn

import neuro
from neuro.export import DEFAULT_DT, from_nir, to_nir

__all__ = [
    "spiking_core",
    "export_nir",
    "export_pt2",
    "manifest",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"


def refuse_stages(model) -> None:
    """ValueError if the spiking branch reads earlier backbone levels (``model.abstract.stages``).

    The exported parts describe one input current per token computed from the final tokens; a
    multi-level grid (changing over time with ``stage_timing: cascade``) has no place in them yet.
    """
    if model.has_snn and model.cfg.abstract.stages:
        raise ValueError(
            f"the spiking encoder reads backbone levels {list(model.cfg.abstract.stages)} besides the final "
            "tokens (model.abstract.stages); export describes a final-tokens input only, so such models "
            "are not exported (train with model.abstract.stages: [] to export)"
        )


def spiking_core(model) -> nn.Sequential:
    """The token-wise spiking part of a trained ASH-Net, made of the encoder's own modules.

    ``neuro.Residual(block.mlp)`` for each block, then the output LIF layer, over ``[T, M, D]``
    (``M`` tokens of any samples, folded together). ValueError if NIR cannot hold the encoder.
    """
    if not model.has_snn:
        raise ValueError(
            "this model has no spiking branch (model.abstract.enabled: false); nothing to export to NIR"
        )
    encoder = model.abstract
    neuro.reset(encoder)  # the last forward's state is not part of the model (and may hold autograd history)
    refuse_stages(model)
    if encoder.cfg.block != "mlp":
        mixer = "spiking self-attention" if encoder.cfg.attention else "the spike-pooling token mixer"
        raise ValueError(
            f"the spiking encoder mixes tokens with {mixer} (model.abstract.block: transformer); NIR 1.0 has "
            "no node for products or means across tokens, so only model.abstract.block: mlp encoders "
            "export to NIR (the ANN parts still export with --format pt2)"
        )
    return nn.Sequential(*(neuro.Residual(block.mlp) for block in encoder.blocks), encoder.neuron_out)


def export_nir(model, images: torch.Tensor, path: str | Path, dt: float = DEFAULT_DT) -> dict:
    """Write the spiking core of ``model`` (:func:`spiking_core`) to a ``.nir`` file and check it.

    ``images`` (a real batch) feed the check: the graph read back from the file runs on the
    encoder's input current and its output spikes are compared with the model's own (Poisson
    draws seeded alike). Returns the manifest part.
    """
    path = Path(path)
    if path.suffix != ".nir":
        raise ValueError(f"the NIR output file must end in .nir, got {path.name!r}")
    core = spiking_core(model)
    encoder = model.abstract
    with torch.no_grad():
        tokens = model.encode_concrete(images).tokens
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            current = encoder.encode(tokens).flatten(1, 2)  # [T, B*N, D]: every token on its own
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            expected = encoder(tokens).spikes.flatten(1, 2)
        graph = to_nir(core, current, dt=dt)
        path.parent.mkdir(parents=True, exist_ok=True)
        nir.write(path, graph)
        imported = from_nir(path, dt=dt)(current)
    cfg = encoder.cfg
    return {
        "name": "spiking_core",
        "kind": "snn",
        "format": "NIR",
        "file": path.name,
        "dt": dt,
        "time_steps": cfg.time_steps,
        "inputs": {"current": f"[{cfg.dim}] per token per step"},
        "outputs": {"spikes": f"[{cfg.dim}] per token per step"},
        "run": f"once per token, {cfg.time_steps} steps from rest; tokens are independent",
        "nodes": {name: type(node).__name__ for name, node in graph.nodes.items()},
        "check": {
            "tokens": int(current.shape[1]),
            "spikes_equal_to_model": float((imported == expected).float().mean()),
        },
    }


class _Concrete(nn.Module):
    """The backbone with a plain ``(tokens, pooled)`` tuple as output (torch.export saves no named tuples)."""

    def __init__(self, concrete):
        super().__init__()
        self.concrete = concrete

    def forward(self, images):
        out = self.concrete(images)
        return out.tokens, out.pooled


class _AbstractInput(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.input, self.input_norm = encoder.input, encoder.input_norm

    def forward(self, tokens):
        return self.input_norm(self.input(tokens))


class _ImageHead(nn.Module):
    """Readout, projections, fusion and normalisation: ``(pooled [B, C], spikes [T, B, N, D]) -> [B, E]``."""

    def __init__(self, model):
        super().__init__()
        self.concrete_proj = model.concrete_proj
        if model.has_snn:
            self.abstract_proj, self.fusion = model.abstract_proj, model.fusion
            self.readout = model.abstract.readout  # a bound method: no parameters of its own

    def forward(self, pooled, spikes=None):
        c = self.concrete_proj(pooled)
        if spikes is None:
            return F.normalize(c, dim=-1)
        a = self.abstract_proj(self.readout(spikes)[-1])
        return F.normalize(self.fusion(c, a), dim=-1)


class _TextHead(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.proj = model.text_proj

    def forward(self, pooled):
        return F.normalize(self.proj(pooled), dim=-1)


def export_pt2(model, images: torch.Tensor, out_dir: str | Path) -> list[dict]:
    """Write the ANN parts of ``model`` as torch.export programs (``.pt2``); return their manifest parts."""
    refuse_stages(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1)
    parts = []

    def save(name, module, args, dynamic, inputs, outputs):
        with torch.no_grad():
            program = torch.export.export(module.eval(), args, dynamic_shapes=dynamic)
        torch.export.save(program, out_dir / f"{name}.pt2")
        parts.append({"name": name, "kind": "ann", "format": "torch.export", "file": f"{name}.pt2"})
        parts[-1].update(inputs=inputs, outputs=outputs)

    with torch.no_grad():
        concrete = model.encode_concrete(images)
        text_pooled = torch.zeros(images.shape[0], model.text.dim)
    S, (N, C) = images.shape[-1], concrete.tokens.shape[1:]
    E = model.cfg.embed_dim
    save(
        "concrete", _Concrete(model.concrete), (images,), ({0: batch},),
        {"images": f"[B, 3, {S}, {S}] in [0, 1]"}, {"tokens": f"[B, {N}, {C}]", "pooled": f"[B, {C}]"},
    )  # fmt: skip
    if model.has_snn:
        D, T = model.abstract.cfg.dim, model.abstract.cfg.time_steps
        save(
            "abstract_input", _AbstractInput(model.abstract), (concrete.tokens,), ({0: batch},),
            {"tokens": f"[B, {N}, {C}]"}, {"current": f"[B, {N}, {D}]"},
        )  # fmt: skip
        with torch.no_grad():
            spikes = model.abstract(concrete.tokens).spikes
        save(
            "image_head", _ImageHead(model), (concrete.pooled, spikes), ({0: batch}, {1: batch}),
            {"pooled": f"[B, {C}]", "spikes": f"[{T}, B, {N}, {D}]"}, {"embedding": f"[B, {E}]"},
        )  # fmt: skip
    else:
        save("image_head", _ImageHead(model), (concrete.pooled,), ({0: batch},), {"pooled": f"[B, {C}]"},
             {"embedding": f"[B, {E}]"})  # fmt: skip
    save("text_head", _TextHead(model), (text_pooled,), ({0: batch},), {"pooled": f"[B, {model.text.dim}]"},
         {"embedding": f"[B, {E}]"})  # fmt: skip
    return parts


def manifest(model, config, checkpoint: str, parts: list[dict]) -> dict:
    """How the exported parts connect; ``parts`` are the entries written (others get ``file: null``)."""
    snn = model.has_snn
    encoding = model.abstract.cfg.encoding if snn else None
    connections = [["concrete.pooled", "image_head.pooled"], ["text.pooled", "text_head.pooled"]]
    if snn:
        connections[1:1] = [
            ["concrete.tokens", "abstract_input.tokens"],
            ["abstract_input.current", "spiking_core.current"],
            ["spiking_core.spikes", "image_head.spikes"],
        ]
    names = (
        ["concrete", "abstract_input", "spiking_core", "image_head"] if snn else ["concrete", "image_head"]
    )
    written = {p["name"]: p for p in parts}
    entries = [written.get(name, {"name": name, "file": None}) for name in names + ["text", "text_head"]]
    entries[-2] = {
        "name": "text",
        "kind": "ann",
        "format": config.model.text.backbone,
        "file": None,
        "source": model.text.source,
    }
    return {
        "format": "ashnet-export/1",
        "checkpoint": str(checkpoint),
        "image_size": config.data.image_size,
        "spiking_input": {
            "direct": "the abstract_input current itself at every step",
            "poisson": "Bernoulli spikes with probability sigmoid(current), drawn at every step",
        }.get(encoding),
        "parts": entries,
        "connections": connections,
        "similarity": f"cosine of image_head and text_head embeddings, times exp(logit_scale) = "
        f"{math.exp(float(model.logit_scale.detach())):.3g} for logits",
    }


def write_manifest(out_dir: Path, new: dict) -> Path:
    """Write ``out_dir/manifest.json``, keeping the files of parts an earlier export wrote there."""
    path = Path(out_dir) / MANIFEST_NAME
    if path.is_file():
        try:
            old = {p["name"]: p for p in json.loads(path.read_text()).get("parts", [])}
        except (json.JSONDecodeError, AttributeError, TypeError, KeyError):
            old = {}
        new["parts"] = [p if p.get("file") or p["name"] not in old else old[p["name"]] for p in new["parts"]]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(new, indent=2) + "\n")
    tmp.replace(path)
    return path
