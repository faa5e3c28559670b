"""A word2vec vocabulary: the words of a corpus seen at least ``min_count`` times, most frequent first.

The order is gensim's (count descending; ties in order of first appearance), so index 0 is the
most frequent word and "the first n words" means the n most frequent, as ``restrict_vocab``
does in the evaluations. Words below ``min_count`` are dropped from the stream, not replaced.
A :class:`TokenStream` is the corpus as one array of word ids with, for each token, the index
of its sentence: windows never cross a sentence's end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from deepkata.core.errors import UserError

__all__ = ["TokenStream", "WordVocab"]


@dataclass(frozen=True)
class TokenStream:
    ids: np.ndarray  # (N,) int64 word ids
    sentence: np.ndarray  # (N,) int64: the index of each token's sentence, non-decreasing

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def sentences(self) -> int:
        return int(self.sentence[-1]) + 1 if len(self.sentence) else 0

    def blocks(self, size: int) -> np.ndarray:
        """Start offsets of consecutive blocks of about ``size`` tokens, each starting a sentence,
        and the end: (B + 1,). Blocks are the items a trainer shuffles and batches."""
        starts = np.flatnonzero(np.r_[True, self.sentence[1:] != self.sentence[:-1]]) if len(self) else np.zeros(0, np.int64)
        picked, last = [], -size
        for s in starts:  # one pass over the sentence starts
            if s - last >= size:
                picked.append(s)
                last = s
        return np.asarray([*picked, len(self)], dtype=np.int64)


class WordVocab:
    """Words and their counts, most frequent first; ``index[word]`` is its row in every matrix."""

    def __init__(self, words: Sequence[str], counts: Sequence[int]) -> None:
        if len(words) != len(counts):
            raise ValueError("one count per word")
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("words must be distinct")

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 5) -> WordVocab:
        counts: Counter[str] = Counter()
        for s in sentences:
            counts.update(s)
        kept = [(w, c) for w, c in counts.items() if c >= min_count]  # Counter keeps first-appearance order
        kept.sort(key=lambda wc: -wc[1])  # stable: ties stay in order of first appearance
        if not kept:
            raise UserError(f"min_count={min_count}: no word occurs that often (the most frequent occurs {max(counts.values(), default=0)} times)")
        return cls([w for w, _ in kept], [c for _, c in kept])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    @property
    def total(self) -> int:
        """Tokens of the kept words in the corpus."""
        return int(self.counts.sum())

    def encode(self, sentences: Iterable[Sequence[str]]) -> TokenStream:
        """The kept words of every sentence as ids; sentences left empty take no index."""
        ids: list[int] = []
        sentence: list[int] = []
        n = 0
        for s in sentences:
            row = [self.index[w] for w in s if w in self.index]
            if row:
                ids.extend(row)
                sentence.extend([n] * len(row))
                n += 1
        return TokenStream(np.asarray(ids, dtype=np.int64), np.asarray(sentence, dtype=np.int64))

    def state(self) -> dict[str, list]:
        return {"words": self.words, "counts": self.counts.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, list]) -> WordVocab:
        return cls(state["words"], state["counts"])
