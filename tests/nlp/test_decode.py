"""Greedy and beam search on a model whose probabilities are a known table."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from deepkata.nlp.decode import (
    beam_search,
    greedy,
    length_penalty,
    max_length,
    translate_ids,
)
from deepkata.nlp.vocab import Vocab

A, B, C, D, E = 4, 5, 6, 7, 8  # token ids after the four specials
V = 9


class Markov(nn.Module):
    """p(next | last token) from a fixed table; the source only sets the batch size."""

    def __init__(self, table: dict[int, dict[int, float]]) -> None:
        super().__init__()
        logits = torch.full((V, V), -30.0)
        for prev, nxt in table.items():
            for tok, p in nxt.items():
                logits[prev, tok] = math.log(p)
        self.logits = nn.Parameter(logits, requires_grad=False)

    def start(self, src, src_pad):
        return (torch.full((src.shape[0],), Vocab.bos, device=src.device),)

    def step(self, state, token):
        last = state[0] if token is None else token
        return self.logits[last], (last,)


# greedy takes A (0.6) and then must pay 0.4 for </s>; B (0.4) then </s> at 0.99 is better overall
TRAP = Markov({Vocab.bos: {A: 0.6, B: 0.4}, A: {Vocab.eos: 0.4, C: 0.6}, B: {Vocab.eos: 0.99, C: 0.01}, C: {Vocab.eos: 1.0}})


def logp(model: Markov, ids: list[int]) -> float:
    total, last = 0.0, Vocab.bos
    for t in [*ids, Vocab.eos]:
        total += torch.log_softmax(model.logits[last], 0)[t].item()
        last = t
    return total


def test_greedy_follows_the_most_probable_token():
    src = torch.tensor([[A, A]])
    assert greedy(TRAP, src, src == Vocab.pad, 10) == [[A, C]]


def test_beam_search_escapes_the_greedy_trap():
    src = torch.tensor([[A, A], [B, B]])
    pad = src == Vocab.pad
    hyps = beam_search(TRAP, src, pad, 10, beam=2, alpha=0.0)
    assert hyps == [[B], [B]]
    assert logp(TRAP, [B]) > logp(TRAP, [A, C])


def test_beam_of_one_is_greedy():
    src = torch.tensor([[A], [B], [C]])
    pad = src == Vocab.pad
    assert beam_search(TRAP, src, pad, 10, beam=1) == greedy(TRAP, src, pad, 10)


def test_the_length_penalty_can_favour_longer_output():
    # two finished hypotheses: [B] and [A, C]; alpha decides between them
    m = Markov({Vocab.bos: {A: 0.55, B: 0.45}, A: {C: 0.6, Vocab.eos: 0.4}, B: {Vocab.eos: 1.0}, C: {Vocab.eos: 1.0}})
    src = torch.tensor([[A]])
    assert logp(m, [B]) > logp(m, [A, C])  # -0.80 against -1.11
    assert beam_search(m, src, src == Vocab.pad, 10, beam=3, alpha=0.0) == [[B]]
    # alpha 3: -0.80 / (7/6)^3 = -0.50 against -1.11 / (8/6)^3 = -0.47
    assert beam_search(m, src, src == Vocab.pad, 10, beam=3, alpha=3.0) == [[A, C]]


def test_max_length_stops_an_endless_model():
    loop = Markov({Vocab.bos: {A: 1.0}, A: {A: 1.0}})
    src = torch.tensor([[A]])
    assert greedy(loop, src, src == Vocab.pad, 5) == [[A] * 5]
    assert beam_search(loop, src, src == Vocab.pad, 5, beam=2) == [[A] * 5]


def test_decoding_stops_at_one_and_a_half_times_the_longest_source_plus_ten():
    assert max_length([3, 8, 5], cap=200) == 22
    assert max_length([3, 8, 5], cap=15) == 15
    loop = Markov({Vocab.bos: {A: 1.0}, A: {A: 1.0}})
    assert translate_ids(loop, [[A] * 4, [B] * 2], batch_size=1) == [[A] * 16, [A] * 13]


def test_translate_ids_keeps_the_input_order():
    sources = [[A, A, A], [B], [C, C]]
    out = translate_ids(TRAP, sources, method="greedy", batch_size=2)
    assert out == [[A, C], [A, C], [A, C]]


@torch.no_grad()
def slot_keeping_beam_search(model, src, src_pad, max_len, beam, alpha):
    """The search before finished hypotheses were set aside: one that has produced </s> keeps
    its slot, extended by <pad> at no cost, and the penalty applies only among the K at the end."""
    batch = src.shape[0]
    sentence = torch.arange(batch)
    state = tuple(t[sentence.repeat_interleave(beam)] for t in model.start(src, src_pad))
    scores = torch.full((batch, beam), float("-inf"))
    scores[:, 0] = 0.0
    tokens = torch.full((batch * beam, 0), Vocab.pad, dtype=torch.long)
    finished = torch.zeros(batch * beam, dtype=torch.bool)
    lengths = torch.zeros(batch * beam)
    token = None
    for _ in range(max_len):
        logits, state = model.step(state, token)
        logp = torch.log_softmax(logits.float(), dim=-1)
        logp[finished] = float("-inf")
        logp[finished, Vocab.pad] = 0.0
        scores, flat = (scores.view(-1, 1) + logp).view(batch, -1).topk(beam, dim=1)
        origin = (sentence[:, None] * beam + flat // V).view(-1)
        token = (flat % V).view(-1)
        state = tuple(t[origin] for t in state)
        tokens = torch.cat([tokens[origin], token[:, None]], dim=1)
        was_done = finished[origin]
        lengths = lengths[origin] + (~was_done).float()
        finished = was_done | (token == Vocab.eos)
        if finished.all():
            break
    best = (scores.view(-1) / ((5.0 + lengths) / 6.0) ** alpha).view(batch, beam).argmax(dim=1) + sentence * beam
    return [[t for t in tokens[i].tolist() if t not in (Vocab.pad, Vocab.eos)] for i in best.tolist()]


def penalized(model: Markov, ids: list[int], alpha: float) -> float:
    return logp(model, ids) / length_penalty(len(ids) + 1, alpha)


def test_a_finished_hypothesis_leaves_its_slot_so_a_better_long_one_is_found():
    # </s> at once (0.40) and A (0.35) fill both slots of the old search and push B (0.25) out;
    # B D E then ends with certainty and, with alpha 1.5, scores best of all
    m = Markov({Vocab.bos: {Vocab.eos: 0.40, A: 0.35, B: 0.25}, A: {Vocab.eos: 0.5, C: 0.5}, C: {Vocab.eos: 1.0},
                B: {D: 1.0}, D: {E: 1.0}, E: {Vocab.eos: 1.0}})  # fmt: skip
    src = torch.tensor([[A]])
    scored = {tuple(h): penalized(m, h, 1.5) for h in ([], [A], [A, C], [B, D, E])}  # every hypothesis that ends
    assert max(scored, key=scored.__getitem__) == (B, D, E)  # -0.755, against -0.916 for the empty one
    assert slot_keeping_beam_search(m, src, src == Vocab.pad, 10, beam=2, alpha=1.5) == [[]]
    assert beam_search(m, src, src == Vocab.pad, 10, beam=2, alpha=1.5) == [[B, D, E]]


def test_a_beam_as_wide_as_every_prefix_finds_the_exhaustive_best():
    # with K at least the number of prefixes, nothing is pruned: the answer is the best of all
    # hypotheses that end by max_len, or of those cut at max_len, under the penalty
    generator = torch.Generator().manual_seed(0)
    content, max_len = (A, B, C), 4
    for trial in range(20):
        probs = torch.rand(V, len(content) + 1, generator=generator) ** 3 + 1e-3
        probs /= probs.sum(dim=1, keepdim=True)
        m = Markov({prev: dict(zip((*content, Vocab.eos), row.tolist())) for prev, row in zip(range(V), probs) if prev in (Vocab.bos, *content)})
        alpha = 0.5 * (trial % 4)
        candidates = {h: penalized(m, list(h), alpha) for n in range(max_len) for h in itertools.product(content, repeat=n)}
        for h in itertools.product(content, repeat=max_len):  # cut by the limit: no </s> paid
            candidates[h] = (logp(m, list(h)) - math.log(m_eos(m, h[-1]))) / length_penalty(max_len, alpha)
        expected = max(candidates, key=candidates.__getitem__)
        src = torch.tensor([[A]])
        assert beam_search(m, src, src == Vocab.pad, max_len, beam=len(content) ** max_len, alpha=alpha) == [list(expected)], trial


def m_eos(m: Markov, last: int) -> float:
    return torch.softmax(m.logits[last], 0)[Vocab.eos].item()
