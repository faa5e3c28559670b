"""The Fréchet distance against closed forms and scipy's matrix square root; class coverage by hand.

- Commuting (diagonal) covariances: d^2 = |mu_1 - mu_2|^2 + sum_i (sigma_1i - sigma_2i)^2.
- General covariances: equals |mu_1 - mu_2|^2 + tr(C_1 + C_2 - 2 sqrtm(C_1 C_2)) with
  ``scipy.linalg.sqrtm`` (the form of the FID reference code), to 1e-8 (1e-6 for a singular C_1).
- It is zero for equal distributions, symmetric, and feature_stats matches ``np.cov``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from deepkata.generative.measures import FeatureStats, class_coverage, feature_stats, frechet_distance, sqrtm_psd


def random_cov(rng: np.random.Generator, n: int, rank: int | None = None) -> np.ndarray:
    a = rng.standard_normal((n, rank or n))
    return a @ a.T / n


def test_diagonal_covariances_have_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    s1, s2 = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    got = frechet_distance(FeatureStats(mu1, np.diag(s1**2), 10), FeatureStats(mu2, np.diag(s2**2), 10))
    assert got == pytest.approx(np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2), abs=1e-12)
    # one dimension: (mu_1 - mu_2)^2 + (sigma_1 - sigma_2)^2
    assert frechet_distance(FeatureStats(np.array([1.0]), np.array([[4.0]]), 2), FeatureStats(np.array([3.0]), np.array([[1.0]]), 2)) == pytest.approx(5.0)


# a singular C_1 (rank 3 of 8): the square roots of eigenvalues that are zero up to round-off (1e-16)
# are 1e-8 each, in both computations, hence the looser tolerance
@pytest.mark.parametrize("rank, tol", [(None, 1e-8), (3, 1e-6)])
def test_general_covariances_equal_the_scipy_form(rank: int | None, tol: float) -> None:
    rng = np.random.default_rng(1)
    c1, c2 = random_cov(rng, 8, rank), random_cov(rng, 8)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    want = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * scipy.linalg.sqrtm(c1 @ c2).real)
    a, b = FeatureStats(mu1, c1, 100), FeatureStats(mu2, c2, 100)
    assert frechet_distance(a, b) == pytest.approx(want, abs=tol)
    assert frechet_distance(b, a) == pytest.approx(want, abs=tol)  # symmetric
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=tol)


def test_the_square_root_squares_back() -> None:
    c = random_cov(np.random.default_rng(2), 6)
    root = sqrtm_psd(c)
    np.testing.assert_allclose(root @ root, c, atol=1e-12)
    np.testing.assert_allclose(root, root.T, atol=0)


def test_feature_stats_match_numpy_and_the_distance_of_samples_converges() -> None:
    rng = np.random.default_rng(3)
    f = rng.standard_normal((500, 4)) @ rng.standard_normal((4, 4))
    s = feature_stats(f)
    np.testing.assert_allclose(s.cov, np.cov(f, rowvar=False), atol=1e-12)
    np.testing.assert_allclose(s.mean, f.mean(0), atol=1e-15)
    # two large samples of one Gaussian: the distance is near zero; of two Gaussians: near the closed form
    x, y = rng.standard_normal((20_000, 3)), rng.standard_normal((20_000, 3)) * 2 + 1
    assert frechet_distance(feature_stats(x), feature_stats(rng.standard_normal((20_000, 3)))) < 0.01
    assert frechet_distance(feature_stats(x), feature_stats(y)) == pytest.approx(3 * 1 + 3 * 1, abs=0.1)
    with pytest.raises(ValueError, match="N >= 2"):
        feature_stats(f[:1])


def test_class_coverage() -> None:
    even = class_coverage(np.arange(100) % 10, 10)
    assert even.entropy == pytest.approx(np.log(10)) and even.normalized_entropy == pytest.approx(1.0)
    assert even.min_share == pytest.approx(0.1) and even.missing == []
    collapsed = class_coverage(np.full(50, 3), 10)
    assert collapsed.entropy == 0.0 and collapsed.min_share == 0.0 and collapsed.missing == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    half = class_coverage(np.array([0, 0, 1, 1]), 4)
    assert half.entropy == pytest.approx(np.log(2)) and half.shares.tolist() == [0.5, 0.5, 0.0, 0.0]
    with pytest.raises(ValueError, match="0..9"):
        class_coverage(np.array([10]), 10)
