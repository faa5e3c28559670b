"""Co-occurrence, PPMI and SVD against their definitions on small tables."""

from __future__ import annotations

import numpy as np
import pytest

from deepkata.words.counts import cooccurrence, ppmi, svd_vectors
from deepkata.words.vocab import TokenStream


def test_cooccurrence_counts_pairs_within_the_window_in_one_sentence() -> None:
    rng = np.random.default_rng(0)
    ids, sentence = rng.integers(0, 7, 60), np.sort(rng.integers(0, 6, 60))
    counts = cooccurrence(TokenStream(ids, sentence), 7, window=2).toarray()
    expected = np.zeros((7, 7))
    for i in range(60):  # the definition, a token at a time
        for j in range(60):
            if i != j and abs(i - j) <= 2 and sentence[i] == sentence[j]:
                expected[ids[i], ids[j]] += 1
    np.testing.assert_array_equal(counts, expected)


@pytest.mark.parametrize("alpha", [1.0, 0.75])
def test_ppmi_is_the_positive_part_of_pmi(alpha: float) -> None:
    c = np.array([[0, 4, 1], [4, 0, 2], [1, 2, 6]], dtype=float)
    total = c.sum()
    p_w = c.sum(1) / total
    p_c = c.sum(0) ** alpha / (c.sum(0) ** alpha).sum()
    with np.errstate(divide="ignore"):
        pmi = np.log(c / total) - np.log(p_w)[:, None] - np.log(p_c)[None, :]
    expected = np.where(c > 0, np.maximum(pmi, 0), 0)
    from scipy import sparse

    np.testing.assert_allclose(ppmi(sparse.csr_matrix(c), alpha=alpha).toarray(), expected, atol=1e-12)


def test_svd_vectors_span_the_leading_singular_directions() -> None:
    rng = np.random.default_rng(1)
    m = rng.random((30, 30))
    m = m + m.T
    from scipy import sparse

    u, s, _ = np.linalg.svd(m)
    v = svd_vectors(sparse.csr_matrix(m), 4, power=1.0)
    # the same columns up to sign: |<u_k, v_k / s_k>| = 1
    np.testing.assert_allclose(np.abs(np.sum(u[:, :4] * v / s[:4], axis=0)), 1.0, atol=1e-4)
    np.testing.assert_allclose(svd_vectors(sparse.csr_matrix(m), 4, power=0.0), svd_vectors(sparse.csr_matrix(m), 4, power=0.0))  # reproducible
