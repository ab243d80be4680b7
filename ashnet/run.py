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
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

__all__ = ["RunDir", "read_metrics"]


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

    def prepare(self, config, resume: bool, write: bool = True) -> None:
        """Check the folder before a run; write ``config.yaml`` when ``write`` (on the main process).

        A new run needs a folder without a checkpoint; ``resume`` needs the checkpoint and the
        same config as ``config.yaml`` (ValueError or FileNotFoundError otherwise).
        """
        from .config import dump_config, load_config

        if resume:
            if not self.checkpoint.is_file():
                raise FileNotFoundError(f"--resume: no checkpoint at {self.checkpoint}")
            if load_config(self.config) != config:
                raise ValueError(
                    f"--resume: the config differs from {self.config}, which the run was started with"
                )
        elif self.checkpoint.exists():
            raise ValueError(
                f"{self.path} already holds a run; pass --resume to continue it or pick another --out"
            )
        if write:
            self.path.mkdir(parents=True, exist_ok=True)
            self.config.write_text(dump_config(config))


def read_metrics(run_or_file: str | Path) -> list[dict]:
    """All events of a run's ``metrics.jsonl`` (give the run directory or the file itself)."""
    path = Path(run_or_file)
    if path.is_dir():
        path = RunDir(path).metrics
    if not path.is_file():
        raise FileNotFoundError(f"no metrics file at {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
