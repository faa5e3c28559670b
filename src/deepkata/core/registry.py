"""The kata registry: every runnable experiment, its presets and the results it should show.

A kata is a typed config class (:class:`deepkata.core.config.KataConfig`) plus a function
``run(cfg, run) -> Outcome`` that the platform calls with a :class:`deepkata.core.runner.Run`.
A topic registers its katas in its own ``katas.py``::

    @register_kata(
        name="binary-addition",
        topic="rnn",
        section="Day 3 - simple RNN exercise",
        description="8-bit binary addition by a NumPy RNN trained with exact BPTT",
        config=BinaryAdditionConfig,
        presets={"smoke": {"iterations": 2000}, "default": {}, "full": {...}},
        expectations=[Expectation(...)],
    )
    def run(cfg: BinaryAdditionConfig, run: Run) -> Outcome: ...

The platform never imports a topic: :func:`load_katas` imports the modules listed in
:mod:`deepkata.catalog` and any ``deepkata.katas`` entry points of installed plugins.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

from deepkata.core import config as config_mod
from deepkata.core.errors import unknown

REQUIRED_PRESETS = ("smoke", "default", "full")
Comparison = Literal[">=", "<=", "~"]


@dataclass(frozen=True)
class Expectation:
    """What a run should show: ``metric`` compared with ``target`` within ``tol``.

    ``>=`` is met when value >= target - tol, ``<=`` when value <= target + tol and ``~`` when
    |value - target| <= tol. ``target`` is a number or the name of another metric. A missing
    or non-finite value is never met. ``presets`` limits the presets it applies to.
    """

    description: str
    metric: str
    op: Comparison
    target: float | str
    tol: float = 0.0
    presets: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.op not in (">=", "<=", "~"):
            raise ValueError(f"unknown comparison {self.op!r}; expected >=, <= or ~")
        if self.tol < 0:
            raise ValueError("tol must be >= 0")

    def applies_to(self, preset: str) -> bool:
        return self.presets is None or preset in self.presets

    def check(self, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """This expectation with the observed value and whether it was met."""
        value = _finite(metrics.get(self.metric))
        target = _finite(metrics.get(self.target)) if isinstance(self.target, str) else float(self.target)
        note = ""
        if value is None:
            met = False
            note = f"{self.metric} was not measured" if self.metric not in metrics else f"{self.metric} has no value"
        elif target is None:
            met = False
            note = f"target {self.target} was not measured"
        elif self.op == ">=":
            met = value >= target - self.tol
        elif self.op == "<=":
            met = value <= target + self.tol
        else:
            met = abs(value - target) <= self.tol
        return {
            "description": self.description,
            "metric": self.metric,
            "op": self.op,
            "target": self.target,
            "target_value": target,
            "tol": self.tol,
            "value": value,
            "met": met,
            "note": note,
        }

    def criterion(self) -> str:
        tol = f" ± {self.tol:g}" if self.tol and self.op == "~" else (f" (tol {self.tol:g})" if self.tol else "")
        target = self.target if isinstance(self.target, str) else f"{self.target:g}"
        return f"{self.metric} {self.op} {target}{tol}"


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class Observation:
    """One observation of the curriculum's notes, judged by a run: reproduced, or not, with numbers.

    ``claim`` is what the notes say (in English), ``notes`` the figure they give ("—" when none),
    ``reading`` how a vague claim was made checkable (the rule applied), ``ours`` our figure with
    its seeds or range, ``reproduced`` the verdict (None: this preset cannot judge it).
    """

    exercise: str
    claim: str
    notes: str
    reading: str
    ours: str
    reproduced: bool | None


@dataclass
class Outcome:
    """What a kata's run returns: final metrics and the prose of its report.

    ``summary`` says in a few sentences what happened and how it compares with the baseline
    or the curriculum's figures; ``sections`` are (heading, markdown) pairs, such as tables;
    ``data`` says what this run read, where the kata reads more than one kind of input.
    Figures and tables saved through the :class:`~deepkata.core.runner.Run` are added to the
    report by the platform. ``metrics`` are reproducible (the same seed gives the same
    values); wall-clock measurements go in ``timings``, which are not.
    """

    metrics: dict[str, float | int | None]
    summary: str
    sections: list[tuple[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # what this run read, when the kata's ``data`` describes many inputs (``--data`` or generated):
    # the report's opening line names it instead, so a report on a real file never says "generated"
    data: str | None = None
    # the notes' observations this run judged: the report ends with their table, and the metrics
    # gain observations/reproduced and observations/checked (for expectations on them)
    observations: list[Observation] = field(default_factory=list)


@dataclass(frozen=True)
class Kata:
    name: str
    topic: str
    section: str  # where the curriculum teaches it
    description: str  # one line, for `deepkata list`
    config: type  # a frozen dataclass deriving from KataConfig
    run: Callable[[Any, Any], Outcome]
    presets: Mapping[str, Mapping[str, Any]]
    expectations: tuple[Expectation, ...] = ()
    data: str = "generated"  # where its data comes from, for the kata table
    takes_data: bool = False  # accepts a data file or folder through --data
    threads: int | None = None  # PyTorch threads it runs best with (None: PyTorch's default)
    cpu_only: bool = False  # computes in NumPy: --device cpu (or auto) only
    precisions: tuple[str, ...] = ("fp32",)  # what --precision may be; ("fp32", "bf16") allows autocast
    distributed: bool = False  # trains data-parallel under torchrun

    def preset_config(self, preset: str) -> Any:
        if preset not in self.presets:
            raise unknown(f"preset of {self.name}", preset, self.presets)
        return config_mod.build(self.config, self.presets[preset])

    def expectations_for(self, preset: str) -> list[Expectation]:
        return [e for e in self.expectations if e.applies_to(preset)]


class RegistryError(ValueError):
    """A kata that cannot be registered: duplicate name, missing preset, bad config."""


_KATAS: dict[str, Kata] = {}


def register(kata: Kata) -> Kata:
    """Add ``kata`` to the registry; a name may be registered once."""
    if kata.name in _KATAS:
        raise RegistryError(f"kata {kata.name!r} is already registered")
    if not kata.name or kata.name != kata.name.lower() or " " in kata.name:
        raise RegistryError(f"kata name {kata.name!r} must be lowercase with no spaces")
    missing = [p for p in REQUIRED_PRESETS if p not in kata.presets]
    if missing:
        raise RegistryError(f"kata {kata.name!r} lacks presets {missing}")
    if "fp32" not in kata.precisions or not set(kata.precisions) <= {"fp32", "bf16"}:
        raise RegistryError(f"kata {kata.name!r}: precisions must include fp32 and be among fp32, bf16")
    if kata.cpu_only and kata.precisions != ("fp32",):
        raise RegistryError(f"kata {kata.name!r}: a NumPy kata computes in fp32 only")
    if not issubclass(kata.config, config_mod.KataConfig):
        raise RegistryError(f"kata {kata.name!r}: config must derive from KataConfig")
    for preset in kata.presets:
        try:
            kata.preset_config(preset)
        except Exception as e:
            raise RegistryError(f"kata {kata.name!r}, preset {preset!r}: {e}") from e
    for e in kata.expectations:
        unknown_presets = set(e.presets or ()) - set(kata.presets)
        if unknown_presets:
            raise RegistryError(f"kata {kata.name!r}: expectation {e.description!r} names unknown presets {sorted(unknown_presets)}")
    _KATAS[kata.name] = kata
    return kata


def register_kata(
    *,
    name: str,
    topic: str,
    section: str,
    description: str,
    config: type,
    presets: Mapping[str, Mapping[str, Any]],
    expectations: Sequence[Expectation] = (),
    data: str = "generated",
    takes_data: bool = False,
    threads: int | None = None,
    cpu_only: bool = False,
    precisions: Sequence[str] = ("fp32",),
    distributed: bool = False,
) -> Callable[[Callable[[Any, Any], Outcome]], Callable[[Any, Any], Outcome]]:
    """Decorator form of :func:`register` for a kata's run function."""

    def wrap(fn: Callable[[Any, Any], Outcome]) -> Callable[[Any, Any], Outcome]:
        register(
            Kata(
                name=name, topic=topic, section=section, description=description, config=config, run=fn,
                presets=dict(presets), expectations=tuple(expectations), data=data, takes_data=takes_data,
                threads=threads, cpu_only=cpu_only, precisions=tuple(precisions), distributed=distributed,
            )
        )  # fmt: skip
        return fn

    return wrap


def unregister(name: str) -> None:
    """Remove a kata (for tests and interactive sessions)."""
    _KATAS.pop(name, None)


def import_modules(modules: Iterable[str], plugin_group: str | None = None) -> None:
    """Import ``modules`` and the modules of the installed plugins' ``plugin_group`` entry points:
    what registers katas (``deepkata.katas``) and models (``deepkata.models``)."""
    plugins = [ep.value for ep in entry_points(group=plugin_group)] if plugin_group else []
    for module in [*modules, *plugins]:
        importlib.import_module(module)


_loaded = False


def load_katas(modules: Iterable[str] | None = None) -> None:
    """Import the built-in kata modules and installed plugins, once."""
    global _loaded
    if modules is not None:
        import_modules(modules)
    elif not _loaded:
        from deepkata.catalog import KATA_MODULES

        import_modules(KATA_MODULES, "deepkata.katas")
        _loaded = True


def is_populated() -> bool:
    """Whether katas are loaded or registered in this process (without loading them)."""
    return _loaded or bool(_KATAS)


def all_katas() -> list[Kata]:
    load_katas()
    return list(_KATAS.values())


def get_kata(name: str) -> Kata:
    load_katas()
    try:
        return _KATAS[name]
    except KeyError:
        raise unknown("kata", name, _KATAS) from None
