"""Feature caching: outputs of frozen encoders computed once per dataset (optionally kept on disk)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, save_checkpoint
from ..data import ImageTextDataset
from ..models import ConcreteOutput, TextFeatures

__all__ = ["FeatureCache", "cache_features", "cache_backbone_tokens", "take"]


def take(features, index: torch.Tensor):
    """Rows ``index`` of every tensor of a :class:`ConcreteOutput` or :class:`TextFeatures` (absent
    fields, such as the level grid of a model without levels, stay ``None``)."""
    return type(features)(*(None if t is None else t[index] for t in features))


@dataclass
class FeatureCache:
    """Cached :class:`ConcreteOutput` per image and :class:`TextFeatures` per caption (``None``: not frozen).

    Text tokens are padded to the longest caption; :meth:`captions` trims a batch back to its own
    longest (under torchrun: the longest of the global batch).
    """

    concrete: ConcreteOutput | None
    text: TextFeatures | None

    def images(self, index: list[int], device) -> ConcreteOutput:
        return take(self.concrete, torch.as_tensor(index)).to(device)

    @torch.no_grad()
    def embed(self, model, batch_size: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor, float | None]:
        """Embeddings of every cached image and caption (``[n, E]`` each, on the CPU) and the spiking
        encoder's mean firing rate over the images in percent (None without the SNN branch)."""
        model.eval()
        n_images, n_texts = len(self.concrete.pooled), len(self.text.pooled)
        images, spikes = [], 0.0
        for s in range(0, n_images, batch_size):
            out = model.embed_image(self.images(list(range(s, min(s + batch_size, n_images))), device))
            images.append(out.embedding.float().cpu())
            if out.firing_rate is not None:
                spikes += float(out.firing_rate) * len(out.embedding)
        texts = []
        for s in range(0, n_texts, batch_size):
            batch = self.captions(list(range(s, min(s + batch_size, n_texts))), device, global_batch=False)
            texts.append(model.embed_text(batch).float().cpu())
        rate = 100.0 * spikes / n_images if model.spiking else None
        return torch.cat(images), torch.cat(texts), rate

    def captions(self, index: list[int], device, global_batch: bool = True) -> TextFeatures:
        """The cached captions ``index``, padded to the longest caption of the global batch (every
        process calls this together) or, with ``global_batch=False`` (one process alone, as in
        evaluation), to the longest of ``index``."""
        i = torch.as_tensor(index)
        mask = self.text.mask[i]
        length = int(mask.any(0).nonzero().max()) + 1
        if global_batch:
            length = _global_max(length, device)
        return TextFeatures(
            self.text.tokens[i, :length].to(device),
            mask[:, :length].to(device),
            self.text.pooled[i].to(device),
        )


def _global_max(value: int, device) -> int:
    """The largest ``value`` over all processes of the global batch (``value`` without a process group).

    Padded caption tokens take part in the spiking encoder's BatchNorm statistics, so every process
    pads its captions to the longest of the global batch, as one process with that batch would.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    t = torch.tensor([value], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t)


def _fingerprint(module: torch.nn.Module, *parts) -> str:
    """A hash of a module's weights, what it is applied to and the thread count (it changes last bits)."""
    h = hashlib.sha256()
    h.update(f"threads={torch.get_num_threads()}".encode())
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    for part in parts:
        h.update(repr(part).encode())
    return h.hexdigest()[:20]


def _cached(path: Path | None, cls, compute):
    """``compute()`` (a NamedTuple of tensors of type ``cls``), or its copy stored at ``path``."""
    if path is not None and path.is_file():
        return cls(**load_checkpoint(path))
    features = compute()
    if path is not None:
        save_checkpoint(path, features._asdict())
    return features


@torch.no_grad()
def _encode_images(
    encoder, table, image_size: int, batch_size: int, device, progress: bool
) -> ConcreteOutput:
    loader = torch.utils.data.DataLoader(
        ImageTextDataset(table, image_size=image_size), batch_size=batch_size
    )
    parts = [
        encoder(images.to(device))
        for images, _, _ in tqdm(loader, desc=f"cache {encoder.name} features", disable=not progress)
    ]
    return ConcreteOutput(
        *(
            None if parts[0][f] is None else torch.cat([p[f].float().cpu() for p in parts])
            for f in range(len(ConcreteOutput._fields))
        )
    )


def _image_features(encoder, table, image_size, batch_size, device, folder, progress) -> ConcreteOutput:
    """A frozen :class:`ConcreteEncoder`'s output on every image of ``table``, stored in ``folder``."""
    # (a shard member adds its place in the tar; file images keep the keys of older caches, and so
    # do encoders without backbone levels)
    files = [(str(r.path), r.path.stat().st_mtime_ns, *filter(None, [r.member])) for r in table.images]
    levels = (encoder.stages,) if encoder.stages else ()
    key = _fingerprint(encoder, encoder.name, files, image_size, *levels)
    return _cached(
        folder / f"images-{key}.pt" if folder else None,
        ConcreteOutput,
        lambda: _encode_images(encoder, table, image_size, batch_size, device, progress),
    )


def cache_backbone_tokens(
    backbones, table, image_size: int, batch_size: int, device, cache_dir=None, progress: bool = True
) -> dict[str, ConcreteOutput]:
    """The output of each frozen backbone of ``backbones`` (name -> :class:`ConcreteEncoder`) on ``table``.

    Stored in ``cache_dir`` as :func:`cache_features` stores the concrete encoder's (the same key,
    so the two share files), for the vision experts of :class:`ashnet.models.experts.VisionExperts`.
    """
    folder = Path(cache_dir) if cache_dir is not None else None
    out = {}
    for name, encoder in backbones.items():
        if not encoder.frozen:
            raise ValueError(f"backbone {name!r} is trained, so its features cannot be cached")
        encoder.eval()
        out[name] = _image_features(encoder, table, image_size, batch_size, device, folder, progress)
    return out


@torch.no_grad()
def _encode_captions(
    model, captions: list[str], batch_size: int, progress: bool, layer: int | None = None
) -> TextFeatures:
    parts = [
        model.encode_text_features(captions[s : s + batch_size], layer)
        for s in tqdm(range(0, len(captions), batch_size), desc="cache text features", disable=not progress)
    ]
    length = max(p.tokens.shape[1] for p in parts)

    def pad(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(
            t.cpu(), (0, 0, 0, length - t.shape[1]) if t.dim() == 3 else (0, length - t.shape[1])
        )

    return TextFeatures(
        torch.cat([pad(p.tokens.float()) for p in parts]),
        torch.cat([pad(p.mask) for p in parts]),
        torch.cat([p.pooled.float().cpu() for p in parts]),
    )


def cache_features(
    model,
    table,
    captions: list[str] | None,
    image_size: int,
    batch_size: int,
    device,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    text_layer: int | None = None,
) -> FeatureCache:
    """Encode the images of ``table`` with the frozen backbone and ``captions`` with the frozen text model.

    ``text_layer``: keep the text tokens after that many layers instead of the last (the input of
    fusion in the backbone; the pooled features stay the last layer's).
    Parts that are trained (not frozen) or not given (``None``) are left ``None``. With ``cache_dir``
    the results are stored there under a hash of the frozen weights, the image files and the
    captions, so another run on the same data (the demo's baseline, a resumed run) loads them
    instead of recomputing.
    """
    folder = Path(cache_dir) if cache_dir is not None else None
    model.eval()
    concrete = text = None
    if table is not None and model.frozen_concrete:
        concrete = _image_features(model.concrete, table, image_size, batch_size, device, folder, progress)
    if captions is not None and model.frozen_text:
        key = _fingerprint(model.text, captions, model.text.source, text_layer)
        text = _cached(
            folder / f"captions-{key}.pt" if folder else None,
            TextFeatures,
            lambda: _encode_captions(model, captions, batch_size, progress, text_layer),
        )
    return FeatureCache(concrete, text)
