"""The command line as a user types it: exit codes, one-line errors, files left behind."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

def test_list_shows_every_kata(cli, toy_kata, monkeypatch):
    code, out, _ = cli("list", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["binary-addition"]["topic"] == "rnn"
    assert "Day 3" in rows["binary-addition"]["section"]
    assert rows["toy"]["presets"] == ["smoke", "default", "full"]
    monkeypatch.setenv("COLUMNS", "300")
    code, out, _ = cli("list")
    assert code == 0 and "presets" in out.splitlines()[1]
    row = next(line for line in out.splitlines() if "binary-addition" in line)
    assert "smoke, default, curriculum, full" in row


def test_info_lists_fields_presets_and_expectations(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    code, out, _ = cli("info", "binary-addition")
    assert code == 0
    for text in ("hidden units", "curriculum", "sweep=curriculum", "converges within the 10,000-iteration budget"):
        assert text in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "nope"], "unknown kata 'nope' (valid: "),
        (["run", "binary-adition"], "did you mean 'binary-addition'?"),
        (["run", "binary-addition", "--preset", "smok"], "unknown preset of binary-addition 'smok' (valid: curriculum, default, full, smoke); did you mean 'smoke'?"),
        (["run", "binary-addition", "--set", "hidden=abc"], "hidden expects int, got 'abc' (hidden units)"),
        (["run", "binary-addition", "--set", "hidden=0"], "hidden must be > 0, <= 4096, got 0 (hidden units)"),
        (["run", "binary-addition", "--set", "lr=-0.1"], "lr must be > 0, got -0.1"),
        (["run", "binary-addition", "--set", "hiden=3"], "unknown config key 'hiden'"),
        (["run", "binary-addition", "--set", "activation=gelu"], "unknown value for activation 'gelu' (valid: relu, sigmoid, tanh)"),
        (["run", "binary-addition", "--set", "hidden"], "--set expects key=value"),
        (["run", "binary-addition", "--preset", "curriculum", "--set", "hidden=32"], "hidden: fixed by each setting"),
        (["info", "nope"], "unknown kata 'nope'"),
        (["run", "binary-addition", "--set", "train.hidden=3"], "unknown config key 'train.hidden'"),
        (["run", "binary-addition", "--device", "gpu"], "--device 'gpu': expected auto, cpu, cuda or cuda:N"),
        (["run", "binary-addition", "--device", "cuda:0"], "binary-addition computes in NumPy on the CPU; use --device cpu"),
        (["run", "binary-addition", "--precision", "bf16"], "--precision bf16: binary-addition runs in fp32 only"),
    ],
)
def test_bad_input_exits_2_with_one_helpful_line(cli, tmp_path, args, message):
    code, out, err = cli(*args, *(["--out", str(tmp_path)] if args[0] == "run" else []))
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_models_lists_the_registry_with_parameter_counts(cli, monkeypatch):
    from torch import nn

    code, out, _ = cli("models", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    # nn.LSTM(1, 64): 4 gates x (64 x 1 + 64 x 64 + 64 + 64) weights and biases
    assert rows["recurrent"]["parameters"] == sum(p.numel() for p in nn.LSTM(1, 64).parameters()) == 17_152
    assert rows["recurrent"]["topic"] == "rnn" and rows["recurrent"]["config"] == "SequenceModelConfig"
    monkeypatch.setenv("COLUMNS", "300")
    code, out, _ = cli("info", "recurrent")
    assert code == 0 and "parameters: 17,152 at the defaults" in out and "output_size" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["lst"], "deepkata: error: No such command 'lst'. Did you mean 'list'? (see deepkata --help)"),
        (["run", "binary-addition", "--seed", "-1"], "deepkata run: error: Invalid value for '--seed': Input should be greater than or equal to 0"),
        (["run", "binary-addition", "--seed", "x"], "Invalid value for '--seed'"),
        (["run"], "deepkata run: error: Missing argument 'KATA'."),
        (["run", "binary-addition", "--bogus"], "No such option: --bogus"),
        (["translate", "--beam", "0"], "deepkata translate: error: Invalid value for '--beam'"),
    ],
)
def test_typer_usage_errors_are_one_line_and_exit_2(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Usage:" not in err


def test_help_names_arguments_plainly(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli("run", "--help")
    assert code == 0 and "Usage: deepkata run [OPTIONS] KATA\n" in out
    for text in ("--set KEY=VALUE", "--seed N", "--precision fp32|bf16", "--out DIR"):
        assert text in out
    for odd in ("{", "<str>", "<int range>", "list[str]", "<path>"):
        assert odd not in out
    code, out, _ = cli("translate", "--help")
    assert code == 0 and "[TEXT]..." in out
    code, out, _ = cli("gtp", "--help")
    assert code == 0 and "--player random|mcts" in out and "--rule uct|rave" in out


def test_no_help_page_shows_typer_type_placeholders(cli, monkeypatch):
    import typer

    from deepkata.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    names = list(typer.main.get_command(app).commands)
    assert {"run", "translate", "forecast", "gtp", "arena"} <= set(names)
    for name in names:
        code, out, _ = cli(name, "--help")
        assert code == 0
        for odd in ("{", "<str>", "<int", "<float", "<path>", "list[str]", "<list"):
            assert odd not in out, (name, odd)


def test_run_show_and_strict(cli, toy_kata, tmp_path):
    code, out, _ = cli("run", "toy", "--preset", "smoke", "--seed", "3", "--out", str(tmp_path), "--quiet")
    assert code == 0
    run_dir = out.strip()
    assert run_dir.startswith(str(tmp_path / "toy")) and run_dir.endswith("-s3")
    code, out, _ = cli("show", run_dir)
    assert code == 0
    assert "toy · preset smoke · seed 3 · completed" in out
    assert "NOT met  total reaches 10" in out
    assert "met      total about 2.5" in out
    code, out, _ = cli("show", run_dir, "--json")
    assert json.loads(out)["metrics"]["train/total"] == 2.5
    code, _, _ = cli("run", "toy", "--preset", "smoke", "--out", str(tmp_path), "-q", "--strict")
    assert code == 1  # two expectations are not met


def test_show_refuses_what_is_not_a_finished_run(cli, toy_kata, tmp_path):
    code, _, err = cli("show", str(tmp_path))
    assert code == 2 and "not a run folder" in err
    code, _, err = cli("run", "toy", "--set", "mode=interrupt", "--out", str(tmp_path), "-q", "--checkpoint-every", "0")
    assert code == 130
    run_dir = err.split("deepkata resume ")[1].strip()
    code, _, err = cli("show", run_dir)
    assert code == 1 and "did not finish" in err and f"deepkata resume {run_dir}" in err


def test_run_resume_continues_an_interrupted_run_of_that_kata(cli, toy_kata, tmp_path):
    code, _, err = cli("run", "toy", "--set", "mode=interrupt", "--out", str(tmp_path), "-q", "--checkpoint-every", "0")
    run_dir = err.split("deepkata resume ")[1].strip()
    code, _, err = cli("run", "binary-addition", "--resume", run_dir)
    assert code == 2 and "not a run of binary-addition" in err
    config = json.loads((tmp_path / run_dir.split(str(tmp_path) + "/")[1] / "config.json").read_text())
    config["config"]["mode"] = "ok"
    (tmp_path / run_dir.split(str(tmp_path) + "/")[1] / "config.json").write_text(json.dumps(config))
    code, out, _ = cli("run", "toy", "--resume", run_dir, "-q")
    assert code == 0 and out.strip() == run_dir


def test_data_option_is_refused_by_a_kata_without_data(cli, tmp_path):
    code, _, err = cli("run", "binary-addition", "--data", str(tmp_path), "--out", str(tmp_path))
    assert code == 2 and "binary-addition takes no --data" in err


def test_failed_run_exits_1_and_points_at_the_traceback(cli, toy_kata, tmp_path):
    code, _, err = cli("run", "toy", "--set", "mode=crash", "--out", str(tmp_path), "-q")
    assert code == 1
    assert "run failed: RuntimeError: toy crash" in err and "error.txt" in err


def test_tour_runs_every_smoke_preset_and_links_each_run(cli, toy_kata, tmp_path, monkeypatch):
    from deepkata.core import registry

    monkeypatch.setattr(registry, "all_katas", lambda: [toy_kata])
    monkeypatch.setattr("deepkata.cli.all_katas", lambda: [toy_kata])
    code, out, _ = cli("tour", "--out", str(tmp_path), "--quiet")
    assert code == 0
    index = (tmp_path / "tour" / "index.md").read_text()
    (run_dir,) = (tmp_path / "tour" / "toy").iterdir()
    assert f"[toy](toy/{run_dir.name}/report.md)" in index
    assert "| completed | 1/3 |" in index
    assert "**not met** | total reaches 10" in index
    html = (tmp_path / "tour" / "index.html").read_text()
    assert f'href="toy/{run_dir.name}/report.html"' in html


def test_the_installed_script_is_the_entry_point_and_python_m_works(capsys):
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="deepkata")
    assert script.value == "deepkata.cli:main"
    with pytest.raises(SystemExit) as e:
        script.load()(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("deepkata ")
    done = subprocess.run([sys.executable, "-m", "deepkata", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deepkata ")


def greet(name: str, times: int = 1) -> None:
    """Say hello (a task command for the test below)."""
    print(" ".join([f"hello {name}"] * times))


def test_task_commands_are_added_from_the_catalog(capsys):
    import typer

    from deepkata.cli import add_task_commands

    app = typer.Typer()
    add_task_commands(app, [("greet", "tests.test_cli:greet"), ("other", "tests.test_cli:greet")])
    with pytest.raises(SystemExit) as e:
        app(["greet", "kata", "--times", "2"])
    assert e.value.code == 0
    assert capsys.readouterr().out == "hello kata hello kata\n"


def test_the_command_starts_without_loading_pytorch():
    # --help, --version and the task commands' parsing must not wait for torch to import;
    # a command that trains or decodes loads it when it runs
    code = "import sys, deepkata.cli; print(sorted(m for m in ('torch', 'matplotlib', 'numba') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
