"""The ``deepkata`` command: a thin layer over the registry and the runner.

Exit status: 0 done; 1 a run failed (or, with ``--strict``, missed an expectation); 2 bad
input, reported on one line without a traceback; 130 interrupted (the run can be resumed).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand

from deepkata import __version__
from deepkata.catalog import COMMANDS
from deepkata.core import config as config_mod
from deepkata.core import checkpoint, distributed, manifest, records, report
from deepkata.core.errors import UserError
from deepkata.core.registry import all_katas, get_kata

try:  # typer carries its own click since 0.2x; before, click's exceptions are click's
    from typer import TyperException as _UsageErrors
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException as _UsageErrors

if TYPE_CHECKING:
    from deepkata.core.runner import RunResult


class _Command(TyperCommand):
    """Help in the usual style: ``deepkata run [OPTIONS] KATA``, ``[TEXT]...``, an argument by its name
    alone (typer would write ``{kata}`` and ``<str>``)."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        return pieces + [_argument_label(p, usage=True) for p in self.get_params(ctx) if p.param_type_name == "argument"]

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {"argument": [], "option": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and param.param_type_name in sections:
                label = _argument_label(param, usage=False) if param.param_type_name == "argument" else _plain(record[0])
                sections[param.param_type_name].append((label, record[1]))
        for title, key in (("Arguments", "argument"), ("Options", "option")):
            if sections[key]:
                with formatter.section(title):
                    formatter.write_dl(sections[key])


# typer's type labels, as a reader expects a placeholder: `--games N`, not `--games <int range>`
_PLACEHOLDERS = {"int": "N", "int range": "N", "float": "X", "float range": "X", "str": "TEXT", "path": "PATH"}


def _plain(label: str) -> str:
    """``--games <int range>`` → ``--games N``; ``--player <random|mcts>`` → ``--player random|mcts``."""
    return re.sub(r" <([^<>]+)>$", lambda m: " " + _PLACEHOLDERS.get(m[1], m[1]), label)


def _argument_label(param: Any, *, usage: bool) -> str:
    label = param.metavar or (param.name or "").upper()
    if usage and not param.required:
        label = f"[{label}]"
    return label + ("..." if param.nargs != 1 else "")


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Runnable, verified, reproducible katas of the JDLA E-qualification deep-learning curriculum.",
)
command = functools.partial(app.command, cls=_Command)
class _Consoles:
    """stdout and stderr consoles, made when first used so that COLUMNS and redirection apply."""

    @property
    def out(self) -> Console:
        return Console(highlight=False, markup=False, soft_wrap=True)

    @property
    def err(self) -> Console:
        return Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


_consoles = _Consoles()

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars; print only the run folder.")]
Out = Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Folder that holds the runs.")]
Seed = Annotated[int, typer.Option("--seed", min=0, metavar="N", help="Seed of every random generator.")]
Device = Annotated[str, typer.Option("--device", metavar="DEVICE", help="auto (CUDA when present), cpu, cuda or cuda:N.")]
Precision = Annotated[str, typer.Option("--precision", metavar="fp32|bf16", help="fp32, or bf16 autocast where the kata allows it.")]


def _version(value: bool) -> None:
    if value:
        _consoles.out.print(f"deepkata {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    pass


@command("list")
def list_katas(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """List the katas: name, topic, curriculum section, what each does and its presets."""
    katas = manifest.katas()
    if as_json:
        keys = ("name", "topic", "section", "description", "presets", "devices", "precisions", "distributed")
        _consoles.out.print_json(json.dumps([{key: k[key] for key in keys} for k in katas], ensure_ascii=False))
        return
    table = Table()
    table.add_column("kata", no_wrap=True)
    table.add_column("topic", no_wrap=True)
    table.add_column("curriculum section")
    table.add_column("description")
    table.add_column("presets")
    for k in katas:
        table.add_row(k["name"], k["topic"], k["section"], k["description"], ", ".join(k["presets"]))
    _consoles.out.print(table)


@command()
def info(name: Annotated[str, typer.Argument(metavar="NAME", help="A kata (`deepkata list`) or a model (`deepkata models`).")]) -> None:
    """Show a kata's config fields, presets and expectations, or a model's config and parameter count."""
    k = manifest.find(name)
    if k is None:
        from deepkata.models import list_models

        if name in list_models():
            _model_info(name)
            return
        k = manifest.get(name)  # an unknown name: the error, with the closest kata
    extras = [f"device: {'cpu (NumPy)' if k['devices'] == ['cpu'] else 'cpu or cuda'}", f"precision: {', '.join(k['precisions'])}"]
    if k["distributed"]:
        extras.append("data-parallel under torchrun")
    _consoles.out.print(f"{k['name']} — {k['description']}\ncurriculum: {k['section']}\ndata: {k['data']}\n{'; '.join(extras)}\n")
    table = Table("field", "type", "default", "bounds", "meaning", title="config (--set field=value)")
    for f in k["fields"]:
        table.add_row(f["name"], f["type"], f["default"], f["bounds"], f["help"])
    _consoles.out.print(table)
    presets = Table("preset", "overrides", title="presets (--preset NAME)")
    for preset_name, overrides in k["preset_overrides"].items():
        presets.add_row(preset_name, overrides)
    _consoles.out.print(presets)
    exp = Table("expectation", "criterion", "presets", title="expectations")
    for e in k["expectations"]:
        exp.add_row(e["description"], e["criterion"], ", ".join(e["presets"]))
    _consoles.out.print(exp)


def _model_info(name: str) -> None:
    from deepkata.models import get_model

    entry = get_model(name)
    params = entry.example_parameters()
    example = ", ".join(f"{k}={v}" for k, v in entry.example.items())
    _consoles.out.print(
        f"{entry.name} — {entry.description}\ntopic: {entry.topic}\nconfig: {entry.config.__name__}\n"
        f"parameters: {params:,} at the defaults" + (f" with {example}" if example else "") + "\n"
    )
    table = Table("field", "type", "default", "bounds", "meaning", title=f"config (build_model({name!r}, field=value, ...))")
    for spec in config_mod.flat_fields(entry.config):
        table.add_row(spec.name, spec.type_name, report.fmt(spec.default), spec.describe_bounds(), spec.help)
    _consoles.out.print(table)


@command("models")
def models_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """List the model registry: every architecture, its topic and its parameter count at the defaults."""
    from deepkata.models import get_model, list_models

    rows = []
    for name in list_models():
        entry = get_model(name)
        rows.append({"name": name, "topic": entry.topic, "config": entry.config.__name__, "parameters": entry.example_parameters(),
                     "example": dict(entry.example), "description": entry.description})  # fmt: skip
    if as_json:
        _consoles.out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("model", "topic", "config", "parameters", "description")
    for r in rows:
        note = " (" + ", ".join(f"{k}={v}" for k, v in r["example"].items()) + ")" if r["example"] else ""
        table.add_row(r["name"], r["topic"], r["config"], f"{r['parameters']:,}{note}", r["description"])
    _consoles.out.print(table)


def _finish(result: RunResult, quiet: bool, strict: bool) -> None:
    if result.result["world_size"] > 1 and not distributed.from_env().is_main:
        return  # rank 0 reports
    if quiet:
        _consoles.out.print(str(result.dir))
    else:
        _consoles.out.print(f"run folder: {result.dir}")
        _consoles.out.print("\n".join(report.summary_lines(result.result)))
        _consoles.out.print(f"report: {result.dir / 'report.md'}")
    if result.status != "completed":
        _consoles.err.print(f"deepkata: run failed: {result.error} (traceback in {result.dir / 'error.txt'})")
        raise typer.Exit(1)
    if strict and any(not e["met"] for e in result.result["expectations"]):
        raise typer.Exit(1)


@command()
def run(
    kata: Annotated[str, typer.Argument(metavar="KATA", help="Kata name (see `deepkata list`).")],
    preset: Annotated[str, typer.Option("--preset", "-p", metavar="NAME", help="smoke, default, full or a kata's own preset.")] = "default",
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", metavar="KEY=VALUE", help="Override a config field: key=value (repeatable); key=none clears an optional one.")] = None,
    seed: Seed = 0,
    out_dir: Out = Path("runs"),
    data: Annotated[Path | None, typer.Option("--data", metavar="PATH", help="Real data instead of the kata's embedded data.")] = None,
    resume_dir: Annotated[Path | None, typer.Option("--resume", metavar="RUN_DIR", help="Continue this interrupted run of KATA instead.")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, metavar="N", help="PyTorch threads (default: what the kata runs best with).")] = None,
    quiet: Quiet = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when an expectation is not met.")] = False,
    checkpoint_every: Annotated[float, typer.Option("--checkpoint-every", min=0, metavar="SECONDS", help="Seconds between checkpoints.")] = checkpoint.DEFAULT_INTERVAL,
    device: Device = "auto",
    precision: Precision = "fp32",
) -> None:
    """Run a kata and leave its record in OUT/KATA/<UTC time>-s<SEED>/ (under torchrun: rank 0 writes it)."""
    from deepkata.core import runner

    k = get_kata(kata)
    if resume_dir is not None:
        saved = records.read_json(resume_dir / records.CONFIG) if (resume_dir / records.CONFIG).is_file() else {}
        if saved.get("kata") != k.name:
            raise UserError(f"--resume {resume_dir}: not a run of {k.name}")
        result = _interruptible(
            lambda: runner.resume(resume_dir, quiet=quiet, checkpoint_interval=checkpoint_every, device=None if device == "auto" else device)
        )
    else:
        cfg, overrides = runner.prepare(k, preset, set_ or [])
        result = _interruptible(
            lambda: runner.execute(
                k, cfg, preset=preset, seed=seed, root=out_dir, overrides=overrides, quiet=quiet,
                checkpoint_interval=checkpoint_every, data=data, threads=threads, device=device, precision=precision,
            )  # fmt: skip
        )
    _finish(result, quiet, strict)


@command()
def resume(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="The folder of an interrupted run.")],
    quiet: Quiet = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when an expectation is not met.")] = False,
    device: Annotated[str | None, typer.Option("--device", metavar="DEVICE", help="Continue on this device instead of the run's own.")] = None,
) -> None:
    """Continue an interrupted run from its last checkpoint, in its own folder."""
    from deepkata.core import runner

    result = _interruptible(lambda: runner.resume(run_dir, quiet=quiet, device=device))
    _finish(result, quiet, strict)


def _interruptible(call: Callable[[], RunResult]) -> RunResult:
    from deepkata.core import runner

    try:
        return call()
    except runner.Interrupted as e:
        _consoles.err.print(f"deepkata: interrupted; continue with: deepkata resume {e.run_dir}")
        raise typer.Exit(130) from None


@command()
def show(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print result.json as it is.")] = False,
) -> None:
    """Print the summary of a finished run."""
    if not (run_dir / records.CONFIG).is_file():
        raise UserError(f"{run_dir}: not a run folder (no {records.CONFIG})")
    if not (run_dir / records.RESULT).is_file():
        _consoles.err.print(f"deepkata: {run_dir}: the run did not finish (no {records.RESULT}); continue it with: deepkata resume {run_dir}")
        raise typer.Exit(1)
    result = records.read_json(run_dir / records.RESULT)
    if as_json:
        _consoles.out.print_json(json.dumps(result, ensure_ascii=False))
        return
    _consoles.out.print("\n".join(report.summary_lines(result, metrics_limit=1000)))
    _consoles.out.print(f"report: {run_dir / 'report.md'}")


@command()
def tour(out_dir: Out = Path("runs"), seed: Seed = 0, quiet: Quiet = False) -> None:
    """Run every kata's smoke preset and write one summary page, OUT/tour/index.md and index.html."""
    from deepkata.core import runner

    root = out_dir / "tour"
    entries = []
    for k in all_katas():
        if not quiet:
            _consoles.out.print(f"tour: {k.name} (smoke) ...")
        try:
            result = _interruptible(
                lambda k=k: runner.execute(k, k.preset_config("smoke"), preset="smoke", seed=seed, root=root, quiet=quiet)
            )
        except UserError as e:
            entries.append({"kata": k.name, "status": "error", "error": str(e)})
            continue
        entries.append(
            {
                "kata": k.name,
                "dir": result.dir.relative_to(root).as_posix(),
                "status": result.status,
                "error": result.error,
                "expectations_met": result.result["expectations_met"],
                "expectations": result.result["expectations"],
                "wall_time_s": result.result["wall_time_s"],
            }
        )
    for suffix in ("md", "html"):
        linked = [{**e, "link": f"{e['dir']}/report.{suffix}"} if "dir" in e else e for e in entries]
        markdown = report.tour_index(linked)
        text = markdown if suffix == "md" else report.to_html(markdown, title="deepkata tour")
        records.write_text(root / f"index.{suffix}", text)
    failed = [e["kata"] for e in entries if e["status"] != "completed"]
    _consoles.out.print(f"tour: {len(entries) - len(failed)}/{len(entries)} katas completed; summary: {root / 'index.md'}")
    if failed:
        _consoles.err.print(f"deepkata: tour: failed: {', '.join(failed)}")
        raise typer.Exit(1)


def add_task_commands(target: typer.Typer, commands: Sequence[tuple[str, str]]) -> None:
    """Add each (name, "module:function") of ``commands`` to ``target`` as a subcommand."""
    for name, spec in commands:
        module, _, function = spec.partition(":")
        target.command(name, cls=_Command)(getattr(importlib.import_module(module), function))


add_task_commands(app, COMMANDS)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``deepkata`` script. Bad input, ours or a usage error that typer finds
    (an option's value out of range, a missing argument), is one line on stderr and exit 2."""
    try:
        code = app(args=argv, prog_name="deepkata", standalone_mode=False)
    except UserError as e:
        _say_error(f"deepkata: error: {e}")
        sys.exit(2)
    except typer.Abort:
        _consoles.err.print("deepkata: aborted")
        sys.exit(1)
    except _UsageErrors as e:  # click's usage errors: a bad option value, a missing argument
        if "NoArgsIsHelp" in type(e).__name__ or not hasattr(e, "format_message"):
            e.show()  # `deepkata` alone, or a group without its command: the help
        else:
            context = getattr(e, "ctx", None)
            where = context.command_path if context is not None else "deepkata"
            _say_error(f"{where}: error: {e.format_message()} (see {where} --help)")
        sys.exit(getattr(e, "exit_code", 2))
    finally:
        distributed.shutdown()
    sys.exit(code if isinstance(code, int) else 0)


def _say_error(line: str) -> None:
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 alone says what was wrong
        _consoles.err.print(line)


if __name__ == "__main__":
    main()
