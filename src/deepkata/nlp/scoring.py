"""Scoring a translation model on a split: decode its sources, then sacreBLEU against the references.

The hypotheses are decoded on the model's device (:func:`~deepkata.nlp.decode.translate_ids`),
greedily or with beam search, and scored as token lines against each reference as written
(:func:`~deepkata.nlp.bleu.score`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import nn

from deepkata.nlp.bleu import Scores, score
from deepkata.nlp.corpus import Pair
from deepkata.nlp.decode import translate_ids
from deepkata.nlp.vocab import Vocab


def evaluate(
    model: nn.Module,
    vocabs: tuple[Vocab, Vocab],
    pairs: Sequence[Pair],
    method: Literal["greedy", "beam"],
    beam: int,
    alpha: float,
    tgt_lang: str | None = None,
) -> tuple[Scores, list[list[str]]]:
    """BLEU and chrF of ``model``'s translations of ``pairs``, and the hypotheses' tokens; with
    ``tgt_lang``, BLEU on detokenized text too (:func:`~deepkata.nlp.bleu.score`)."""
    src_vocab, tgt_vocab = vocabs
    ids = translate_ids(model, [src_vocab.encode(s) for s, _ in pairs], method=method, beam=beam, alpha=alpha)
    hyps = [tgt_vocab.decode(h) for h in ids]
    return score(hyps, [" ".join(t) for _, t in pairs], tgt_lang), hyps
