"""Translation: training throughput against torch.nn.Transformer, and the BLEU of every model.

1. Throughput: training steps (forward, label-smoothed loss, backward, Adam) of our Transformer
   and of ``torch.nn.Transformer`` with the same sizes, embeddings and output layer, on the same
   small_parallel_enja batches, interleaved; target tokens per second and their ratio, at each
   ``--threads`` and ``--max-tokens``, and the ratio of each model's best setting.
2. BLEU (unless ``--throughput-only``): the ``translate`` kata's default preset (the Transformer,
   20 epochs) and its ``attention-gru`` preset (additive attention, 20 epochs), and the
   ``translate-compare`` default preset (GRU, attention-GRU and Transformer, 10 epochs each),
   with their dev and test sacreBLEU (greedy and beam 5), time per epoch and wall time.

    DEEPKATA_DATA=../shared/data python bench/translate.py                  # bench/results/translate.json
    DEEPKATA_DATA=../shared/data python bench/translate.py --jobs 2 --train-threads 1
    DEEPKATA_DATA=../shared/data python bench/translate.py --jobs 2 --train-threads 1 --resume   # after an interruption
    DEEPKATA_DATA=../shared/data python bench/translate.py --throughput-only --threads 1 2 --max-tokens 2048 4096 8192
    python bench/translate.py --smoke --out /tmp/tr     # the generated toy task, tiny models, one epoch (CI)

The trainings take hours on a CPU. ``--jobs 2`` trains two runs side by side (one thread
each on a 2-core machine), and ``--resume`` continues each kata's newest run under ``--runs``
from its last checkpoint (or takes it as it is when it finished), so an interrupted benchmark
loses at most a few minutes. The throughput comparison always runs first, alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from _shared import add_options, parse, run_all
from torch import nn

from deepkata.core import records, runner
from deepkata.core.benchmark import record
from deepkata.core.data import locate
from deepkata.core.records import environment
from deepkata.core.registry import get_kata
from deepkata.models.transformer import PositionalEncoding
from deepkata.nlp.batching import Batch, batches
from deepkata.nlp.corpus import SMALL_PARALLEL_ENJA, read_corpus
from deepkata.nlp.toy import toy_corpus
from deepkata.nlp.train import batch_loss
from deepkata.nlp.transformer import Transformer, TransformerConfig
from deepkata.nlp.vocab import Vocab, build_vocabs

# the BLEU runs: record key -> kata, preset, --set assignments
KATAS = {
    "translate": ("translate", "default", []),
    "translate_attention_gru": ("translate", "attention-gru", []),
    "translate_compare": ("translate-compare", "default", []),
}
# the smoke presets (the generated toy task) at the test suite's tiny sizes: what --smoke runs,
# here and in bench/translate_tune.py
TINY = [
    "toy_train=200", "beam=2", "max_tokens=512",
    "transformer.dim=32", "transformer.heads=2", "transformer.layers=1", "transformer.ffn=64", "gru.emb=32", "gru.hidden=32",
]  # fmt: skip
# under --smoke: the katas at those sizes, one epoch, dev only; the throughput on a few batches of the toy task
SMOKE_SETS = [*TINY, "epochs=1", "test=false"]
SMOKE_KATAS = {
    "translate": ("translate", "smoke", SMOKE_SETS),
    "translate_attention_gru": ("translate", "smoke", [*SMOKE_SETS, "model=gru-additive"]),
    "translate_compare": ("translate-compare", "smoke", SMOKE_SETS),
}
SMOKE = {"threads": [1], "train_threads": 1, "batches": 2, "repeat": 1, "jobs": 1, "resume": False, "throughput_only": False, "max_tokens": [256, 512]}


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


def throughput(cfg: TransformerConfig, work: list[Batch], repeat: int) -> dict[str, Any]:
    torch.manual_seed(0)
    models = {"ours": Transformer(cfg), "torch.nn.Transformer": TorchTransformer(cfg)}
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-4) for k, m in models.items()}
    tokens = sum(b.target_tokens for b in work)

    def epoch(name: str) -> float:
        model, opt = models[name], opts[name]
        model.train()
        start = time.perf_counter()
        for b in work:
            loss = batch_loss(model, b, 0.1)
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
        "target_tokens_per_s": {k: round(v, 1) for k, v in rates.items()},
        "ours_over_torch": round(rates["ours"] / rates["torch.nn.Transformer"], 4),
        "parameters": params,
        "batches": len(work),
        "target_tokens_per_pass": tokens,
        "repeats": repeat,
    }


def newest_run(runs: Path, kata: str, preset: str) -> Path | None:
    """The newest run folder of ``kata`` with ``preset`` under ``runs``, finished or not."""
    found = [
        d for d in sorted((runs / kata).glob("*-s0"))
        if (d / records.CONFIG).is_file() and records.read_json(d / records.CONFIG)["preset"] == preset
    ]  # fmt: skip
    return found[-1] if found else None


def run_kata(name: str, preset: str, sets: list[str], data: Path | None, runs: Path, threads: int, resume: bool) -> dict[str, Any]:
    kata = get_kata(name)
    previous = newest_run(runs, name, preset) if resume else None
    if previous is not None:
        run_dir, result = runner.finish(previous, quiet=True)
    else:
        cfg, overrides = runner.prepare(kata, preset, sets)
        res = runner.execute(kata, cfg, preset=preset, seed=0, root=runs, overrides=overrides, quiet=True, data=data, threads=threads)
        run_dir, result = res.dir, res.result
    started = records.read_json(run_dir / records.ENV)
    return {
        "kata": name, "preset": preset, "run_dir": str(run_dir), "status": result["status"], "error": result["error"],
        "threads": records.read_json(run_dir / records.CONFIG)["threads"], "started_at_commit": started.get("git_commit"),
        "wall_time_s": result["wall_time_s"], "resumed": result["resumed"], "metrics": result["metrics"],
        "timings": result["timings"], "expectations_met": result["expectations_met"], "expectations": result["expectations"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="small_parallel_enja folder (default: under $DEEPKATA_DATA)")
    parser.add_argument("--threads", type=int, nargs="+", default=[2], help="thread counts for the throughput comparison")
    parser.add_argument("--train-threads", type=int, default=2, help="threads for the BLEU trainings")
    parser.add_argument("--batches", type=int, default=20, help="batches per throughput pass (at the kata's batch size; as many pairs at other sizes)")
    parser.add_argument("--max-tokens", type=int, nargs="+", default=None, help="batch sizes (padded target tokens) for the throughput comparison; each model's best is compared (default: the kata's)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2), help="train the runs one after the other (1) or two side by side (2)")
    parser.add_argument("--resume", action="store_true", help="continue each kata's newest run under --runs instead of starting anew")
    parser.add_argument("--throughput-only", action="store_true")
    add_options(parser, runs="runs/bench-translate")
    args = parse(parser, SMOKE)
    env = environment()
    katas = SMOKE_KATAS if args.smoke else KATAS
    if args.smoke:
        folder, corpus = None, toy_corpus(0, train=200)
    else:
        folder = locate(SMALL_PARALLEL_ENJA, args.data)
        corpus = read_corpus(folder)
    kata_cfg, _ = runner.prepare(get_kata("translate"), *katas["translate"][1:])
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
            speed.append({"max_tokens": max_tokens} | throughput(cfg, work, args.repeat))
    best = {name: max(speed, key=lambda r: r["target_tokens_per_s"][name]) for name in ("ours", "torch.nn.Transformer")}
    results: dict[str, Any] = {"model": {k: getattr(cfg, k) for k in ("dim", "heads", "layers", "ffn", "dropout")}, "throughput": speed,
                               "best": {name: {"max_tokens": r["max_tokens"], "threads": r["threads"], "target_tokens_per_s": r["target_tokens_per_s"][name]} for name, r in best.items()},
                               "ours_best_over_torch_best": round(best["ours"]["target_tokens_per_s"]["ours"] / best["torch.nn.Transformer"]["target_tokens_per_s"]["torch.nn.Transformer"], 4)}  # fmt: skip
    if not args.throughput_only:
        calls = [(name, preset, sets, folder, args.runs, args.train_threads, args.resume) for name, preset, sets in katas.values()]
        results |= dict(zip(katas, run_all(run_kata, calls, args.jobs)))
        results["jobs"] = args.jobs
    record("translate", results, env=env, out_dir=args.out)


if __name__ == "__main__":
    main()
