"""Corpus BLEU and chrF through sacreBLEU, on the corpus's own tokens.

The corpus is already tokenized, so BLEU runs with ``tokenize="none"``: it splits on spaces
and compares the tokens as they are. References are the corpus lines exactly as read. A <unk>
in a hypothesis is written as a token no reference contains, so it can never count as a match
(the course's nltk scores on word ids let <unk> match <unk>).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deepkata.nlp.vocab import UNK

UNMATCHABLE = "<unk:hypothesis>"


@dataclass(frozen=True)
class Scores:
    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str


def score(hypotheses: Sequence[Sequence[str]], references: Sequence[str]) -> Scores:
    """BLEU and chrF of tokenized hypotheses against one reference line each."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    lines = [" ".join(UNMATCHABLE if t == UNK else t for t in h) for h in hypotheses]
    bleu, chrf = BLEU(tokenize="none"), CHRF()
    b = bleu.corpus_score(lines, [list(references)])
    c = chrf.corpus_score(lines, [list(references)])
    return Scores(b.score, c.score, str(bleu.get_signature()), str(chrf.get_signature()))
