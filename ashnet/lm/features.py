"""Image features for the vision prefix: the frozen ASH-Net run once per image, kept in memory and on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, save_checkpoint
from ..data import load_image
from .prefix import image_features

__all__ = ["FeatureStore"]


class FeatureStore:
    """Features ``[M, d]`` per image path from a frozen ASH-Net encoder (see :func:`image_features`).

    ``store(keys)`` stacks the features of image keys (paths) to ``[n, M, d]``, or ``None`` for no
    keys. Images are encoded once, in batches, when first asked for (or by :meth:`add`); with
    ``cache_dir`` the features of each :meth:`add` call are stored under a hash of the encoder
    checkpoint, the source and the image files, so later runs on the same images load them.
    """

    def __init__(self, encoder, image_size: int, source: str, n_tokens: int, cache_dir=None, tag: str = ""):
        self.encoder = encoder.eval()
        self.image_size = image_size
        self.source = source
        self.n_tokens = n_tokens
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.tag = tag
        self.features: dict[str, torch.Tensor] = {}

    def _key(self, paths: list[str]) -> str:
        h = hashlib.sha256(f"{self.tag}|{self.source}|{self.n_tokens}|{self.image_size}".encode())
        for p in paths:
            h.update(f"{p}|{Path(p).stat().st_mtime_ns}".encode())
        return h.hexdigest()[:20]

    def add(self, paths, batch_size: int = 64, progress: bool = True) -> None:
        """Encode every path not yet stored."""
        todo = sorted({str(p) for p in paths} - set(self.features))
        if not todo:
            return
        file = self.cache_dir / f"prefix-features-{self._key(todo)}.pt" if self.cache_dir else None
        if file is not None and file.is_file():
            self.features.update(load_checkpoint(file)["features"])
            return
        new = {}
        for s in tqdm(
            range(0, len(todo), batch_size), desc="image features", disable=not progress, leave=False
        ):
            chunk = todo[s : s + batch_size]
            images = torch.stack([load_image(p, self.image_size) for p in chunk])
            for path, f in zip(
                chunk, image_features(self.encoder, images, self.source, self.n_tokens), strict=True
            ):
                new[path] = f.clone()
        if file is not None:
            save_checkpoint(file, {"features": new})
        self.features.update(new)

    def __call__(self, keys: list) -> torch.Tensor | None:
        if not keys:
            return None
        self.add(keys, progress=False)
        return torch.stack([self.features[str(k)] for k in keys])
