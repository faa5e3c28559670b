"""The kata table as data, so that ``deepkata list`` and ``deepkata info`` answer at once.

A kata's module imports its models, so asking the registry loads PyTorch, numba and gymnasium
(3-4 s on a laptop). What ``list`` and ``info`` show (names, curriculum sections, config fields,
presets, expectations) is plain data: it is kept in ``deepkata/katas.json``, made from the
registry by ``python -m deepkata.core.manifest``. ``tests/core/test_manifest.py`` fails when
the file no longer matches the registry, so a kata that changes is a kata whose file is
written again.

The live registry answers instead when it is already loaded in this process (a kata
registered at run time shows up), when installed plugins add katas, or when the file is
missing or of another format.
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from deepkata.core import config as config_mod
from deepkata.core import registry
from deepkata.core.errors import unknown
from deepkata.core.report import fmt

FORMAT = "deepkata-katas-1"
PATH = Path(__file__).resolve().parent.parent / "katas.json"


def describe(kata: registry.Kata) -> dict[str, Any]:
    """What ``list --json`` and ``info`` say of ``kata``, as JSON-ready data."""
    default = kata.preset_config("default")
    presets = {}
    for name, overrides in kata.presets.items():
        flat = config_mod.changed(kata.preset_config(name), default) if overrides else {}
        shown = flat or dict(overrides)
        presets[name] = ", ".join(f"{f}={fmt(v)}" for f, v in shown.items()) or "(the defaults)"
    return {
        "name": kata.name,
        "topic": kata.topic,
        "section": kata.section,
        "description": kata.description,
        "presets": list(kata.presets),
        "devices": ["cpu"] if kata.cpu_only else ["cpu", "cuda"],
        "precisions": list(kata.precisions),
        "distributed": kata.distributed,
        "data": kata.data,
        "fields": [
            {"name": s.name, "type": s.type_name, "default": fmt(s.default), "bounds": s.describe_bounds(), "help": s.help}
            for s in config_mod.flat_fields(kata.config)
        ],
        "preset_overrides": presets,
        "expectations": [
            {"description": e.description, "criterion": e.criterion(), "presets": list(e.presets or kata.presets)} for e in kata.expectations
        ],
    }


def build() -> dict[str, Any]:
    """The manifest of every kata in the live registry (imports them all)."""
    return {"format": FORMAT, "katas": [describe(k) for k in registry.all_katas()]}


def write(path: Path = PATH) -> None:
    from deepkata.core.records import write_text

    write_text(path, json.dumps(build(), indent=1, ensure_ascii=False) + "\n")


def katas() -> list[dict[str, Any]]:
    """Every kata's description, from the file when it can stand for the registry."""
    saved = _saved()
    if saved is None or registry.is_populated() or any(True for _ in entry_points(group="deepkata.katas")):
        return build()["katas"]
    return saved


def find(name: str) -> dict[str, Any] | None:
    """The description of the kata ``name``, or None."""
    return next((k for k in katas() if k["name"] == name), None)


def get(name: str) -> dict[str, Any]:
    """The description of the kata ``name``; an unknown name is a one-line error with a suggestion."""
    found = katas()
    for k in found:
        if k["name"] == name:
            return k
    raise unknown("kata", name, [k["name"] for k in found])


def _saved() -> list[dict[str, Any]] | None:
    try:
        data = json.loads(PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data["katas"] if isinstance(data, dict) and data.get("format") == FORMAT else None


if __name__ == "__main__":
    write()
    print(f"wrote {PATH}")
