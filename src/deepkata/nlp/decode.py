"""Decoding a translation: greedy, and beam search with a length penalty, batched.

Any model with ``start(src, src_pad) -> state`` and ``step(state, token) -> (logits, state)``
decodes here, its state a tuple of tensors whose first axis is the batch, so beams are kept by
indexing that axis. Beam search keeps the K best unfinished prefixes of each sentence by total
log-probability. A hypothesis that ends with </s> is set aside, as in GNMT and fairseq, and
leaves its slot to a live one; among all the finished the winner maximizes the GNMT score
(Wu et al., 2016), |y| counting the </s>:

    score = log p(y) / lp(|y|),     lp(n) = ((5 + n) / 6)^alpha

Every buffer is made on the source tensor's device, and :func:`translate_ids` sends each batch
of sources to the model's, so decoding runs wherever the model is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from deepkata.nlp.batching import pad
from deepkata.nlp.vocab import Vocab

State = tuple[torch.Tensor, ...]


def _select(state: State, index: torch.Tensor) -> State:
    return tuple(t[index] for t in state)


def max_length(lengths: Sequence[int], cap: int) -> int:
    """Decode at most 1.5 x the longest source + 10 tokens, and never beyond ``cap``."""
    return min(cap, int(1.5 * max(lengths)) + 10)


@torch.no_grad()
def greedy(model: Any, src: torch.Tensor, src_pad: torch.Tensor, max_len: int) -> list[list[int]]:
    """The most probable next token at every step, until </s> or ``max_len``."""
    state = model.start(src, src_pad)
    out = torch.full((src.shape[0], 0), Vocab.pad, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    token = None
    for _ in range(max_len):
        logits, state = model.step(state, token)
        token = logits.argmax(dim=-1).masked_fill(done, Vocab.pad)
        out = torch.cat([out, token[:, None]], dim=1)
        done |= token == Vocab.eos
        if done.all():
            break
    return [_strip(row) for row in out.tolist()]


def length_penalty(n: int | torch.Tensor, alpha: float) -> Any:
    """GNMT's lp(n) = ((5 + n) / 6)^alpha."""
    return ((5.0 + n) / 6.0) ** alpha


@torch.no_grad()
def beam_search(model: Any, src: torch.Tensor, src_pad: torch.Tensor, max_len: int, beam: int = 5, alpha: float = 0.6) -> list[list[int]]:
    """The best hypothesis per sentence under the length-penalized score, from ``beam`` live ones.

    At each step every live beam's ending with </s> is scored, penalty included, and the best
    so far is kept aside; the ``beam`` best continuations other than </s> (and <pad>) stay live.
    A sentence is done when no live beam could overtake its best finished one however long it
    grew: log p only falls, and lp(n) is largest at ``max_len``, so s / lp(max_len) bounds a
    live beam of log-probability s. At ``max_len`` the live beams compete as they stand.
    """
    batch, device = src.shape[0], src.device
    sentence = torch.arange(batch, device=device)  # (B,)
    state = _select(model.start(src, src_pad), sentence.repeat_interleave(beam))  # (B*K, ...)
    scores = torch.full((batch, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start equal: keep one
    tokens = torch.full((batch * beam, 0), Vocab.pad, dtype=torch.long, device=device)
    best = torch.full((batch,), float("-inf"), device=device)  # penalized score of the best finished
    best_ids: list[list[int]] = [[] for _ in range(batch)]
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    token = None
    for step in range(max_len):
        logits, state = model.step(state, token)
        logp = torch.log_softmax(logits.float(), dim=-1)  # (B*K, V)
        vocab = logp.shape[1]
        total = (scores.view(-1, 1) + logp).view(batch, beam, vocab)
        ended, which = (total[:, :, Vocab.eos] / length_penalty(step + 1, alpha)).max(dim=1)  # (B,): </s> makes length step + 1
        better = (ended > best) & ~done
        for b in better.nonzero().flatten().tolist():
            best_ids[b] = tokens[b * beam + which[b]].tolist()
        best = torch.where(better, ended, best)
        total[:, :, Vocab.eos] = float("-inf")
        total[:, :, Vocab.pad] = float("-inf")
        scores, flat = total.view(batch, beam * vocab).topk(beam, dim=1)  # (B, K)
        origin = (sentence[:, None] * beam + flat // vocab).view(-1)  # which beam each came from
        token = (flat % vocab).view(-1)
        state = _select(state, origin)
        tokens = torch.cat([tokens[origin], token[:, None]], dim=1)
        done |= scores[:, 0] / length_penalty(max_len, alpha) <= best  # scores[:, 0]: the best live beam
        if done.all():
            break
    live, which = (scores / length_penalty(tokens.shape[1], alpha)).max(dim=1)
    for b in ((live > best) & ~done).nonzero().flatten().tolist():
        best_ids[b] = tokens[b * beam + which[b]].tolist()
    return [_strip(ids) for ids in best_ids]


def _strip(ids: list[int]) -> list[int]:
    """Ids up to </s>, without it and without padding."""
    out = []
    for i in ids:
        if i == Vocab.eos:
            break
        if i != Vocab.pad:
            out.append(i)
    return out


def translate_ids(
    model: nn.Module,
    sources: Sequence[Sequence[int]],
    *,
    method: Literal["greedy", "beam"] = "greedy",
    beam: int = 5,
    alpha: float = 0.6,
    batch_size: int = 64,
    cap: int = 200,
) -> list[list[int]]:
    """Decode every source on the model's device, in batches of similar length; results in the input order."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out: list[list[int]] = [[] for _ in sources]
    for k in range(0, len(order), batch_size):
        chunk = order[k : k + batch_size]
        rows = [sources[i] for i in chunk]
        src = pad(rows).to(device)
        src_pad = src == Vocab.pad
        limit = max_length([len(r) for r in rows], cap)
        hyps = greedy(model, src, src_pad, limit) if method == "greedy" else beam_search(model, src, src_pad, limit, beam, alpha)
        for i, h in zip(chunk, hyps):
            out[i] = h
    return out
