"""Typed configurations: frozen dataclasses whose fields document and check themselves.

A config is a frozen dataclass deriving from :class:`Config` (a kata's from
:class:`KataConfig`); every field is declared with :func:`param`, which carries a one-line
help text and optional bounds::

    @dataclass(frozen=True, kw_only=True)
    class MyConfig(KataConfig):
        hidden: int = param(16, "hidden units", gt=0)
        lr: float = param(0.1, "learning rate", gt=0)
        activation: Literal["sigmoid", "tanh"] = param("sigmoid", "hidden nonlinearity")
        model: TransformerConfig = param(TransformerConfig(), "the Transformer")  # nested

Supported field types: ``int``, ``float``, ``bool``, ``str``, ``Literal[...]``, ``X | None``,
``tuple[X, ...]`` and another :class:`Config` class, nested: a kata config contains the
library configs it uses instead of repeating their fields. Fields are keyword-only, so a config
is never built by position (a reordered field cannot silently mis-wire a model). Nested fields
have dotted names,
``--set model.dim=512``, and presets may give them dotted (``{"model.dim": 64}``) or nested
(``{"model": {"dim": 64}}``). Values are checked when the dataclass is built, from Python or
from the command line (``--set key=value``, parsed by :func:`parse_value`), so a config object
that exists is a valid one.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from deepkata.core.errors import ConfigError, unknown

_MISSING = dataclasses.MISSING
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null"}


def param(
    default: Any,
    help: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> Any:
    """A config field: its default, a one-line help text and optional numeric bounds."""
    if not help or "\n" in help:
        raise ValueError("a config field needs a one-line help text")
    bounds = {k: v for k, v in {"gt": gt, "ge": ge, "lt": lt, "le": le}.items() if v is not None}
    return dataclasses.field(default=default, metadata={"help": help, "bounds": bounds})


@dataclass(frozen=True)
class FieldSpec:
    """What :func:`fields` knows of one config field."""

    name: str
    type: Any
    default: Any
    help: str
    bounds: Mapping[str, float]

    @property
    def type_name(self) -> str:
        return _type_name(self.type)

    @property
    def choices(self) -> tuple[Any, ...] | None:
        return _literal_choices(_strip_optional(self.type)[0])

    def describe_bounds(self) -> str:
        symbols = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
        return ", ".join(f"{symbols[k]} {v:g}" for k, v in self.bounds.items())


class Config:
    """Base of configs: checks every field's type and bounds when the config is built.

    Subclasses may override :meth:`validate` for checks that involve several fields; it
    raises :class:`ConfigError` naming the fields.
    """

    def __post_init__(self) -> None:
        for spec in fields(type(self)):
            check_value(spec, getattr(self, spec.name))
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; the default has none."""


class KataConfig(Config):
    """Base of a kata's config: the fields ``--set`` reaches, library configs nested in it."""


def require_distinct(name: str, values: Iterable[Any]) -> None:
    """A :class:`ConfigError` naming the field and the first value given twice, if any is."""
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ConfigError(f"{name}: {value!r} is listed twice")
        seen.add(value)


def is_config(tp: Any) -> bool:
    """Whether the field type ``tp`` is a nested config class."""
    return isinstance(tp, type) and issubclass(tp, Config) and dataclasses.is_dataclass(tp)


def fields(cls: type) -> list[FieldSpec]:
    """The fields of a config class, in declaration order, with resolved types (nested
    configs as one field each; :func:`flat_fields` expands them)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if f.default is _MISSING:
            raise TypeError(f"{cls.__name__}.{f.name} needs a default (declare it with param())")
        if "help" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} has no help text (declare it with param())")
        if not f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name} is positional: declare configs with @dataclass(frozen=True, kw_only=True)")
        specs.append(FieldSpec(f.name, hints[f.name], f.default, f.metadata["help"], f.metadata["bounds"]))
    return specs


def flat_fields(cls: type, prefix: str = "", defaults: Any = None) -> list[FieldSpec]:
    """Every leaf field of a config class, nested ones under dotted names (``model.dim``), with
    the defaults of the enclosing config's default (``defaults``, an instance of ``cls``)."""
    out = []
    for spec in fields(cls):
        name = prefix + spec.name
        default = spec.default if defaults is None else getattr(defaults, spec.name)
        if is_config(spec.type):
            out += flat_fields(spec.type, name + ".", default)
        else:
            out.append(dataclasses.replace(spec, name=name, default=default))
    return out


# --- types ------------------------------------------------------------------------------------


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    """(X, True) for ``X | None`` / ``Optional[X]``, else (tp, False)."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
        raise TypeError(f"unsupported union type {tp!r}")
    return tp, False


def _literal_choices(tp: Any) -> tuple[Any, ...] | None:
    return typing.get_args(tp) if typing.get_origin(tp) is Literal else None


def _tuple_item(tp: Any) -> Any | None:
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        raise TypeError(f"only tuple[X, ...] is supported, not {tp!r}")
    return None


def _type_name(tp: Any) -> str:
    inner, optional = _strip_optional(tp)
    choices = _literal_choices(inner)
    item = _tuple_item(inner)
    if choices is not None:
        name = "|".join(str(c) for c in choices)
    elif item is not None:
        name = f"{_type_name(item)},..."
    else:
        name = inner.__name__
    return f"{name} or none" if optional else name


# --- checking and parsing -----------------------------------------------------------------


def check_value(spec: FieldSpec, value: Any) -> None:
    """Raise :class:`ConfigError` unless ``value`` has the field's type and lies in its bounds."""
    tp, optional = _strip_optional(spec.type)
    if value is None:
        if optional:
            return
        raise ConfigError(f"{spec.name} must not be none ({spec.help})")
    if is_config(tp):
        if not isinstance(value, tp):
            raise ConfigError(f"{spec.name} expects a {tp.__name__}, got {value!r}")
        return
    item = _tuple_item(tp)
    if item is not None:
        if not isinstance(value, tuple):
            raise ConfigError(f"{spec.name} must be a tuple of {_type_name(item)}, got {value!r}")
        if not value:
            raise ConfigError(f"{spec.name} must not be empty ({spec.help})")
        for v in value:
            _check_scalar(spec, item, v)
        return
    _check_scalar(spec, tp, value)


def _check_scalar(spec: FieldSpec, tp: Any, value: Any) -> None:
    name = spec.name
    choices = _literal_choices(tp)
    if choices is not None:
        if value not in choices:
            raise unknown(f"value for {name}", str(value), [str(c) for c in choices])
        return
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    elif tp is str:
        ok = isinstance(value, str)
    else:
        raise TypeError(f"unsupported config field type {tp!r} for {name}")
    if not ok:
        raise ConfigError(f"{name} expects {_type_name(tp)}, got {value!r} ({spec.help})")
    if tp in (int, float):
        _check_bounds(spec, value)


def _check_bounds(spec: FieldSpec, value: float) -> None:
    b = spec.bounds
    ok = (
        ("gt" not in b or value > b["gt"])
        and ("ge" not in b or value >= b["ge"])
        and ("lt" not in b or value < b["lt"])
        and ("le" not in b or value <= b["le"])
    )
    if not ok:
        raise ConfigError(f"{spec.name} must be {spec.describe_bounds()}, got {value!r} ({spec.help})")


def parse_value(spec: FieldSpec, text: str) -> Any:
    """Parse the command-line text of ``--set name=text`` into a checked value."""
    tp, optional = _strip_optional(spec.type)
    raw = text.strip()
    if optional and raw.lower() in _NONE:
        return None
    item = _tuple_item(tp)
    if item is not None:
        value: Any = tuple(_parse_scalar(spec, item, part.strip()) for part in raw.split(",") if part.strip())
    else:
        value = _parse_scalar(spec, tp, raw)
    check_value(spec, value)
    return value


def _parse_scalar(spec: FieldSpec, tp: Any, raw: str) -> Any:
    choices = _literal_choices(tp)
    if choices is not None:
        for c in choices:
            if str(c) == raw:
                return c
        raise unknown(f"value for {spec.name}", raw, [str(c) for c in choices])
    try:
        if tp is bool:
            low = raw.lower()
            if low in _TRUE or low in _FALSE:
                return low in _TRUE
            raise ValueError
        if tp is int:
            try:
                return int(raw)
            except ValueError:
                number = float(raw)  # accept 1e4 for an integer field, but not 1.5
                if not number.is_integer():
                    raise
                return int(number)
        if tp is float:
            return float(raw)
        if tp is str:
            return raw
    except (ValueError, OverflowError):
        raise ConfigError(f"{spec.name} expects {_type_name(tp)}, got {raw!r} ({spec.help})") from None
    raise TypeError(f"unsupported config field type {tp!r} for {spec.name}")


# --- building configs --------------------------------------------------------------------------


def parse_assignments(cls: type, assignments: Iterable[str]) -> dict[str, Any]:
    """``["hidden=32", "model.dim=512"]`` -> ``{"hidden": 32, "model.dim": 512}``, checked against ``cls``."""
    specs = {s.name: s for s in flat_fields(cls)}
    values: dict[str, Any] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        if key not in specs:
            raise unknown("config key", key, specs)
        values[key] = parse_value(specs[key], text)
    return values


def _nest(layer: Mapping[str, Any], cls: type, prefix: str = "") -> dict[str, Any]:
    """``layer`` with dotted keys gathered into nested dicts, every key checked against ``cls``."""
    specs = {s.name: s for s in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in layer.items():
        head, dot, rest = key.partition(".")
        if head not in specs or (dot and not is_config(specs[head].type)):
            raise unknown("config key", prefix + key, [s.name for s in flat_fields(cls, prefix)])
        if is_config(specs[head].type) and (dot or isinstance(value, Mapping)):
            sub = _nest({rest: value} if dot else value, specs[head].type, f"{prefix}{head}.")
            previous = out.get(head)
            out[head] = _merge(previous, sub) if isinstance(previous, dict) else sub
        else:
            out[head] = value
    return out


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(merged.get(key), dict) else value
    return merged


def _construct(cls: type, values: Mapping[str, Any], base: Any = None) -> Any:
    """``cls`` from ``values`` (nested dicts for nested configs) over ``base`` or the defaults."""
    specs = {s.name: s for s in fields(cls)}
    kwargs = {}
    for key, value in values.items():
        spec = specs[key]
        if is_config(spec.type) and isinstance(value, Mapping):
            inner = getattr(base, key) if base is not None else spec.default
            value = _construct(spec.type, value, inner)
        kwargs[key] = value
    return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)


def build(cls: type, *layers: Mapping[str, Any]) -> Any:
    """The config ``cls`` with each layer of overrides applied in turn (later layers win).

    A layer's keys are field names, dotted names of nested fields, or nested dicts.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _merge(merged, _nest(layer, cls))
    return _construct(cls, merged)


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as JSON-ready data: nested configs as dicts, tuples as lists."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, Config):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Inverse of :func:`to_dict`, checking every value."""
    specs = {s.name: s for s in fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in specs:
            raise unknown("config key", key, specs)
        if is_config(specs[key].type) and isinstance(value, Mapping):
            value = from_dict(specs[key].type, value)
        elif isinstance(value, list):
            value = tuple(value)
        values[key] = value
    return cls(**values)


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """``{"hidden": 16, "model.dim": 256, ...}``: every leaf value under its dotted name."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, Config):
            out |= flatten(value, f"{prefix}{f.name}.")
        else:
            out[prefix + f.name] = value
    return out


def changed(cfg: Any, base: Any) -> dict[str, Any]:
    """Leaf fields of ``cfg`` that differ from ``base``: {dotted name: value in cfg}."""
    new, old = flatten(cfg), flatten(base)
    return {k: v for k, v in new.items() if v != old[k]}
