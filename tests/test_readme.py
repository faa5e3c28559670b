"""The README stays true: its kata table lists every registered kata, and its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from deepkata.core.registry import all_katas

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_kata_is_in_the_readme_table():
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", README, flags=re.M))
    assert listed == {k.name for k in all_katas()}


def test_readme_gives_the_two_setup_commands():
    assert "pip install -e . && deepkata run binary-addition --preset curriculum" in README
    assert "pip install -e '.[test]' && pytest" in README


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert "pip install --quiet -e '.[test]'" in ci and "python -m pytest" in ci
