"""The layout the style guide asks for: one engine, one registry, and no topic importing another.

Topics (rnn, nlp, rl, go, timeseries, and those to come) import the platform (``core``) and the
shared packages (``models``, ``search``, ``datasets``); the platform imports no topic and the shared packages
import no topic either. Checked on the source's import statements.
"""

from __future__ import annotations

import ast
from pathlib import Path

import deepkata

ROOT = Path(deepkata.__file__).parent
SHARED = {"core", "models", "search", "datasets"}
TOPICS = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - SHARED


def imported_packages(path: Path) -> set[str]:
    """The ``deepkata.<package>`` names a module imports (at any depth of the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            parts = name.split(".")
            if parts[0] == "deepkata" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_the_topics_are_the_expected_packages():
    assert {"rnn", "nlp", "rl", "go", "timeseries"} <= TOPICS


def test_no_topic_imports_another_and_shared_code_imports_no_topic():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        package = path.relative_to(ROOT).parts[0]
        if package.endswith(".py"):
            continue  # cli.py, catalog.py, __main__.py: they name the topics on purpose
        allowed = SHARED | {package} if package in TOPICS else SHARED
        for imported in imported_packages(path) & TOPICS:
            if imported not in allowed:
                wrong.append(f"{path.relative_to(ROOT)} imports deepkata.{imported}")
    assert wrong == []


def test_one_engine_and_one_registry_each():
    defined: dict[str, list[str]] = {}
    for path in ROOT.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module-level definitions
            if isinstance(node, ast.FunctionDef):
                defined.setdefault(node.name, []).append(path.relative_to(ROOT).as_posix())
    assert defined["sweep"] == ["core/engine.py"]
    assert defined["register_model"] == ["models/registry.py"]
    assert defined["register_kata"] == ["core/registry.py"]
    # no kata writes a checkpoint of its own: only the engine, through its Run, saves one
    katas = [p for p in ROOT.rglob("katas/*.py")]
    assert [p.name for p in katas if "checkpoint.save(" in p.read_text(encoding="utf-8")] == []
