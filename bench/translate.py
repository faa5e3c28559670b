"""Translation: where a training step's time goes, throughput against torch.nn.Transformer, and
BLEU against training time for every model.

1. Profile: each part of the Transformer's training step timed alone (bench/translate_profile.py)
   at ``--train-threads``, with its share of the step.
2. Throughput: training steps (forward, label-smoothed loss, backward, Adam) of our Transformer
   and of ``torch.nn.Transformer`` with the same sizes, embeddings and output layer, on the same
   small_parallel_enja batches, interleaved, each as ``batch_loss`` takes it (ours: the output
   projection with the loss, chunk by chunk; nn.Transformer's: its logits, then the same
   loss), and of ours with its logits made first, as nn.Transformer's are (what the step owes to
   taking the projection with the loss); target tokens per second and their ratio, at each
   ``--threads``, ``--max-tokens`` and ``--precision`` (fp32, and bf16 autocast), and the ratio
   of each model's best setting.
3. BLEU (unless ``--throughput-only``): the ``translate`` kata's default preset (the Transformer,
   an hour of training), the same for 40 minutes, and ``translate-compare`` with an hour for each
   of the GRU and the attention-GRU. Each run's dev and test sacreBLEU (greedy and beam 5,
   tokenized and ``ja-mecab``), chrF and ``<unk>`` count; the test scores under keys that name
   the budget (``test/bleu_beam_within_60_min``); the dev BLEU after each epoch against the
   training minutes spent (``time_to_bleu``), and the issue's targets, met or not. The
   comparison's curves, with the Transformer's hour from the ``translate`` run (or, under
   ``--only``, from ``translate.json`` at the same precision), are drawn on one figure,
   ``NAME-time.png`` beside the record: which model to train for the time you have.

    DEEPKATA_DATA=../shared/data python bench/translate.py                  # bench/results/translate.json
    DEEPKATA_DATA=../shared/data python bench/translate.py --resume         # after an interruption
    DEEPKATA_DATA=../shared/data python bench/translate.py --throughput-only --name translate-throughput
    DEEPKATA_DATA=../shared/data python bench/translate.py --throughput-only --threads 1 2 --max-tokens 2048 4096 8192 --name translate-sizes
    DEEPKATA_DATA=../shared/data python bench/translate.py --train-precision bf16 --only translate_40_min --runs runs/bf16 --resume --name translate-bf16
    DEEPKATA_DATA=../shared/data python bench/translate.py --only translate_compare --resume --no-speed --name translate-compare-hour
    python bench/translate.py --smoke --out /tmp/tr     # the generated toy task, tiny models, one epoch (CI)

The trainings take hours on a CPU, and their minutes are the measure: run them alone, one after
the other (``--jobs 2`` trains two side by side, one thread each, which changes the time each
takes). ``--resume`` continues each run's newest folder under ``--runs`` from its last
checkpoint (or takes it as it is when it finished), so an interrupted benchmark loses at most a
few minutes. The profile and the throughput comparison run first, alone (``--no-speed``, with
``--only``, leaves them out of a record of BLEU runs).
``--train-precision bf16`` trains the BLEU runs under bf16 autocast (``deepkata run ...
--precision bf16``), and ``--only`` runs some of them into a record of their own, named by
``--name`` (never ``translate.json``); a run made by hand with the same settings is taken as it
is under ``--resume``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from _shared import add_options, parse, run_all
from torch import nn
from translate_profile import profile

from deepkata.core import records, runner
from deepkata.core.benchmark import record
from deepkata.core.data import locate
from deepkata.core.device import Precision, autocast
from deepkata.core.records import environment
from deepkata.core.registry import get_kata
from deepkata.models.transformer import PositionalEncoding
from deepkata.nlp.batching import Batch, batches
from deepkata.nlp.corpus import SMALL_PARALLEL_ENJA, read_corpus
from deepkata.nlp.katas.translate import time_figure
from deepkata.nlp.toy import toy_corpus
from deepkata.nlp.train import batch_loss, logits_loss
from deepkata.nlp.transformer import Transformer, TransformerConfig
from deepkata.nlp.vocab import Vocab, build_vocabs

# the BLEU runs: record key -> kata, preset, --set assignments. The default preset trains for the
# hour a learner has; 40 minutes is what a plain nn.Transformer script was given (issue 22); the
# comparison gives each GRU the hour (epochs=200: the hour binds, not the preset's 10 epochs), for
# the BLEU-against-time curve, whose Transformer is the default preset's hour: trained once, not twice
KATAS = {
    "translate": ("translate", "default", []),
    "translate_40_min": ("translate", "default", ["minutes=40"]),
    "translate_compare": ("translate-compare", "default", ["minutes=60", "epochs=200", "models=gru,gru-additive"]),
}
# the published reference of issue 22: torch.nn.Transformer of the same size, trained 40 minutes
REFERENCE = {"what": "a plain torch.nn.Transformer script of the same size trained 40 minutes on this kind of machine (issue 22)",
             "test/bleu_greedy": 32.9, "test/bleu_beam": 34.3}  # fmt: skip
TEST_KEYS = ("test/bleu_beam", "test/bleu_greedy", "test/bleu_ja-mecab_beam", "test/bleu_ja-mecab_greedy", "test/chrf_beam", "test/unk_beam")
# the smoke presets (the generated toy task) at the test suite's tiny sizes: what --smoke runs,
# here and in bench/translate_tune.py
TINY = [
    "toy_train=200", "beam=2", "max_tokens=512",
    "transformer.dim=32", "transformer.heads=2", "transformer.layers=1", "transformer.ffn=64", "gru.emb=32", "gru.hidden=32",
]  # fmt: skip
# under --smoke: the katas at those sizes, one epoch, dev only; the throughput on a few batches of the toy task
SMOKE_SETS = [*TINY, "epochs=1", "test=false"]
SMOKE_KATAS = {
    "translate": ("translate", "smoke", [*SMOKE_SETS, "minutes=2", "test=true"]),
    "translate_compare": ("translate-compare", "smoke", [*SMOKE_SETS, "minutes=1", "models=gru,gru-additive"]),
}
SMOKE = {"threads": [1], "train_threads": 1, "batches": 2, "repeat": 1, "jobs": 1, "resume": False, "throughput_only": False, "max_tokens": [256, 512], "precision": ["fp32", "bf16"], "train_precision": "fp32", "only": None, "no_speed": False}
SMOKE_PROFILE = ["transformer.dim=32", "transformer.heads=2", "transformer.layers=1", "transformer.ffn=64", "max_tokens=512"]


OURS_LOGITS = "ours, logits then loss"


class TorchTransformer(nn.Module):
    """``nn.Transformer`` with the same embeddings, positional encoding and output as ours."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.dim, padding_idx=Vocab.pad)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, cfg.dim, padding_idx=Vocab.pad)
        self.position = PositionalEncoding(cfg.dim, cfg.max_len)
        self.core = nn.Transformer(cfg.dim, cfg.heads, cfg.layers, cfg.layers, cfg.ffn, cfg.dropout, batch_first=True, norm_first=cfg.norm_first)
        self.out = nn.Linear(cfg.dim, cfg.tgt_vocab)
        self.out.weight = self.tgt_embed.weight
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, src: torch.Tensor, src_pad: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        scale = self.cfg.dim**0.5
        s = self.dropout(self.position(self.src_embed(src) * scale))
        t = self.dropout(self.position(self.tgt_embed(tgt_in) * scale))
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.shape[1], dtype=s.dtype)
        y = self.core(s, t, tgt_mask=causal, src_key_padding_mask=src_pad, memory_key_padding_mask=src_pad, tgt_is_causal=True)
        return self.out(y)


# each contestant: its model and how its step takes the loss. "ours, logits then loss" is ours
# without the projection taken with the loss: the share of the ratio that step owes it
LOSSES = {"ours": batch_loss, OURS_LOGITS: logits_loss, "torch.nn.Transformer": batch_loss}


def throughput(cfg: TransformerConfig, work: list[Batch], repeat: int, precision: Precision = "fp32") -> dict[str, Any]:
    torch.manual_seed(0)
    models = {"ours": Transformer(cfg), OURS_LOGITS: Transformer(cfg), "torch.nn.Transformer": TorchTransformer(cfg)}
    models[OURS_LOGITS].load_state_dict(models["ours"].state_dict())
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-4) for k, m in models.items()}
    tokens = sum(b.target_tokens for b in work)

    def epoch(name: str) -> float:
        model, opt = models[name], opts[name]
        model.train()
        start = time.perf_counter()
        for b in work:
            with autocast(torch.device("cpu"), precision):
                loss = LOSSES[name](model, b, 0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return tokens / (time.perf_counter() - start)

    for name in models:  # warm-up
        epoch(name)
    samples: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeat):
        for name in models:  # interleaved: a change in machine load hits both alike
            samples[name].append(epoch(name))
    rates = {name: statistics.median(v) for name, v in samples.items()}
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    return {
        "threads": torch.get_num_threads(),
        "precision": precision,
        "target_tokens_per_s": {k: round(v, 1) for k, v in rates.items()},
        "ours_over_torch": round(rates["ours"] / rates["torch.nn.Transformer"], 4),
        "ours_logits_then_loss_over_torch": round(rates[OURS_LOGITS] / rates["torch.nn.Transformer"], 4),
        "parameters": params,
        "batches": len(work),
        "target_tokens_per_pass": tokens,
        "repeats": repeat,
    }


def newest_run(runs: Path, kata: str, preset: str, overrides: dict[str, Any], precision: Precision = "fp32") -> Path | None:
    """The newest run folder of ``kata`` with ``preset``, exactly these ``overrides`` and
    ``precision`` under ``runs``, finished or not."""
    found = []
    for d in sorted((runs / kata).glob("*-s0")):
        if (d / records.CONFIG).is_file():
            cfg = records.read_json(d / records.CONFIG)
            same = cfg["preset"] == preset and cfg["overrides"] == json.loads(json.dumps(overrides))
            if same and cfg.get("precision", "fp32") == precision:
                found.append(d)
    return found[-1] if found else None


def run_kata(name: str, preset: str, sets: list[str], data: Path | None, runs: Path, threads: int, resume: bool, precision: Precision = "fp32") -> dict[str, Any]:
    kata = get_kata(name)
    cfg, overrides = runner.prepare(kata, preset, sets)
    previous = newest_run(runs, name, preset, overrides, precision) if resume else None
    if previous is not None:
        run_dir, result = runner.finish(previous, quiet=True)
    else:
        res = runner.execute(kata, cfg, preset=preset, seed=0, root=runs, overrides=overrides, quiet=True, data=data, threads=threads, precision=precision)
        run_dir, result = res.dir, res.result
    started = records.read_json(run_dir / records.ENV)
    return {
        "kata": name, "preset": preset, "sets": sets, "run_dir": str(run_dir), "status": result["status"], "error": result["error"],
        "threads": records.read_json(run_dir / records.CONFIG)["threads"], "precision": precision, "started_at_commit": started.get("git_commit"),
        "wall_time_s": result["wall_time_s"], "resumed": result["resumed"], "metrics": result["metrics"],
        "timings": result["timings"], "expectations_met": result["expectations_met"], "expectations": result["expectations"],
    }  # fmt: skip


def time_to_bleu(run_dir: Path) -> dict[str, list[dict[str, float]]]:
    """Each model's dev BLEU (greedy) after each epoch, against the training minutes spent by then
    (dev decoding excluded), from the run's ``metrics.jsonl``."""
    curves: dict[str, list[dict[str, float]]] = {}
    spent: dict[str, float] = {}
    for line in (run_dir / records.METRICS).read_text().splitlines():
        entry = json.loads(line) if line.strip() else {}
        if "train/seconds" in entry:
            model = entry.get("model", "")
            spent[model] = spent.get(model, 0.0) + entry["train/seconds"]
            curves.setdefault(model, []).append({"epoch": entry["step"], "minutes": round(spent[model] / 60, 2), "dev_bleu": round(entry["dev/bleu"], 2)})
    return curves


def within(run: dict[str, Any], minutes: float) -> dict[str, Any]:
    """The test scores of a run trained ``minutes`` at most, under keys that name the budget."""
    prefixes = [""] if "test/bleu_beam" in run["metrics"] else sorted({k.split("/test/")[0] + "/" for k in run["metrics"] if "/test/" in k})
    return {
        f"{prefix}{key}_within_{minutes:g}_min": run["metrics"][prefix + key] for prefix in prefixes for key in TEST_KEYS if prefix + key in run["metrics"]
    } | {k: v for k, v in (("epochs", run["metrics"].get("epochs")), ("train_minutes", run["timings"].get("train_minutes"))) if v is not None}  # fmt: skip


def transformer_curve(results: dict[str, Any], out: Path, precision: Precision) -> tuple[list[dict[str, float]], str] | None:
    """The Transformer's hour for the comparison's curve: this benchmark's ``translate`` run, or
    (under ``--only``) the one recorded in ``OUT/translate.json`` at the same precision; with where it comes from."""
    if "translate" in results:
        return results["translate"]["time_to_bleu"]["transformer"], "this record's translate run"
    recorded = out / "translate.json"
    if not recorded.is_file():
        return None
    payload = json.loads(recorded.read_text())
    run = payload["results"].get("translate")
    if run is None or payload["results"].get("train_precision", "fp32") != precision:
        return None
    return run["time_to_bleu"]["transformer"], f"{recorded} ({payload['date_utc'][:10]}, commit {payload['git_commit'][:7]})"


def plot_time_to_bleu(compare: dict[str, Any], threads: int, path: Path) -> None:
    """The comparison's dev BLEU against training minutes, every model on one figure, to ``path``."""
    curves = {model: [(e["minutes"], e["dev_bleu"]) for e in points] for model, points in compare["time_to_bleu"].items()}
    sources = {"transformer": "translate's default run"} if "transformer_curve_from" in compare else None
    fig = time_figure(curves, threads, sources)
    fig.savefig(path, format="png", dpi=110)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 22's targets, each with the figure measured (when it was) and whether it is met."""
    hour = results.get("translate", {}).get("within", {}).get("test/bleu_beam_within_60_min")
    forty = results.get("translate_40_min", {}).get("within", {}).get("test/bleu_beam_within_40_min")
    goals = [
        ("test BLEU (beam) within 60 minutes of training >= 35", hour, 35),
        ("moonshot: test BLEU (beam) within 60 minutes >= 38", hour, 38),
        ("test BLEU (beam) within 40 minutes >= the nn.Transformer script's 34.3", forty, REFERENCE["test/bleu_beam"]),
        ("throughput of our best setting over nn.Transformer's best >= 1.2", results.get("ours_best_over_torch_best"), 1.2),
    ]
    return [{"target": t, "value": v, "goal": g, "met": bool(v >= g)} for t, v, g in goals if v is not None]


def speed_of(corpus: Any, kata_cfg: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The profile of a training step, and the throughput of ours and of nn.Transformer at each
    setting, with each one's best and their ratio."""
    profiled = profile(corpus, SMOKE_PROFILE if args.smoke else [], args.batches, args.repeat)
    src_vocab, tgt_vocab = build_vocabs(corpus.train, kata_cfg.min_freq)
    cfg = dataclasses.replace(kata_cfg.transformer, src_vocab=len(src_vocab), tgt_vocab=len(tgt_vocab))
    src = [src_vocab.encode(s) for s, _ in corpus.train]
    tgt = [tgt_vocab.encode(t) for _, t in corpus.train]
    speed = []
    for max_tokens in args.max_tokens or [kata_cfg.max_tokens]:
        # the same sentence pairs at every batch size: as many batches as fill the default's budget
        work = list(batches(src, tgt, max_tokens, torch.Generator().manual_seed(0)))[: max(1, args.batches * kata_cfg.max_tokens // max_tokens)]
        for n in args.threads:
            torch.set_num_threads(n)
            for precision in args.precision:
                speed.append({"max_tokens": max_tokens} | throughput(cfg, work, args.repeat, precision))
    torch.set_num_threads(args.train_threads)
    best = {name: max(speed, key=lambda r: r["target_tokens_per_s"][name]) for name in ("ours", "torch.nn.Transformer")}
    return {"model": {k: getattr(cfg, k) for k in ("dim", "heads", "layers", "ffn", "dropout")}, "profile": profiled, "throughput": speed,
            "best": {name: {"max_tokens": r["max_tokens"], "threads": r["threads"], "precision": r["precision"], "target_tokens_per_s": r["target_tokens_per_s"][name]} for name, r in best.items()},
            "ours_best_over_torch_best": round(best["ours"]["target_tokens_per_s"]["ours"] / best["torch.nn.Transformer"]["target_tokens_per_s"]["torch.nn.Transformer"], 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="small_parallel_enja folder (default: under $DEEPKATA_DATA)")
    parser.add_argument("--threads", type=int, nargs="+", default=[2], help="thread counts for the throughput comparison")
    parser.add_argument("--train-threads", type=int, default=2, help="threads for the BLEU trainings")
    parser.add_argument("--batches", type=int, default=20, help="batches per throughput pass (at the kata's batch size; as many pairs at other sizes)")
    parser.add_argument("--max-tokens", type=int, nargs="+", default=None, help="batch sizes (padded target tokens) for the throughput comparison; each model's best is compared (default: the kata's)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=("fp32", "bf16"), help="precisions for the throughput comparison; each model's best is compared")
    parser.add_argument("--train-precision", default="fp32", choices=("fp32", "bf16"), help="precision of the BLEU trainings")
    parser.add_argument("--only", nargs="+", default=None, choices=tuple(KATAS), help="only these BLEU runs (default: all)")
    parser.add_argument("--name", default="translate", help="the record's name: bench/results/NAME.json")
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2), help="train the runs one after the other (1) or two side by side (2)")
    parser.add_argument("--resume", action="store_true", help="continue each kata's newest run under --runs instead of starting anew")
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--no-speed", action="store_true", help="skip the profile and the throughput: a record of the BLEU runs alone (with --only and --name)")
    add_options(parser, runs="runs/bench-translate")
    args = parse(parser, SMOKE)
    env = environment()
    if (args.only or args.throughput_only) and args.name == "translate" and not args.smoke:
        parser.error("--only and --throughput-only record part of the benchmark: give it a --name of its own, not translate.json's")
    if args.no_speed and (args.throughput_only or not args.only):
        parser.error("--no-speed leaves the profile and the throughput out: give --only (and a --name), not --throughput-only")
    every = SMOKE_KATAS if args.smoke else KATAS
    katas = {k: v for k, v in every.items() if args.smoke or args.only is None or k in args.only}
    if args.smoke:
        folder, corpus = None, toy_corpus(0, train=200)
    else:
        folder = locate(SMALL_PARALLEL_ENJA, args.data)
        corpus = read_corpus(folder)
    kata_cfg, _ = runner.prepare(get_kata("translate"), *every["translate"][1:])  # the sizes of the profile and the throughput
    torch.set_num_threads(args.train_threads)
    results: dict[str, Any] = {} if args.no_speed else speed_of(corpus, kata_cfg, args)
    if not args.throughput_only:
        calls = [(name, preset, sets, folder, args.runs, args.train_threads, args.resume, args.train_precision) for name, preset, sets in katas.values()]
        results |= dict(zip(katas, run_all(run_kata, calls, args.jobs)))
        for key, (name, preset, sets) in katas.items():
            budget = runner.prepare(get_kata(name), preset, sets)[0].minutes
            if budget is not None:
                results[key]["within"] = within(results[key], budget)
            results[key]["time_to_bleu"] = time_to_bleu(Path(results[key]["run_dir"]))
        compare = results.get("translate_compare")
        if compare is not None and "transformer" not in compare["time_to_bleu"]:
            found = transformer_curve(results, args.out, args.train_precision)
            if found is not None:
                compare["time_to_bleu"]["transformer"], compare["transformer_curve_from"] = found
        if compare is not None:
            plot_time_to_bleu(compare, args.train_threads, args.out / f"{args.name}-time.png")
            compare["figure"] = f"{args.name}-time.png"
        results["jobs"] = args.jobs
        results["train_precision"] = args.train_precision
        results["reference"] = REFERENCE
    results["targets"] = targets(results)
    record(args.name, results, env=env, out_dir=args.out)


if __name__ == "__main__":
    main()
