"""Every benchmark script runs to its end in its smoke mode, record included.

Each ``bench/*.py`` (but the ``_`` helpers) runs as a user runs it, ``python bench/NAME.py --smoke
--out DIR``: every step of the benchmark at a tiny size, on generated data, then its record. The
JSON it prints last must be the record it wrote to ``DIR``, with the shape of the records in
``bench/results`` (command, git commit, machine, date) and the figures below as finite numbers.
A new script without ``--smoke``, or without an entry in ``EXPECTED``, fails here. Two scripts run
at a time, one thread each; ``bench/results`` must come out untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))
SHAPE = ["benchmark", "command", "git_commit", "date_utc", "machine", "results"]  # a record's keys, in order
TIMEOUT_S = 240  # one script, on a loaded 2-core machine; each takes seconds alone


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive(value: Any) -> bool:
    return finite(value) and value > 0


Check = tuple[str, Callable[[Any], bool]]  # a dotted path into "results" (list indices as numbers), and what must hold there

# script -> the record it leaves in --out (its name there), and what its results must hold
EXPECTED: dict[str, tuple[str, list[Check]]] = {
    "binary_addition.py": ("binary_addition", [
        ("sizes.0.hidden", lambda v: v == 4),
        ("sizes.0.iterations_per_s.numpy_float64", positive),
        ("sizes.0.iterations_per_s.torch_float64", positive),
        ("sizes.0.numpy_over_torch_float32", positive),
        ("sizes.0.weights_max_abs_diff_after_300_steps", lambda v: finite(v) and v < 1e-9),  # NumPy == PyTorch
        ("kata_trainer_iterations_per_s", positive),
    ]),
    "fx.py": ("fx", [
        ("table", lambda v: [(r["cell"], r["target"]) for r in v] == [("GRU", "level"), ("GRU", "log-return")]),
        ("runs", lambda v: len(v) == 2 and all(positive(r["rmse"]) and positive(r["rmse_ratio"]) for r in v)),
        ("table.1.rmse_ratio_median", positive),
        ("table.1.directional_accuracy_median", lambda v: finite(v) and 0 <= v <= 1),
        ("data", lambda v: v == "generated (synthetic)"),
    ]),
    "detection.py": ("detection", [
        ("coco_eval.rows", lambda v: [r["tool"] for r in v] == ["deepkata", "pycocotools", "faster-coco-eval"]),
        ("coco_eval.rows.0.max_abs_diff_vs_pycocotools", lambda v: finite(v) and v <= 1e-12),  # our 12 numbers are pycocotools'
        ("coco_eval.rows.0.speedup_vs_pycocotools", positive),
        ("coco_eval.set.images", lambda v: v == 40),
        # both katas ran once per seed; every figure has each seed's value
        ("katas.ssd.seeds", lambda v: v == [0, 1]),
        ("katas.ssd.rows", lambda v: {r["metric"] for r in v} >= {"test/AP", "test/AP50", "train/minutes", "fps/b1"}
                                     and all(len(r["per_seed"]) == 2 and r["min"] <= r["mean"] <= r["max"] for r in v)),
        ("katas.ssd.targets", lambda v: [t["metric"] for t in v] == ["test/AP50", "test/AP", "train/minutes"]),
        ("katas.segment.rows", lambda v: [r["network"] for r in v] == ["fcn-small", "segnet-small", "dilated-small"]
                                         and all(0 <= r["miou"]["mean"] <= 1 and len(r["miou"]["per_seed"]) == 2 for r in v)),
        ("katas.segment.best_on_validation", lambda v: set(v) == {"0", "1"}),
    ]),
    "generative.py": ("generative", [
        # each kata ran once per seed; every figure has each seed's value
        ("vae.seeds", lambda v: v == [0, 1]),
        ("vae.rows", lambda v: {r["metric"] for r in v} >= {"vae/best_nll", "vae-mlp/test_nll", "pixels/test_nll"}
                               and all(len(r["per_seed"]) == 2 and r["min"] <= r["mean"] <= r["max"] for r in v)),
        ("gan.rows", lambda v: {r["metric"] for r in v} >= {"gan/best_dcgan_fid", "dcgan/minimax/test_fid", "vae/test_fid", "real/test_fid"}),
        ("gan.targets", lambda v: [t["metric"] for t in v] == ["gan/dcgan_gain_over_vae", "gan/dcgan_min_class_share"]),
        ("wavenet.rows", lambda v: {r["metric"] for r in v} >= {"test/wavenet_bits", "test/linear_prediction_bits", "speed/ratio", "speed/equal"}),
        ("wavenet.targets", lambda v: [t["metric"] for t in v] == ["wavenet/gain_over_lpc_bits", "speed/ratio", "speed/equal"]),
        ("wavenet.rows.0.mean", lambda v: finite(v) and 0 < v < 12),  # bits per sample of 256 classes: about 8 untrained
    ]),
    "translate_profile.py": ("translate-profile", [
        ("parts", lambda v: [p["part"] for p in v][:3] == ["embeddings", "encoder self-attention", "decoder self-attention"] and len(v) == 11),
        ("parts.5.part", lambda v: v == "layer norms"),
        ("parts.6.part", lambda v: v == "output projection and loss"),
        ("seconds_per_batch", positive),
        ("target_tokens_per_s", positive),
        ("padded_source_share", lambda v: 0 <= v < 1),
    ]),
    "alphago.py": ("alphago", [
        ("records.collection", lambda v: v is None),  # smoke: generated games
        ("train.sl.status", lambda v: v == "completed"),
        ("train.sl.metrics.val/top1", finite),
        ("train.rollout.timings.speed/ratio", positive),
        ("train.value.metrics.val/mse", finite),
        ("train.rl.metrics.eval/score", finite),
        ("train.cpu_hours", positive),
        ("speed.rows", lambda v: [r["entry"] for r in v] == ["alphago-0", "alphago-50", "alphago-100"]
                                 and all(r["simulations_per_s"] > 0 for r in v)),  # the search's speed at each λ
        ("ladder.random-l1.games", lambda v: v == 1),
        ("ladder.alphago-50-200ms-l1.games", lambda v: v == 1),  # the search with all three networks played a whole game
        ("ladder.ratings.elo.gnugo-l1", lambda v: v == 0),  # the ladder's anchor
        ("ladder.ratings.elo", lambda v: len(v) == 9),  # the eight entries and GNU Go
        ("ladder.policy-vs-uct.games", lambda v: v == 1),  # a direct pairing of two entries
        ("ladder.policy-vs-uct.b_name", lambda v: v == "uct"),
        ("ladder.value-l1.seconds_per_move.A", positive),
        ("targets.rows", lambda v: len(v) == 4 and all(isinstance(t["met"], bool) for t in v)),
        ("targets.rows.0.value", lambda v: v is None),  # smoke plays GNU Go level 1 only: the level-10 target is not decided
        ("targets.rows.1.games", lambda v: v == 1),  # the policy against UCT, from its direct pairing
        ("targets.rows.3.value", lambda v: v == ["0.2 s, level 1"]),  # the three mixes at one budget
    ]),
    "go.py": ("go", [
        ("speed.playouts_per_s_empty_board", positive),
        ("speed.mcts_rave_simulations_per_s_empty_board", positive),
        ("speed.playout_moves_mean_empty_board", lambda v: finite(v) and 40 < v < 243),  # 9x9 random games end
        ("agreement.total.games", lambda v: v == 2),
        ("agreement.total.positions", positive),
        ("agreement.total.legal_disagreements", lambda v: v == 0),  # our rules agree with GNU Go's
        ("mcts_vs_random.status", lambda v: v == "completed"),
        ("mcts_vs_random.metrics.eval/score", finite),
        ("gnugo.uct-p8-l1.games", lambda v: v == 1),
        ("gnugo.uct-p8-l1.seconds_per_move.A", positive),
    ]),
    "mnist.py": ("mnist", [
        ("target.0.status", lambda v: v == "completed"),
        ("target.0.test_accuracy", lambda v: finite(v) and 0 <= v <= 1),
        ("target.0.train_seconds", positive),
        ("target.0.reaches_98_within_5_min", lambda v: isinstance(v, bool)),
        ("exercises.0.metrics.obs/plain_categorical_refused", lambda v: v == 1),  # the notes' error, refused in one line
        ("exercises.0.metrics.obs/sparse_max_grad_diff", lambda v: finite(v) and v <= 1e-12),
    ]),
    "vision.py": ("vision", [
        ("zoo.table", lambda v: [r["model"] for r in v] == ["resnet-small", "mobilenet-v2-small"]),
        ("zoo.table.0.test_accuracy_per_seed", lambda v: sorted(v) == ["0", "1"] and all(finite(a) and 0 <= a <= 1 for a in v.values())),
        ("zoo.table.1.macs", lambda v: v == 11_468_208),  # MobileNet v2 small's MACs per 28 x 28 image, counted
        ("zoo.table.0.latency_b1_ms", positive),
        ("norms_speed.rows", lambda v: [r["kind"] for r in v] == ["batch", "layer", "instance", "group"]),
        ("norms_speed.rows.0.ours_over_torch", positive),
        ("norms_speed.rows.3.numpy_float64_ms", positive),
    ]),
    "recheck.py": ("recheck", [
        ("all_hold", lambda v: v is True),  # the same seed gives the same numbers
        ("checks.0.record", lambda v: v == "bandit-smoke"),
        ("checks.0.metrics_identical", positive),
    ]),
    "recurrent.py": ("recurrent", [
        ("scratch_vs_torch", lambda v: [c["cell"] for c in v] == ["lstm", "gru"]),
        ("scratch_vs_torch.0.max_grad_diff_vs_torch_relative", lambda v: finite(v) and v < 1e-9),
        ("scratch_vs_torch.1.max_grad_diff_vs_torch_relative", lambda v: finite(v) and v < 1e-9),
        ("scratch_vs_torch.1.ms_per_forward_backward.numpy_float64", positive),
        ("sequence_model_overhead.all_steps_no_head.ms_model", positive),
        ("sequence_model_overhead.last_step_linear_head.overhead", finite),
    ]),
    "rl.py": ("rl", [
        ("algorithms.0.algorithm", lambda v: v == "reinforce"),
        ("algorithms.0.env_steps_per_s", positive),
        ("algorithms.1.algorithm", lambda v: v == "actor-critic"),
        ("algorithms.1.env_steps_per_s", positive),
        ("algorithms.1.evaluations.0", lambda v: len(v) > 0 and all(finite(mean) for _, mean in v)),
    ]),
    "run_kata.py": ("bandit-smoke", [
        ("status", lambda v: v == "completed"),
        ("expectations_met", lambda v: v.split("/")[0] == v.split("/")[1] != "0"),
        ("metrics", lambda v: len(v) > 0 and all(finite(x) for x in v.values())),
    ]),
    "translate.py": ("translate", [
        ("throughput.0.target_tokens_per_s.ours", positive),
        ("throughput.0.ours_over_torch", positive),
        ("throughput.0.target_tokens_per_s", lambda v: list(v) == ["ours", "ours, logits then loss", "torch.nn.Transformer"] and all(positive(x) for x in v.values())),
        ("throughput.0.ours_logits_then_loss_over_torch", positive),
        ("throughput", lambda v: [(r["max_tokens"], r["precision"]) for r in v] == [(256, "fp32"), (256, "bf16"), (512, "fp32"), (512, "bf16")]),
        ("best.ours.precision", lambda v: v in ("fp32", "bf16")),
        ("translate.precision", lambda v: v == "fp32"),
        ("ours_best_over_torch_best", positive),
        ("best.ours.max_tokens", lambda v: v in (256, 512)),
        ("translate.status", lambda v: v == "completed"),
        ("translate.metrics.dev/bleu_greedy", finite),
        ("translate.within.test/bleu_beam_within_2_min", finite),  # smoke: a 2-minute budget, test decoded
        ("translate.within.test/bleu_ja-mecab_beam_within_2_min", finite),
        ("translate.within.epochs", lambda v: v == 1),
        ("translate.time_to_bleu.transformer", lambda v: [e["epoch"] for e in v] == [1] and v[0]["minutes"] >= 0),
        ("translate_compare.metrics.gru-additive/dev/bleu_beam", finite),
        ("translate_compare.metrics", lambda v: not any(k.startswith("transformer/") for k in v)),  # its hour is translate's
        ("translate_compare.time_to_bleu", lambda v: list(v) == ["gru", "gru-additive", "transformer"]),
        ("translate_compare.time_to_bleu.transformer", lambda v: [e["epoch"] for e in v] == [1]),
        ("translate_compare.transformer_curve_from", lambda v: v == "this record's translate run"),
        ("translate_compare.figure", lambda v: v == "translate-time.png"),
        ("profile.parts", lambda v: len(v) == 11 and abs(sum(p["share"] for p in v) - 1) < 0.01),
        ("targets", lambda v: [t["target"][:10] for t in v] == ["throughput"] and isinstance(v[0]["met"], bool)),
    ]),
    "translate_tune.py": ("translate-tune-gru-additive", [
        ("trials.0.status", lambda v: v == "completed"),
        ("trials.0.dev/bleu_beam", finite),
        ("trials.0.dev/chrf_beam", finite),
        ("trials.0.test_decoded", lambda v: v is False),
    ]),
    "words.py": ("words", [
        # both tools trained each mode once per seed on the same corpus; every figure has each seed's value
        ("seeds", lambda v: v == [0, 1]),
        ("quality.skip-gram.rows", lambda v: [(r["tool"], r["metric"]) for r in v] == [("deepkata", "wordsim_rho"), ("gensim", "wordsim_rho"),
                                                                                    ("deepkata", "analogy_accuracy"), ("gensim", "analogy_accuracy")]
                                            and all(len(r["per_seed"]) == 2 for r in v)),
        ("quality.cbow.rho_gap_mean", finite),
        ("speed.0.ratio_vs_gensim", positive),
        ("speed.1.mode", lambda v: v == "cbow"),
        ("numpy_speed.0.numpy_vs_torch", positive),
    ]),
}


def at(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


def last_json(stdout: str) -> Any:
    """The last JSON document printed: the record, pretty-printed from a line that is ``{``."""
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()}


def run_script(name: str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # two at a time on two cores
    command = [sys.executable, f"bench/{name}", "--smoke", "--out", str(out)]
    return subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def smoke_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Future, Path]]]:
    """The selected scripts' smoke runs, two at a time, started together; bench/results must not change."""
    selected = [item.callspec.params["script"] for item in request.session.items if item.originalname == "test_smoke_run" and hasattr(item, "callspec")]
    before = snapshot(RESULTS)
    with ThreadPoolExecutor(2) as pool:
        runs = {}
        for name in selected:
            out = tmp_path_factory.mktemp(name.removesuffix(".py"))
            runs[name] = (pool.submit(run_script, name, out), out)
        yield runs
    assert snapshot(RESULTS) == before, "a smoke run wrote into bench/results"


@pytest.mark.parametrize("script", SCRIPTS)
def test_smoke_run(script: str, smoke_runs: dict[str, tuple[Future, Path]]) -> None:
    future, out = smoke_runs[script]
    done = future.result()
    assert done.returncode == 0, f"bench/{script} --smoke exited {done.returncode}:\n{done.stderr[-3000:]}"
    if script not in EXPECTED:
        pytest.fail(f"bench/{script}: say in EXPECTED which record its --smoke run leaves and what it must hold")
    name, checks = EXPECTED[script]
    recorded = json.loads((out / f"{name}.json").read_text())
    assert last_json(done.stdout) == recorded, "the JSON printed last is not the record written"

    # the shape of the real records, this benchmark's own where bench/results holds it
    real = RESULTS / f"{name}.json"
    assert list(recorded) == (list(json.loads(real.read_text())) if real.exists() else SHAPE)
    assert recorded["benchmark"] == name
    assert recorded["command"] == f"python bench/{script} --smoke --out {out}"
    assert recorded["git_commit"] is None or len(recorded["git_commit"].removesuffix("+dirty")) == 40
    age = dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(recorded["date_utc"])
    assert dt.timedelta(0) <= age < dt.timedelta(seconds=TIMEOUT_S + 60)
    assert recorded["machine"]["python"] == platform.python_version()
    assert "argv" not in recorded["machine"] and "git_commit" not in recorded["machine"]

    for path, holds in checks:
        value = at(recorded["results"], path)
        assert holds(value), f"{name}.json: results.{path} = {value!r}"


def test_smoke_records_stay_out_of_bench_results() -> None:
    done = subprocess.run([sys.executable, "bench/fx.py", "--smoke", "--out", "bench/results"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--out bench/results holds the real records" in done.stderr
