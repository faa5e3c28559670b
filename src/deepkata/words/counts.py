"""Count-based word vectors: co-occurrence counts, PPMI, truncated SVD (notes 001; Levy et al., 2015).

- **Co-occurrence.** ``C[w, c]`` counts the times ``c`` is within ``window`` words of ``w`` in
  one sentence (both directions, each occurrence 1: deep-learning-from-scratch-2's count). It is
  built sparse in one vectorized pass per offset, never in a Python loop over tokens.
- **PPMI.** ``PMI(w, c) = log(C[w, c] * Σ / (C[w, *] * C[*, c]))``; with context-distribution
  smoothing the context's share is ``C[*, c]^α / Σ_c' C[*, c']^α`` instead (α = 0.75 in Levy et
  al.), which tempers the high PMI of rare contexts. PPMI = max(PMI, 0) on the non-zero counts:
  the matrix stays sparse.
- **SVD.** The ``dim`` largest singular triplets of PPMI by scipy's ``svds`` (ARPACK), and the
  word vectors ``U Σ^p`` (p = 0.5 by default; p = 1 is the classic LSA, p = 0 Levy et al.'s best).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import svds

from deepkata.words.vocab import TokenStream

__all__ = ["cooccurrence", "ppmi", "svd_vectors"]


def cooccurrence(stream: TokenStream, vocab_size: int, window: int) -> sparse.csr_matrix:
    """Symmetric counts (V, V) of words within ``window`` of each other in one sentence."""
    rows, cols = [], []
    for d in range(1, window + 1):
        same = stream.sentence[d:] == stream.sentence[:-d]  # token t and t + d share a sentence
        left, right = stream.ids[:-d][same], stream.ids[d:][same]
        rows += [left, right]
        cols += [right, left]
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    counts = sparse.coo_matrix((np.ones(len(r), dtype=np.float64), (r, c)), shape=(vocab_size, vocab_size))
    return counts.tocsr()  # duplicates summed


def ppmi(counts: sparse.csr_matrix, *, alpha: float = 1.0) -> sparse.csr_matrix:
    """Positive PMI of a count matrix, sparse; ``alpha`` < 1 smooths the context distribution."""
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    total = counts.sum()
    p_word = np.asarray(counts.sum(axis=1)).ravel() / total  # (V,)
    context = np.asarray(counts.sum(axis=0)).ravel() ** alpha
    p_context = context / context.sum()  # (V,)
    coo = counts.tocoo()
    # PMI = log P(w, c) - log P(w) - log P_alpha(c), on the non-zero entries only
    pmi = np.log(coo.data / total) - np.log(p_word[coo.row]) - np.log(p_context[coo.col])
    keep = pmi > 0
    out = sparse.coo_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)
    return out.tocsr()


def svd_vectors(matrix: sparse.spmatrix, dim: int, *, power: float = 0.5, seed: int = 0) -> np.ndarray:
    """Word vectors ``U Σ^power`` (V, dim) from the ``dim`` largest singular values, largest first."""
    dim = min(dim, min(matrix.shape) - 1)
    v0 = np.random.default_rng(seed).uniform(-1, 1, min(matrix.shape))  # ARPACK's start: seeded, so reproducible
    u, s, _ = svds(sparse.csr_matrix(matrix, dtype=np.float64), k=dim, v0=v0)
    order = np.argsort(-s)
    u, s = u[:, order], s[order]
    u *= np.sign(u[np.abs(u).argmax(0), range(dim)])  # each column's sign fixed by its largest entry
    return (u * s**power).astype(np.float32)
