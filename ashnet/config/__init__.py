"""The run configuration: one tree of typed, validated sections, loaded from YAML, and the packaged configs.

A run reads one :class:`Config`: ``seed`` and the sections ``data``, ``model``, ``loss``, ``train``,
``stua`` and ``task`` (fine-tuning). Every section is a dataclass derived from
:class:`~ashnet.config.schema.Section` (in :mod:`ashnet.config.model`, :mod:`ashnet.config.loss`
and :mod:`ashnet.config.training`), so it is checked the moment it is built, whether from YAML,
``--set`` overrides or Python:

- every value against its annotated type (ints are accepted for floats; lists become tuples);
- every value against the checks of its field (``at_least(1)``, ``positive``, ...);
- the section's own :meth:`~ashnet.config.schema.Section.validate` (rules across its fields);
- a key a section does not know is an error listing the valid keys.

``Config.from_dict(mapping)`` builds a config from plain data (``config.to_dict()`` is the inverse),
:func:`load_config` from a YAML file or a packaged name, and :func:`dump_config` writes YAML.

Errors are :class:`ConfigError` (a ``ValueError``) with a one-line message naming the dotted key,
``config key 'data.batch_size' must be >= 1, got 0``, which the CLI prints as it is.

Adding a key: add a field with its type, default and checks to its section, and describe it in
the section's docstring::

    @dataclass
    class TrainConfig(Section, path="train"):
        ...
        checkpoint_minutes: float | None = setting(None, positive)  # None skips the checks

``bool`` and ``Literal[...]`` fields need no check (their type is the whole rule); every other
field names at least one (``tests/ashnet/test_config.py`` makes sure). A rule that involves
several fields goes into ``validate`` (``raise self.error("field", "must ...")``). A new section
is a ``Section`` subclass with its ``path``, added as a field ``name: NewConfig =
setting(NewConfig)`` to its parent. Existing YAML files keep working because missing keys take
their defaults; ``ashnet config show NAME`` prints every key.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from .loss import ITCObjective, LossConfig, SpatioTemporalObjective, STUAObjective
from .model import (
    AbstractConfig,
    ConcreteConfig,
    FiberConfig,
    FusionConfig,
    ModelConfig,
    MoLEConfig,
    MoVEConfig,
    TextConfig,
)
from .schema import ConfigError, Section, at_least, setting
from .training import DataConfig, MultiTaskConfig, StuaConfig, TaskConfig, TrainConfig

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "ConcreteConfig",
    "AbstractConfig",
    "FusionConfig",
    "TextConfig",
    "MoVEConfig",
    "MoLEConfig",
    "FiberConfig",
    "LossConfig",
    "ITCObjective",
    "SpatioTemporalObjective",
    "STUAObjective",
    "TrainConfig",
    "StuaConfig",
    "TaskConfig",
    "MultiTaskConfig",
    "load_config",
    "dump_config",
    "packaged_configs",
    "apply_overrides",
]


@dataclass
class Config(Section):
    """Everything a run needs: ``seed`` and the data, model, loss, train, stua, task, multitask sections."""

    seed: int = setting(0, at_least(0))
    data: DataConfig = setting(DataConfig)
    model: ModelConfig = setting(ModelConfig)
    loss: LossConfig = setting(LossConfig)
    train: TrainConfig = setting(TrainConfig)
    stua: StuaConfig = setting(StuaConfig)
    task: TaskConfig = setting(TaskConfig)
    multitask: MultiTaskConfig = setting(MultiTaskConfig)


def dump_config(config: Config) -> str:
    """The resolved config as YAML text (every key, defaults included)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


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
            raise ConfigError(f"override {item!r} must look like section.key=value")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{part}' is not a section")
        try:
            node[parts[-1]] = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(
                f"override {item!r}: the value is not valid YAML ({_yaml_problem(err)})"
            ) from err
    return data


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error in one line: the problem and where it is."""
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{getattr(err, 'problem', None) or type(err).__name__}{where}"


def load_config(source: str | Path, overrides: list[str] | None = None) -> Config:
    """Load a YAML file, or a packaged config by name (``tiny``, ``demo``, ...), into a :class:`Config`.

    Raises
    ------
    FileNotFoundError
        ``source`` is neither a file nor a packaged config name.
    ConfigError
        Bad YAML, an unknown key, a wrong type or a value its checks refuse; the message is one
        line naming the file and the dotted key.
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
        raise ConfigError(f"config {path} is not valid YAML: {_yaml_problem(err)}") from err
    data = apply_overrides(data if data is not None else {}, overrides or [])
    try:
        return Config.from_dict(data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err
