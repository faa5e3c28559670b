"""What word2vec draws (Mikolov et al., 2013): subsampled tokens, windows of context, negatives.

Shared by the NumPy and the PyTorch word2vec, so both train on the same draws:

- **Subsampling** of frequent words, word2vec's and gensim's formula: with ``t = sample * N``
  (N the corpus's tokens) a word seen ``f`` times is kept with probability
  ``(sqrt(f / t) + 1) * t / f`` (at most 1). The kept tokens are the *effective words* whose rate
  the speed figures count.
- **Windows.** Each kept token is a centre; a window ``b`` drawn uniformly from 1..``window``
  (word2vec's reduced window, which weights near words more) gives its contexts: the kept tokens
  at most ``b`` away in the same sentence. :func:`windows` returns them as a padded (N, 2 W)
  matrix, -1 where there is none; a centre without any context is dropped.
- **Negatives** from the unigram distribution raised to 0.75, by a table of word ids in which
  each word fills a share of the slots proportional to ``count^0.75`` (word2vec's ``InitUnigramTable``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["NegativeTable", "keep_probabilities", "subsample", "windows"]


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """(V,) the probability each word's token survives subsampling (1 for all if ``sample`` is 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()  # t = sample * N
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1) * threshold / counts)  # (sqrt(f / t) + 1) t / f


def subsample(ids: np.ndarray, sentence: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The tokens that survive subsampling, and their sentences."""
    kept = rng.random(len(ids)) < keep[ids]
    return ids[kept], sentence[kept]


def windows(ids: np.ndarray, sentence: np.ndarray, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Centres (N,) and their contexts (N, 2 W), -1 padded: columns -W..-1 then 1..W, by distance."""
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n)  # word2vec's reduced window b, per centre
    contexts = np.full((n, 2 * window), -1, dtype=np.int64)
    for d in range(1, window + 1):
        # the token d before (column W - d) and d after (column W - 1 + d) each centre
        ok = (reach[d:] >= d) & (sentence[d:] == sentence[:-d])
        contexts[d:, window - d] = np.where(ok, ids[:-d], -1)
        ok = (reach[:-d] >= d) & (sentence[:-d] == sentence[d:])
        contexts[:-d, window - 1 + d] = np.where(ok, ids[d:], -1)
    has = (contexts >= 0).any(1)
    return ids[has], contexts[has]


class NegativeTable:
    """Word ids, each filling a share of ``size`` slots proportional to ``count^power``."""

    def __init__(self, counts: np.ndarray, *, power: float = 0.75, size: int = 1_000_000) -> None:
        weights = np.asarray(counts, dtype=np.float64) ** power
        size = max(size, 10 * len(weights))
        # word i takes the slots up to its cumulative share of the weights
        bounds = np.round(np.cumsum(weights) / weights.sum() * size).astype(np.int64)
        self.table = np.repeat(np.arange(len(weights), dtype=np.int64), np.diff(np.r_[0, bounds]))
        self.probabilities = weights / weights.sum()

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return self.table[rng.integers(0, len(self.table), size=shape)]
