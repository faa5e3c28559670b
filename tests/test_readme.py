"""The README stays true: its kata table lists every registered kata, and its commands exist."""

from __future__ import annotations

import re
import sys
import types
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


def test_the_add_a_kata_example_runs_and_is_short(tmp_path):
    from deepkata.core.registry import unregister
    from tests.conftest import run_kata

    section = README.split("## Add a kata")[1].split("\n## ")[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    body = [line for line in code.splitlines() if line.strip() and not line.startswith(("import ", "from "))]
    assert len(body) < 40, f"the example has {len(body)} lines of code"
    module = types.ModuleType("readme_example")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(compile(code, "README.md", "exec"), module.__dict__)  # registers the kata "echo"
        res = run_kata("echo", tmp_path, sets=["seeds=1"])
        assert res.status == "completed", res.error
        assert res.result["expectations_met"] == "1/1"
        assert res.result["metrics"]["train/loss_last"] < res.result["metrics"]["train/loss_first"]
    finally:
        unregister("echo")
        del sys.modules[module.__name__]
