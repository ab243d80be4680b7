"""The run directory: the one place that names a run's files and checks the folder before a run starts.

A run directory (``ashnet train --out RUN``, ``ashnet pretrain-stua --out RUN``) holds

- ``config.yaml``: the resolved config the run was started with (every key);
- ``checkpoint.pt``: weights, optimiser, schedule, step and random states (written atomically);
- ``metrics.jsonl``: one JSON object per event (``{"event": "train" | "eval", "step": ..., ...}``);
- ``tb/``: the same metrics for TensorBoard.

Everything else that reads or writes these goes through :class:`RunDir`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .files import write_atomic

__all__ = ["RunDir", "read_metrics"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunDir:
    """A run directory and the paths of the files a run keeps there."""

    path: Path

    CONFIG: ClassVar[str] = "config.yaml"
    CHECKPOINT: ClassVar[str] = "checkpoint.pt"
    METRICS: ClassVar[str] = "metrics.jsonl"
    TENSORBOARD: ClassVar[str] = "tb"

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def of(cls, run_or_file: str | Path) -> RunDir:
        """The run directory ``run_or_file`` itself, or the one holding the file (e.g. a checkpoint)."""
        path = Path(run_or_file)
        return cls(path if path.is_dir() else path.parent)

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def metrics(self) -> Path:
        return self.path / self.METRICS

    @property
    def tensorboard(self) -> Path:
        return self.path / self.TENSORBOARD

    def prepare(self, config, resume: bool, write: bool = True) -> bool:
        """Check the folder before a run; write ``config.yaml`` when ``write`` (on the main process).

        A new run needs a folder without a checkpoint. ``resume`` needs the run's ``config.yaml``
        to equal ``config`` (a one-line error naming the keys that differ otherwise). Returns
        whether the run continues from its checkpoint: one killed before its first checkpoint
        (or before its ``config.yaml``, which is written atomically) starts over.
        """
        from .config import dump_config

        if resume and self.path.is_dir() and not (self.config.exists() or self.checkpoint.exists()):
            # killed before config.yaml was written (it is written whole or not at all)
            logger.warning("--resume: %s holds no run yet; starting the run from step 0", self.path)
            resume = False
        if resume:
            self._check_same_config(config)
            if not self.checkpoint.is_file():
                logger.warning("--resume: %s has no checkpoint yet; starting the run from step 0", self.path)
                resume = False
        elif self.checkpoint.exists():
            raise ValueError(
                f"{self.path} already holds a run; pass --resume to continue it or pick another --out"
            )
        if write:
            self.path.mkdir(parents=True, exist_ok=True)
            write_atomic(self.config, dump_config(config).encode("utf-8"))  # a kill leaves no half file
        return resume

    def _check_same_config(self, config) -> None:
        from .config import load_config

        if not self.config.is_file():
            raise FileNotFoundError(
                f"--resume: {self.path} holds no run (no {self.CONFIG}); drop --resume to start one"
            )
        try:
            started = load_config(self.config)
        except ValueError as err:
            raise ValueError(f"--resume: the run's config cannot be read ({err})") from None
        if started != config:
            diffs = _differences(started.to_dict(), config.to_dict())
            shown = "; ".join(diffs[:3]) + (f"; and {len(diffs) - 3} more" if len(diffs) > 3 else "")
            raise ValueError(
                f"--resume: {self.path} was started with another config ({shown}); resume with the "
                "run's own config (leave out --config) or pick another --out"
            )


def _differences(started: dict, now: dict, prefix: str = "") -> list[str]:
    """``key: value in the run, value now`` for every dotted key where two plain configs differ."""
    diffs = []
    for key in started.keys() | now.keys():
        a, b = started.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            diffs.append(f"{prefix}{key}: {a!r} in the run, {b!r} now")
    return sorted(diffs)


def read_metrics(run_or_file: str | Path) -> list[dict]:
    """All events of a run's ``metrics.jsonl`` (give the run directory or the file itself)."""
    path = Path(run_or_file)
    if path.is_dir():
        path = RunDir(path).metrics
    if not path.is_file():
        raise FileNotFoundError(f"no metrics file at {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
