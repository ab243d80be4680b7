"""Checkpoints: atomic, checksummed writes, verified reads, and loading a trained run back as a model."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import torch

from .run import RunDir

__all__ = ["save_checkpoint", "load_checkpoint", "load_run"]

_MAGIC = b"ASHNET-CHECKPOINT v1 sha256="
_DIGEST_LEN = 64


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write ``state`` (tensors, numbers, strings, nested dicts/lists) to ``path`` atomically.

    The file is a header line holding the SHA-256 of the payload, then the ``torch.save`` payload.
    It is written to a temporary file in the same folder, flushed to disk, then moved over ``path``
    with ``os.replace``, so a crash leaves either the old or the new checkpoint, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest().encode()
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(_MAGIC + digest + b"\n")
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read and verify a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    FileNotFoundError
        No such file (or a run directory without ``checkpoint.pt``).
    ValueError
        Not an ashnet checkpoint, or truncated/corrupt (the checksum does not match).
    """
    path = Path(path)
    if path.is_dir():
        path = RunDir(path).checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    data = path.read_bytes()
    header_len = len(_MAGIC) + _DIGEST_LEN + 1
    if not data.startswith(_MAGIC) or len(data) < header_len:
        raise ValueError(f"{path} is not an ashnet checkpoint (missing header), or it is truncated")
    expected = data[len(_MAGIC) : len(_MAGIC) + _DIGEST_LEN].decode("ascii", "replace")
    payload = data[header_len:]
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise ValueError(
            f"checkpoint {path} is corrupt or truncated: checksum {actual[:12]}... does not match "
            f"the recorded {expected[:12]}... ({len(payload)} payload bytes)"
        )
    return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)


def load_run(run_or_file: str | Path, device: str | torch.device = "cpu"):
    """Rebuild the trained model of a run.

    Parameters
    ----------
    run_or_file
        A run directory (holding ``checkpoint.pt``) or a checkpoint file.
    device
        Where to put the model.

    Returns
    -------
    (model, config)
        The :class:`ashnet.models.ASHNet` in eval mode with the trained weights, and its
        :class:`ashnet.config.Config`.
    """
    from .config import Config
    from .models import build_model

    state = load_checkpoint(run_or_file)
    config = Config.from_dict(state["config"])
    model = build_model(config.model)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), config
