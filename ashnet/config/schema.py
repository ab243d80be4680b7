"""The config machinery: :class:`Section` dataclasses that convert and check every field on construction."""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Literal

__all__ = [
    "ConfigError",
    "Section",
    "Check",
    "setting",
    "at_least",
    "between",
    "positive",
    "non_negative",
    "non_empty",
    "unique",
]


class ConfigError(ValueError):
    """A config key, value or file that cannot be used. The message is one line naming the dotted key."""


@dataclasses.dataclass(frozen=True)
class Check:
    """A value rule: ``rule(value)`` is true for good values; ``text`` completes "must be ..."."""

    text: str
    rule: Callable[[Any], bool]

    def __call__(self, value) -> str | None:
        """``None`` for a good value, else the problem (``"must be >= 1"``)."""
        return None if self.rule(value) else f"must be {self.text}"

    def __str__(self) -> str:
        return self.text


def at_least(minimum) -> Check:
    """``value >= minimum`` (and finite)."""
    return Check(f">= {minimum}", lambda v: math.isfinite(v) and v >= minimum)


def between(low, high) -> Check:
    """``low < value < high``, both ends excluded."""
    return Check(f"strictly between {low} and {high}", lambda v: low < v < high)


positive = Check("positive and finite", lambda v: math.isfinite(v) and v > 0)
non_negative = Check(">= 0 and finite", lambda v: math.isfinite(v) and v >= 0)
non_empty = Check("non-empty", lambda v: len(v.strip() if isinstance(v, str) else v) > 0)
unique = Check("free of repeats", lambda v: len(set(v)) == len(v))


def setting(default: Any, *checks: Check) -> Any:
    """A config field: its ``default`` and the ``checks`` its value must pass (``None`` skips them).

    The annotation gives the type, checked first (``int``, ``float`` (ints accepted), ``bool``,
    ``str``, ``Literal[...]`` choices, ``X | None``, ``tuple[X, ...]``, a nested :class:`Section`).
    A :class:`Section` class as ``default`` makes a nested section with its own defaults.
    """
    if isinstance(default, type) and issubclass(default, Section):
        return dataclasses.field(default_factory=default, metadata={"checks": checks})
    return dataclasses.field(default=default, metadata={"checks": checks})


class Section:
    """Base of every config section (a ``@dataclass``): each field is converted to its annotated type
    and checked on construction, then :meth:`validate` checks the fields against each other.

    ``path`` (a class keyword, e.g. ``class AbstractConfig(Section, path="model.abstract")``) is the
    section's place in the run config; error messages name ``path.key`` (see :meth:`key`). A nested
    section given as a mapping is built from it, and a key it does not know is an error (the one
    unknown-key rule, the same for YAML files, ``--set`` overrides and Python).
    """

    _path: ClassVar[str] = ""  # not ``path``: a section may have a key of that name (model.text.path)

    def __init_subclass__(cls, path: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        cls._path = path

    def __post_init__(self):
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            key = self.key(f.name)
            value = _convert(getattr(self, f.name), hints[f.name], key)
            if value is not None:
                for check in f.metadata.get("checks", ()):
                    problem = check(value)
                    if problem:
                        raise ConfigError(f"config key '{key}' {problem}, got {value!r}")
            setattr(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Checks across this section's fields; override and ``raise self.error(name, problem)``."""

    @classmethod
    def from_dict(cls, data: Any):
        """The section from a mapping of its keys (missing keys take their defaults).

        Raises :class:`ConfigError` for a key this section does not know, a value of the wrong
        type or a value its checks refuse; the message names the full dotted key.
        """
        where = f"'{cls._path}'" if cls._path else "the top level"
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"config section {where} must be a mapping, got {data!r}")
        known = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"unknown config key '{cls.key(str(key))}'; valid keys at {where}: {', '.join(known)}"
                )
        return cls(**data)

    def to_dict(self) -> dict:
        """A plain nested dict (tuples as lists), the inverse of :meth:`from_dict`."""

        def plain(value):
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            return value

        return plain(dataclasses.asdict(self))

    @classmethod
    def key(cls, name: str) -> str:
        """The dotted key of field ``name``."""
        return f"{cls._path}.{name}" if cls._path else name

    def error(self, name: str, problem: str) -> ConfigError:
        """``config key 'path.name' <problem>``, to raise."""
        return ConfigError(f"config key '{self.key(name)}' {problem}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str) -> Any:
    """``value`` checked against the annotation ``tp`` and returned in that type (lists become tuples)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"config key '{key}' must be one of {list(choices)}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        items = [_convert(v, args[0] if args else Any, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if isinstance(tp, type) and issubclass(tp, Section):
        return value if isinstance(value, tp) else tp.from_dict(value)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(
            f"config key '{key}' must be {_type_name(tp)}, got {value!r} ({type(value).__name__})"
        )
    return value
