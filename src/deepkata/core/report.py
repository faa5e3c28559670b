"""Reports: ``report.md`` and ``report.html`` of a run, the tour's index, and ``show``'s summary.

Markdown is the source; HTML is rendered from it by markdown-it (CommonMark with tables), so
both always say the same thing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from markdown_it import MarkdownIt

from deepkata.core import config as config_mod


def fmt(value: Any) -> str:
    """A value for a table: ints whole, floats to 4 significant digits, None as a dash, a list as
    ``--set`` takes it (``gru,gru-additive``)."""
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return ",".join(fmt(v) for v in value) if value else "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)


def _cell(value: Any) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "_(no rows)_"
    columns = list(columns or rows[0])
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


# words, not ✅/❌: those need an emoji font, and show as empty boxes without one; the HTML colours them
_MET, _UNMET = "**met**", "**not met**"


def expectation_rows(expectations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "": _MET if e["met"] else _UNMET,
            "expectation": e["description"],
            "criterion": _criterion(e),
            "observed": fmt(e["value"]) + (f" ({e['note']})" if e.get("note") else ""),
        }
        for e in expectations
    ]


def _criterion(e: Mapping[str, Any]) -> str:
    target = e["target"] if isinstance(e["target"], str) else fmt(e["target"])
    if isinstance(e["target"], str) and e.get("target_value") is not None:
        target += f" (= {fmt(e['target_value'])})"
    tol = f" ± {fmt(e['tol'])}" if e["tol"] and e["op"] == "~" else (f", tol {fmt(e['tol'])}" if e["tol"] else "")
    return f"{e['metric']} {e['op']} {target}{tol}"


def run_report(
    kata: Any,
    cfg: Any,
    result: Mapping[str, Any],
    env: Mapping[str, Any],
    outcome: Any,
    figures: Sequence[Any],
    tables: Sequence[Any],
) -> str:
    out = [f"# {kata.name} — preset `{result['preset']}`, seed {result['seed']}", ""]
    data = outcome.data if outcome is not None and outcome.data else kata.data
    out += [f"{kata.description}. Curriculum: {kata.section}. Data: {data.rstrip('.')}.", ""]
    status = result["status"]
    out.append(
        f"**Status:** {status} in {result['wall_time_s']:.1f} s · started {result['started_utc']} · "
        f"deepkata {env.get('deepkata')} (commit {env.get('git_commit') or 'unknown'})"
        + (" · resumed after an interruption" if result.get("resumed") else "")
    )
    if result.get("overrides"):
        changed = ", ".join(f"{k}={fmt(v)}" for k, v in result["overrides"].items())
        out.append("")
        out.append(
            f"**Config differs from preset `{result['preset']}` in:** {changed}. "
            "The expectations below were set for the preset as it stands."
        )
    if result.get("error"):
        out += ["", f"**Error:** `{result['error']}` (traceback in `error.txt`)"]
    if outcome is not None:
        out += ["", "## Summary", "", outcome.summary.strip()]
    if result["expectations"]:
        out += ["", f"## Expectations ({result['expectations_met']} met)", ""]
        out.append(markdown_table(expectation_rows(result["expectations"])))
    if outcome is not None:
        for heading, body in outcome.sections:
            out += ["", f"## {heading}", "", body.strip()]
    if figures:
        out += ["", "## Figures"]
        for f in figures:
            out += ["", f"![{f.caption}]({f.file})", "", f"*{f.caption}*"]
    if result["metrics"]:
        out += ["", "## Final metrics", ""]
        out.append(markdown_table([{"metric": k, "value": v} for k, v in result["metrics"].items()]))
    if result.get("timings"):
        out += ["", "## Timings", "", "Wall-clock seconds on this machine; unlike the metrics, they vary between runs.", ""]
        out.append(markdown_table([{"timing": k, "seconds": v} for k, v in result["timings"].items()]))
    out += ["", "## Configuration", ""]
    values = config_mod.flatten(cfg)
    out.append(
        markdown_table(
            [
                {"field": s.name, "value": values[s.name], "type": s.type_name, "meaning": s.help}
                for s in config_mod.flat_fields(type(cfg))
            ]
        )
    )
    out += ["", "## Environment", ""]
    keys = ("python", "torch", "numpy", "platform", "cpu_count", "torch_threads")
    out.append(", ".join(f"{k} {env.get(k)}" for k in keys))
    files = ["config.json", "env.json", "metrics.jsonl", "result.json"] + [t.file for t in tables]
    out += ["", "Files: " + ", ".join(f"[{f}]({f})" for f in files), ""]
    if result.get("observations"):
        out += observation_section(result["observations"])
    return "\n".join(out)


def observation_section(observations: Sequence[Mapping[str, Any]]) -> list[str]:
    """The report's last section: each observation of the notes, the notes' figure, ours, and the verdict."""
    judged = [o for o in observations if o["reproduced"] is not None]
    verdict = {True: "**yes**", False: "**no**", None: "not judged"}
    rows = [
        {"exercise": o["exercise"], "the notes' observation": o["claim"], "the notes' figure": o["notes"],
         "how it was read": o["reading"], "ours": o["ours"], "reproduced?": verdict[o["reproduced"]]}
        for o in observations
    ]  # fmt: skip
    reproduced = sum(bool(o["reproduced"]) for o in judged)
    return ["", f"## The notes' observations ({reproduced} of {len(judged)} reproduced)", "", markdown_table(rows), ""]


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { border: 1px solid #ccc; padding: .25rem .5rem; }
th { background: #f4f4f4; } img { max-width: 100%; } code { background: #f4f4f4; padding: 0 .2rem; }
td.met { color: #116329; background: #dafbe1; font-weight: 600; white-space: nowrap; }
td.unmet { color: #a40e26; background: #ffebe9; font-weight: 600; white-space: nowrap; }
"""


def to_html(markdown: str, *, title: str) -> str:
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)  # a "<unk>" in a table is text, not a tag
    for word, css in ((_MET, "met"), (_UNMET, "unmet"), ("**yes**", "met"), ("**no**", "unmet")):
        plain = word.strip("*")
        body = body.replace(f"<td><strong>{plain}</strong></td>", f'<td class="{css}">{plain}</td>')
    return (
        f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head>\n<body>\n{body}</body></html>\n"
    )


def tour_index(entries: Sequence[Mapping[str, Any]]) -> str:
    """The tour page: one row per kata and, below, each kata's expectations."""
    rows = [
        {
            "kata": f"[{e['kata']}]({e['link']})" if e.get("link") else e["kata"],
            "status": e["status"],
            "expectations met": e.get("expectations_met", "—"),
            "wall time (s)": e.get("wall_time_s"),
        }
        for e in entries
    ]
    out = ["# deepkata tour", "", "Every kata's `smoke` preset: seconds each, on generated data.", ""]
    out.append(markdown_table(rows))
    for e in entries:
        out += ["", f"## {e['kata']}", ""]
        if e.get("error"):
            out.append(f"**Error:** `{e['error']}`")
        elif e.get("expectations"):
            out.append(markdown_table(expectation_rows(e["expectations"])))
        else:
            out.append("_no expectations for this preset_")
    return "\n".join(out) + "\n"


def summary_lines(result: Mapping[str, Any], *, metrics_limit: int = 12) -> list[str]:
    """What ``deepkata show`` and ``deepkata run`` print about a finished run."""
    lines = [
        f"{result['kata']} · preset {result['preset']} · seed {result['seed']} · {result['status']} "
        f"in {result['wall_time_s']:.1f} s"
    ]
    if result.get("overrides"):
        lines.append("overrides: " + ", ".join(f"{k}={fmt(v)}" for k, v in result["overrides"].items()))
    if result.get("error"):
        lines.append(f"error: {result['error']}")
    if result["expectations"]:
        lines.append(f"expectations: {result['expectations_met']} met")
        for e in result["expectations"]:
            mark = "met    " if e["met"] else "NOT met"
            lines.append(f"  {mark}  {e['description']}  [{_criterion(e)}; observed {fmt(e['value'])}]")
    items = list(result["metrics"].items())
    if items:
        lines.append("metrics:")
        lines += [f"  {k} = {fmt(v)}" for k, v in items[:metrics_limit]]
        if len(items) > metrics_limit:
            lines.append(f"  ... {len(items) - metrics_limit} more in result.json")
    return lines
