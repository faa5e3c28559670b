"""Corpus BLEU and chrF through sacreBLEU: on the corpus's own tokens, and on detokenized text.

The corpus is already tokenized, so the main BLEU runs with ``tokenize="none"``: it splits on
spaces and compares the tokens as they are. References are the corpus lines exactly as read.
A <unk> in a hypothesis is written as a token no reference contains, so it can never count as a
match (the course's nltk scores on word ids let <unk> match <unk>).

That score depends on the corpus's tokenization, so it is not comparable with published
figures. For a Japanese target the hypotheses and references are also detokenized (their tokens
joined without spaces) and scored with sacreBLEU's ``ja-mecab`` tokenizer, the one published
en→ja results use; chrF, which ignores whitespace, is the same either way. The number of <unk>
tokens in the hypotheses is counted, as they are what a reader sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deepkata.nlp.tokenize import join_japanese
from deepkata.nlp.vocab import UNK

UNMATCHABLE = "<unk:hypothesis>"
UNMATCHABLE_TEXT = "\u2047"  # '⁇', which no reference contains, for a <unk> in detokenized text
DETOKENIZED = {"ja": "ja-mecab", "zh": "zh"}  # target languages written without spaces: their sacreBLEU tokenizer


@dataclass(frozen=True)
class Scores:
    bleu: float  # on the corpus's tokens
    chrf: float
    bleu_signature: str
    chrf_signature: str
    unk: int = 0  # <unk> tokens in the hypotheses
    bleu_detok: float | None = None  # on detokenized text, with the target language's tokenizer
    bleu_detok_signature: str | None = None


def detokenize(tokens: Sequence[str], unk: str = UNMATCHABLE_TEXT) -> str:
    """Tokens of a language written without spaces, joined; <unk> as ``unk``."""
    return join_japanese([unk if t == UNK else t for t in tokens])


def score(hypotheses: Sequence[Sequence[str]], references: Sequence[str], tgt_lang: str | None = None) -> Scores:
    """BLEU and chrF of tokenized hypotheses against one reference line each; with ``tgt_lang``
    one of :data:`DETOKENIZED`'s, BLEU on detokenized text too."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    lines = [" ".join(UNMATCHABLE if t == UNK else t for t in h) for h in hypotheses]
    bleu, chrf = BLEU(tokenize="none"), CHRF()
    b = bleu.corpus_score(lines, [list(references)])
    c = chrf.corpus_score(lines, [list(references)])
    unk = sum(t == UNK for h in hypotheses for t in h)
    detok = detok_signature = None
    if tgt_lang in DETOKENIZED:
        metric = BLEU(tokenize=DETOKENIZED[tgt_lang])
        detok = metric.corpus_score([detokenize(h) for h in hypotheses], [[detokenize(r.split()) for r in references]]).score
        detok_signature = str(metric.get_signature())
    return Scores(b.score, c.score, str(bleu.get_signature()), str(chrf.get_signature()), unk, detok, detok_signature)
