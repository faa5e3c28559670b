"""Greedy and beam search on a model whose probabilities are a known table."""

from __future__ import annotations

import math

import torch
from torch import nn

from deepkata.nlp.decode import beam_search, greedy, max_length, translate_ids
from deepkata.nlp.vocab import Vocab

A, B, C = 4, 5, 6  # token ids after the four specials
V = 7


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
