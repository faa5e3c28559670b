"""Where a training step of the translation Transformer spends its time.

Each part of one step — forward and backward together — is timed alone on the inputs it meets
in the real step, with the model's weights: the embeddings, the encoder's and the decoder's
self-attention, the cross-attention, the feed-forward blocks, the layer norms (each sublayer's
dropout goes with it), the output projection with the loss (taken together, as the step takes
them: :func:`deepkata.nlp.loss.projected_cross_entropy`), gradient clipping, Adam,
and making the batches. The whole step is timed too; what the parts do not account for is
Python and autograd overhead, residual additions and memory traffic between them. Times are
medians over ``--repeat`` rounds of ``--batches`` small_parallel_enja batches of the
``translate`` kata's default sizes, in seconds per batch, with each part's share of the step.

    DEEPKATA_DATA=../shared/data python bench/translate_profile.py              # bench/results/translate-profile.json
    DEEPKATA_DATA=../shared/data python bench/translate_profile.py --threads 1
    python bench/translate_profile.py --smoke --out /tmp/tp                       # the toy task, tiny model (CI)

Run it alone: another process on the cores changes every figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _shared import add_options, parse
from torch import nn

from deepkata.core import runner
from deepkata.core.benchmark import record
from deepkata.core.data import locate
from deepkata.core.records import environment
from deepkata.core.registry import get_kata
from deepkata.models.attention import allowed_mask
from deepkata.nlp.batching import Batch, batches
from deepkata.nlp.corpus import SMALL_PARALLEL_ENJA, Corpus, read_corpus
from deepkata.nlp.loss import projected_cross_entropy
from deepkata.nlp.recipes import schedule_for
from deepkata.nlp.toy import toy_corpus
from deepkata.nlp.train import batch_loss
from deepkata.nlp.transformer import Transformer
from deepkata.nlp.vocab import Vocab, build_vocabs

SMOKE = {"threads": 1, "batches": 2, "repeat": 1, "sets": ["transformer.dim=32", "transformer.heads=2", "transformer.layers=1", "transformer.ffn=64", "max_tokens=512"]}


def _leaf(x: torch.Tensor) -> torch.Tensor:
    return x.detach().requires_grad_(x.is_floating_point())


def _fb(fn: Callable[..., torch.Tensor], *inputs: Any) -> float:
    """Seconds of ``fn(*inputs)`` forward and backward."""
    start = time.perf_counter()
    out = fn(*inputs)
    out.backward(torch.ones_like(out))
    return time.perf_counter() - start


def parts_of_step(model: Transformer, batch: Batch, label_smoothing: float) -> dict[str, float]:
    """Each part's forward-and-backward seconds on ``batch``, its inputs as the real step makes them."""
    src, tgt_in, tgt_out, src_pad = batch.src, batch.tgt_in, batch.tgt_out, batch.src_pad
    allowed, causal = allowed_mask(src_pad, None), allowed_mask(None, tgt_in.shape[1])
    t: dict[str, float] = dict.fromkeys(
        ("embeddings", "encoder self-attention", "decoder self-attention", "cross-attention", "feed-forward", "layer norms", "output projection and loss"), 0.0
    )  # fmt: skip
    with torch.no_grad():  # the inputs each part sees
        x = model._embed(model.src_embed, src)
        enc_in = []
        for layer in model.encoder:
            enc_in.append(x)
            x = layer(x, allowed)
        memory = model.enc_norm(x)
        y = model._embed(model.tgt_embed, tgt_in)
        dec_in = []
        for layer in model.decoder:
            dec_in.append(y)
            y = layer(y, memory, causal, allowed)
        hidden = model.dec_norm(y)
    t["embeddings"] = _fb(lambda: model._embed(model.src_embed, src)) + _fb(lambda: model._embed(model.tgt_embed, tgt_in))
    for layer, x in zip(model.encoder, enc_in):
        t["encoder self-attention"] += _fb(lambda a: layer._sa(a, allowed), _leaf(x))
        t["feed-forward"] += _fb(layer._ff, _leaf(x))
        t["layer norms"] += _fb(layer.norm1, _leaf(x)) + _fb(layer.norm2, _leaf(x))
    for layer, y in zip(model.decoder, dec_in):
        t["decoder self-attention"] += _fb(lambda a: layer._sa(a, causal), _leaf(y))
        t["cross-attention"] += _fb(lambda a, m: layer._ca(a, m, allowed), _leaf(y), _leaf(memory))
        t["feed-forward"] += _fb(layer._ff, _leaf(y))
        t["layer norms"] += sum(_fb(norm, _leaf(y)) for norm in (layer.norm1, layer.norm2, layer.norm3))
    t["output projection and loss"] = _fb(
        lambda h: projected_cross_entropy(h.reshape(-1, h.shape[-1]), model.out.weight, model.out.bias, tgt_out.reshape(-1), label_smoothing, Vocab.pad),
        _leaf(hidden),
    )  # fmt: skip
    model.zero_grad(set_to_none=True)
    return t


def whole_step(model: Transformer, opt: torch.optim.Optimizer, batch: Batch, label_smoothing: float, clip: float) -> dict[str, float]:
    """The training step as :class:`deepkata.nlp.train.Trainer` takes it, and its clipping and Adam parts."""
    start = time.perf_counter()
    loss = batch_loss(model, batch, label_smoothing)
    opt.zero_grad()
    loss.backward()
    clipped = time.perf_counter()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    stepped = time.perf_counter()
    opt.step()
    end = time.perf_counter()
    return {"gradient clipping": stepped - clipped, "Adam": end - stepped, "step": end - start}


def profile(corpus: Corpus, sets: list[str], batches_per_round: int, repeat: int) -> dict[str, Any]:
    """The step's parts on ``corpus``'s first training batches, at the ``translate`` kata's default
    sizes with ``sets``, on the threads torch has now: seconds per batch and each part's share."""
    cfg, _ = runner.prepare(get_kata("translate"), "default", list(sets))
    vocabs = build_vocabs(corpus.train, cfg.min_freq)
    model_cfg = dataclasses.replace(cfg.transformer, src_vocab=len(vocabs[0]), tgt_vocab=len(vocabs[1]))
    schedule = schedule_for("transformer", cfg.max_tokens, cfg.clip)
    src = [vocabs[0].encode(s) for s, _ in corpus.train]
    tgt = [vocabs[1].encode(t) for _, t in corpus.train]

    start = time.perf_counter()
    epoch = list(batches(src, tgt, cfg.max_tokens, torch.Generator().manual_seed(0)))
    batching = (time.perf_counter() - start) / len(epoch)
    work = epoch[:batches_per_round]
    torch.manual_seed(0)
    model = Transformer(model_cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=schedule.betas, eps=1e-9)
    whole_step(model, opt, work[0], schedule.label_smoothing, schedule.clip)  # warm-up
    rounds: list[dict[str, float]] = []
    for _ in range(repeat):
        total: dict[str, float] = {}
        for b in work:
            for part in (parts_of_step(model, b, schedule.label_smoothing), whole_step(model, opt, b, schedule.label_smoothing, schedule.clip)):
                for k, v in part.items():
                    total[k] = total.get(k, 0.0) + v / len(work)
        rounds.append(total)
    per_batch = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    step = per_batch.pop("step")
    per_batch["making the batches"] = batching
    per_batch["other: Python, autograd, residuals"] = step + batching - sum(per_batch.values())
    return {
        "model": {k: getattr(model_cfg, k) for k in ("dim", "heads", "layers", "ffn", "dropout", "src_vocab", "tgt_vocab")},
        "threads": torch.get_num_threads(), "batches": len(work), "repeat": repeat, "max_tokens": cfg.max_tokens,
        "target_tokens_per_batch": sum(b.target_tokens for b in work) / len(work),
        "padded_source_share": 1 - sum(int((~b.src_pad).sum()) for b in work) / sum(b.src.numel() for b in work),
        "seconds_per_batch": round(step + batching, 4), "target_tokens_per_s": round(sum(b.target_tokens for b in work) / len(work) / (step + batching), 1),
        "parts": [{"part": k, "seconds_per_batch": round(v, 4), "share": round(v / (step + batching), 4)} for k, v in per_batch.items()],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="small_parallel_enja folder (default: under $DEEPKATA_DATA)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, default=20, help="batches per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the median")
    parser.add_argument("--sets", nargs="*", default=[], help="translate kata settings (key=value) for the model's sizes")
    add_options(parser)
    args = parse(parser, SMOKE)
    env = environment()
    torch.set_num_threads(args.threads)
    corpus = toy_corpus(0, train=200) if args.smoke else read_corpus(locate(SMALL_PARALLEL_ENJA, args.data))
    record("translate-profile", profile(corpus, args.sets, args.batches, args.repeat), env=env, out_dir=args.out)


if __name__ == "__main__":
    main()
