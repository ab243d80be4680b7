"""Run metrics: one JSON object per event in ``RUN/metrics.jsonl``, mirrored to TensorBoard in ``RUN/tb``."""

from __future__ import annotations

import json
from pathlib import Path

from ..files import write_atomic
from ..run import RunDir, read_metrics

__all__ = ["MetricsLogger"]


class MetricsLogger:
    """Append metric events of the main process; other ranks get a logger that writes nothing.

    On resume, events after the resumed step (written by the interrupted run after its last
    checkpoint) are dropped first, so the file reads as one uninterrupted run.
    """

    def __init__(self, run_dir: str | Path, enabled: bool = True, resume_step: int | None = None):
        run = RunDir(run_dir)
        self.path = run.metrics
        self.enabled = enabled
        self._tb = None
        if not enabled:
            return
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = [e for e in read_metrics(self.path) if e["step"] <= resume_step]
            write_atomic(self.path, "".join(json.dumps(e) + "\n" for e in kept).encode("utf-8"))
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(str(run.tensorboard))

    def log(self, event: str, step: int, values: dict) -> None:
        """Write ``{"event": event, "step": step, **values}``; numeric values also go to TensorBoard."""
        if not self.enabled:
            return
        record = {"event": event, "step": step, **values}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._tb.add_scalar(f"{event}/{key}", value, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
