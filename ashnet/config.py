"""The run configuration: nested dataclasses loaded from YAML with strict validation, and packaged configs."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from .losses import LossConfig
from .models.config import ModelConfig

__all__ = [
    "Config",
    "DataConfig",
    "TrainConfig",
    "StuaConfig",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "dump_config",
    "packaged_configs",
    "apply_overrides",
]


@dataclass
class DataConfig:
    """How images and captions are fed.

    ``image_size``: side of the square images in pixels; ``batch_size``: images per step (per process
    under torchrun, so the global batch is ``batch_size * world_size``); ``num_workers``: DataLoader
    worker processes for image loading.
    """

    image_size: int = 64
    batch_size: int = 64
    num_workers: int = 0


@dataclass
class TrainConfig:
    """Optimisation schedule and bookkeeping of image-text training.

    ``max_steps`` caps the steps (``None``: ``epochs`` full passes). The learning rate warms up linearly
    over ``warmup_steps`` then follows a cosine to zero. ``grad_clip``: max global gradient norm
    (``None``: off). ``amp``: mixed precision where the device supports it (fp16 autocast with a
    gradient scaler on CUDA; CPU runs stay in fp32). ``device``: ``auto`` (CUDA when available), ``cpu``
    or ``cuda``. ``eval_every``, ``log_every``, ``checkpoint_every`` are in steps (``0``: only at the end).
    ``init``: a checkpoint (for example from ``ashnet pretrain-stua``) whose matching weights start training.
    """

    epochs: int = 1
    max_steps: int | None = None
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 0
    grad_clip: float | None = 1.0
    amp: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    eval_every: int = 0
    log_every: int = 10
    checkpoint_every: int = 0
    init: str | None = None


@dataclass
class StuaConfig:
    """STUA pre-training (``ashnet pretrain-stua``): the spiking encoder learns from captions alone.

    ``steps``: optimisation steps (``0``: the demo skips the stage); ``lr``, ``batch_size``,
    ``warmup_steps``: as in training.
    """

    steps: int = 0
    lr: float = 1e-3
    batch_size: int = 128
    warmup_steps: int = 0


@dataclass
class Config:
    """Everything a run needs: ``seed`` plus the data, model, loss, train and stua sections."""

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    stua: StuaConfig = field(default_factory=StuaConfig)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and return it in that type (lists become tuples)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except (TypeError, ValueError) as err:
                errors.append(str(err))
        raise TypeError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ValueError(f"config key '{key}' must be one of {list(choices)}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"config key '{key}' must be a list, got {value!r}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        items = [_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(tp):
        return config_from_dict(value, tp, key)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool) or not isinstance(value, tp):
        raise TypeError(
            f"config key '{key}' must be {_type_name(tp)}, got {value!r} ({type(value).__name__})"
        )
    return value


def config_from_dict(data: Any, cls: type = Config, prefix: str = "") -> Any:
    """Build the dataclass ``cls`` from a nested mapping, rejecting unknown keys and wrong types.

    Missing keys take the dataclass defaults. Errors name the full dotted key.
    """
    where = f"'{prefix}'" if prefix else "the top level"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TypeError(f"config section {where} must be a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            full = f"{prefix}.{key}" if prefix else str(key)
            raise ValueError(f"unknown config key '{full}'; valid keys at {where}: {', '.join(fields)}")
    values = {}
    for name, value in data.items():
        full = f"{prefix}.{name}" if prefix else name
        values[name] = _convert(value, hints[name], full)
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config section {where}: {err}") from err


def config_to_dict(config: Any) -> dict:
    """A plain nested dict of ``config`` (tuples as lists), the inverse of :func:`config_from_dict`."""

    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(config))


def dump_config(config: Config) -> str:
    """The resolved config as YAML text (every key, defaults included)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def packaged_configs() -> dict[str, Path]:
    """Names and paths of the configs shipped in ``ashnet/configs``."""
    folder = resources.files("ashnet") / "configs"
    return {
        Path(p.name).stem: Path(str(p))
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
        if p.name.endswith(".yaml")
    }


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Set ``dotted.key=value`` pairs (values parsed as YAML) in the nested mapping ``data``."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} must look like section.key=value")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: '{part}' is not a section")
        node[parts[-1]] = yaml.safe_load(text)
    return data


def load_config(source: str | Path, overrides: list[str] | None = None) -> Config:
    """Load a YAML file, or a packaged config by name (``tiny``, ``demo``, ...), into a :class:`Config`.

    Raises
    ------
    FileNotFoundError
        ``source`` is neither a file nor a packaged config name.
    ValueError, TypeError
        Bad YAML, unknown keys or wrong types; the message names the dotted key.
    """
    path = Path(source)
    if not path.is_file():
        named = packaged_configs()
        if str(source) not in named:
            raise FileNotFoundError(
                f"config {str(source)!r} is neither a file nor a packaged config ({', '.join(named)})"
            )
        path = named[str(source)]
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"config {path} is not valid YAML: {err}") from err
    data = apply_overrides(data if data is not None else {}, overrides or [])
    try:
        return config_from_dict(data)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{path}: {err}") from err
