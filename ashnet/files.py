"""Files written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``, so a
    crash or kill leaves the old file or the new one, never half of one. The temporary name is per
    process, so concurrent writers of one folder (two builds of one data set) do not clash."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
