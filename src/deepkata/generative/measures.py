"""Measuring generated samples: the Fréchet distance between feature distributions, and how the
samples spread over the classes.

Papers:
    Dowson & Landau, "The Fréchet distance between multivariate normal distributions", Journal
        of Multivariate Analysis 12, 1982 (the closed form below).
    Heusel et al., "GANs trained by a two time-scale update rule converge to a local Nash
        equilibrium", NeurIPS 2017 (FID: that distance between Gaussians fitted to the features
        of real and of generated images, there Inception-v3's pool features; here the
        penultimate features of a small classifier trained in the project, "classifier-FID",
        comparable only between runs that share that classifier).

The Fréchet (2-Wasserstein) distance between N(mu_1, C_1) and N(mu_2, C_2)::

    d^2 = |mu_1 - mu_2|^2 + tr(C_1 + C_2 - 2 (C_1^{1/2} C_2 C_1^{1/2})^{1/2})

computed here in float64 from symmetric eigendecompositions: C_1^{1/2} = V diag(sqrt l) V^T, and
the trace of the square root of the symmetric positive semi-definite M = C_1^{1/2} C_2 C_1^{1/2}
is the sum of the square roots of its eigenvalues (negative round-off clipped to zero). It equals
the usual ``scipy.linalg.sqrtm(C_1 C_2)`` form, since C_1 C_2 is similar to M.

Class coverage: the classifier's predicted class of each sample, the share of each class, and
the entropy of those shares (log C nats when the samples cover the C classes evenly; 0 when
they all fall in one: mode collapse).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

__all__ = ["Coverage", "FeatureStats", "class_coverage", "feature_stats", "frechet_distance", "sqrtm_psd"]


@dataclass(frozen=True)
class FeatureStats:
    """The mean (F,) and covariance (F, F) of N feature vectors, float64."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


def feature_stats(features: Tensor | np.ndarray) -> FeatureStats:
    """Mean and unbiased covariance (divided by N - 1, as ``np.cov``) of features (N, F)."""
    f = np.asarray(features.detach().cpu() if isinstance(features, Tensor) else features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be (N, F) with N >= 2, got shape {f.shape}")
    mean = f.mean(axis=0)
    centred = f - mean
    # C = (f - mu)^T (f - mu) / (N - 1)
    return FeatureStats(mean, centred.T @ centred / (f.shape[0] - 1), f.shape[0])


def sqrtm_psd(c: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix: V diag(sqrt l) V^T."""
    values, vectors = np.linalg.eigh((c + c.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """d^2 between N(a.mean, a.cov) and N(b.mean, b.cov) (the FID when both come from image features)."""
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"feature sizes differ: {a.mean.shape} and {b.mean.shape}")
    root = sqrtm_psd(a.cov)
    # tr (C_1^{1/2} C_2 C_1^{1/2})^{1/2} = sum_i sqrt(eigenvalue_i)
    middle = np.linalg.eigvalsh((root @ b.cov @ root + (root @ b.cov @ root).T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(middle, 0.0, None)).sum())
    # d^2 = |mu_1 - mu_2|^2 + tr C_1 + tr C_2 - 2 tr (C_1^{1/2} C_2 C_1^{1/2})^{1/2}
    d2 = float(np.sum((a.mean - b.mean) ** 2)) + float(np.trace(a.cov) + np.trace(b.cov)) - 2.0 * trace_sqrt
    return max(d2, 0.0)


@dataclass(frozen=True)
class Coverage:
    """How samples spread over C classes: the share of each, its entropy (nats) and the smallest share."""

    shares: np.ndarray  # (C,), summing to 1
    entropy: float  # -sum_c p_c log p_c, at most log C
    min_share: float

    @property
    def normalized_entropy(self) -> float:
        """entropy / log C: 1 for an even spread, 0 for a single class."""
        return self.entropy / float(np.log(len(self.shares)))

    @property
    def missing(self) -> list[int]:
        """The classes no sample fell in."""
        return [int(c) for c in np.flatnonzero(self.shares == 0)]


def class_coverage(predicted: Tensor | np.ndarray, classes: int) -> Coverage:
    """Coverage of the predicted classes (N,) over ``classes`` classes."""
    p = np.asarray(predicted.cpu() if isinstance(predicted, Tensor) else predicted, dtype=np.int64)
    if p.size == 0:
        raise ValueError("no samples to measure")
    if p.min() < 0 or p.max() >= classes:
        raise ValueError(f"predicted classes must lie in 0..{classes - 1}, got {p.min()}..{p.max()}")
    shares = np.bincount(p, minlength=classes) / p.size
    nonzero = shares[shares > 0]
    # H = -sum_c p_c log p_c (0 log 0 = 0)
    return Coverage(shares, float(-(nonzero * np.log(nonzero)).sum()) + 0.0, float(shares.min()))  # + 0.0: no -0.0 for one class
