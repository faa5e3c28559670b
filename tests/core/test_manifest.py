"""The kata table that `deepkata list` and `info` read instead of importing every kata."""

from __future__ import annotations

import json
import subprocess
import sys

from deepkata.core import manifest, registry


def test_the_saved_table_is_the_registry_s():
    saved = json.loads(manifest.PATH.read_text(encoding="utf-8"))
    live = json.loads(json.dumps(manifest.build()))
    by_name = lambda table: {k["name"]: k for k in table["katas"]}  # noqa: E731 (tests may import a kata before the catalog does)
    assert saved["format"] == live["format"]
    assert by_name(saved) == by_name(live), "a kata changed: run `python -m deepkata.core.manifest`"


def test_list_and_info_answer_without_importing_the_katas():
    code = (
        "import sys; from deepkata.cli import main\n"
        "for args in (['list', '--json'], ['info', 'fx-forecast']):\n"
        "    try: main(args)\n"
        "    except SystemExit as e: assert not e.code, e.code\n"
        "print(sorted(m for m in ('torch', 'numba', 'gymnasium', 'deepkata.rnn.katas') if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "[]"
    rows = json.loads(done.stdout[: done.stdout.index("\n]") + 2])
    assert sorted(r["name"] for r in rows) == sorted(k["name"] for k in manifest.build()["katas"])
    assert "test_from" in done.stdout and "close_column" in done.stdout  # fx-forecast's fields, from the file


def test_a_kata_registered_in_this_process_is_listed(toy_kata, cli):
    assert registry.is_populated()
    code, out, _ = cli("list", "--json")
    assert code == 0 and "toy" in [r["name"] for r in json.loads(out)]
    code, out, _ = cli("info", "toy")
    assert code == 0 and "total reaches 10" in out


def test_a_missing_or_foreign_file_falls_back_to_the_registry(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "is_populated", lambda: False)
    monkeypatch.setattr(manifest, "PATH", tmp_path / "katas.json")
    live = manifest.build()["katas"]
    assert manifest.katas() == live  # no file
    (tmp_path / "katas.json").write_text(json.dumps({"format": "other", "katas": []}))
    assert manifest.katas() == live
    manifest.write(tmp_path / "katas.json")
    (tmp_path / "katas.json").write_text((tmp_path / "katas.json").read_text().replace("8-bit binary addition", "EDITED"))
    edited = next(k for k in manifest.katas() if k["name"] == "binary-addition")
    assert edited["description"].startswith("EDITED")  # the file is what answers when it stands
