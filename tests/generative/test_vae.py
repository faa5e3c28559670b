"""The VAE's parts against torch.distributions (float64) and against closed forms.

- :func:`gaussian_kl` equals ``kl_divergence(Normal, Normal(0, 1))`` to 1e-12 and a Monte Carlo
  estimate of E_q[log q - log p] within 4 standard errors.
- :func:`log_normal` and :func:`bernoulli_log_likelihood` equal ``Normal.log_prob`` and
  ``Bernoulli.log_prob`` summed; the reparameterized sample has the right gradients and moments.
- :func:`importance_log_likelihood` on a linear-Gaussian model, whose log p(x) is known in closed
  form: exact for every k with the exact posterior as the proposal; with a worse proposal L_k
  rises with k towards log p(x) and never above it on average.
- Both networks: shapes, registry, the ELBO below the importance estimate, and training raises the ELBO.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, MultivariateNormal, Normal, kl_divergence

from deepkata.core.errors import ConfigError
from deepkata.generative import vae as vae_module  # imported directly: the import registers the models
from deepkata.generative.vae import (
    ConvVAE,
    ConvVAEConfig,
    MlpVAE,
    MlpVAEConfig,
    bernoulli_log_likelihood,
    elbo,
    gaussian_kl,
    importance_log_likelihood,
    log_normal,
    reparameterize,
)
from deepkata.models.registry import get_model

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_kl_closed_form_equals_torch_distributions() -> None:
    g = gen(0)
    mu, logvar = torch.randn(5, 7, generator=g, dtype=F64), torch.randn(5, 7, generator=g, dtype=F64)
    want = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), want, atol=1e-12, rtol=0)
    # zero exactly at the prior itself
    assert gaussian_kl(torch.zeros(3, dtype=F64), torch.zeros(3, dtype=F64)).item() == 0.0


def test_kl_closed_form_equals_monte_carlo() -> None:
    g = gen(1)
    mu, logvar = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.4]], dtype=F64), torch.tensor([[-1.0, 0.5, 0.0], [1.2, -2.0, 0.1]], dtype=F64)
    n = 400_000
    z = reparameterize(mu, logvar, torch.randn(n, *mu.shape, generator=g, dtype=F64))  # (n, 2, 3)
    # KL = E_q[log q(z) - log p(z)]
    samples = log_normal(z, mu, logvar) - log_normal(z)  # (n, 2)
    estimate, se = samples.mean(0), samples.std(0) / math.sqrt(n)
    closed = gaussian_kl(mu, logvar)
    assert ((estimate - closed).abs() < 4 * se).all(), (estimate, closed, se)
    assert (se < 0.01).all()  # a test that could tell a wrong formula from a right one


def test_log_densities_equal_torch_distributions() -> None:
    g = gen(2)
    z, mu, logvar = (torch.randn(4, 6, generator=g, dtype=F64) for _ in range(3))
    torch.testing.assert_close(log_normal(z, mu, logvar), Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1), atol=1e-12, rtol=0)
    torch.testing.assert_close(log_normal(z), Normal(0.0, 1.0).log_prob(z).sum(-1), atol=1e-12, rtol=0)
    logits = 5 * torch.randn(3, 2, 1, 4, 4, generator=g, dtype=F64)  # K = 3 samples of B = 2 images
    x = (torch.rand(2, 1, 4, 4, generator=g, dtype=F64) < 0.5).to(F64)
    want = Bernoulli(logits=logits).log_prob(x.expand_as(logits)).sum((-3, -2, -1))
    got = bernoulli_log_likelihood(logits, x)
    assert got.shape == (3, 2)
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


def test_the_reparameterized_sample() -> None:
    mu = torch.tensor([1.0, -2.0], dtype=F64, requires_grad=True)
    logvar = torch.tensor([0.4, -1.0], dtype=F64, requires_grad=True)
    eps = torch.tensor([0.3, -1.5], dtype=F64)
    z = reparameterize(mu, logvar, eps)
    z.sum().backward()
    # dz/dmu = 1, dz/dlogvar = eps sigma / 2
    torch.testing.assert_close(mu.grad, torch.ones(2, dtype=F64))
    torch.testing.assert_close(logvar.grad, eps * (0.5 * logvar.detach()).exp() / 2)
    many = reparameterize(mu.detach(), logvar.detach(), torch.randn(200_000, 2, generator=gen(3), dtype=F64))
    torch.testing.assert_close(many.mean(0), mu.detach(), atol=0.01, rtol=0)
    torch.testing.assert_close(many.var(0), logvar.detach().exp(), atol=0.01, rtol=0.01)


# a linear-Gaussian model: p(z) = N(0, I), p(x | z) = N(W z + b, s^2 I), so p(x) = N(b, W W^T + s^2 I);
# W's columns orthogonal, so the exact posterior N((I + W^T W / s^2)^-1 W^T (x - b) / s^2, (I + W^T W / s^2)^-1) is diagonal
D, J, S2 = 6, 3, 0.3


def linear_gaussian(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = gen(seed)
    q, _ = torch.linalg.qr(torch.randn(D, J, generator=g, dtype=F64))
    w = q * torch.tensor([2.0, 1.0, 0.5], dtype=F64)  # (D, J), W^T W = diag(4, 1, 0.25)
    b = torch.randn(D, generator=g, dtype=F64)
    x = torch.randn(5, D, generator=g, dtype=F64) * 2
    return w, b, x


def exact(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log p(x) (B,), and the exact posterior's mean and log-variance (B, J)."""
    log_px = MultivariateNormal(b, w @ w.T + S2 * torch.eye(D, dtype=F64)).log_prob(x)
    precision = 1 + (w * w).sum(0) / S2  # diagonal of I + W^T W / s^2
    mu = ((x - b) @ w / S2) / precision
    return log_px, mu, -precision.log().expand_as(mu)


def gaussian_likelihood(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor):  # type: ignore[no-untyped-def]
    return lambda z: Normal(z @ w.T + b, math.sqrt(S2)).log_prob(x).sum(-1)  # z (K, B, J) -> (K, B)


def test_importance_sampling_is_exact_with_the_exact_posterior() -> None:
    w, b, x = linear_gaussian(4)
    log_px, mu, logvar = exact(w, b, x)
    for k, chunk in ((1, 500), (7, 3), (1000, 256)):
        got = importance_log_likelihood(mu, logvar, gaussian_likelihood(w, b, x), k, chunk=chunk, generator=gen(5))
        torch.testing.assert_close(got, log_px, atol=1e-10, rtol=0)


def test_the_bound_rises_with_k_towards_log_px() -> None:
    w, b, x = linear_gaussian(6)
    log_px, mu, logvar = exact(w, b, x)
    # a worse proposal: the mean shifted, the variance doubled
    mu_q, logvar_q = mu + 0.5, logvar + math.log(2.0)
    likelihood = gaussian_likelihood(w, b, x)
    # E[L_1] is the ELBO, log p(x) - KL(q || posterior): the mean of log w over many single samples
    z = reparameterize(mu_q, logvar_q, torch.randn(100_000, *mu.shape, generator=gen(7), dtype=F64))  # (n, B, J)
    log_w = likelihood(z) + log_normal(z) - log_normal(z, mu_q, logvar_q)  # (n, B)
    kl_to_posterior = kl_divergence(Normal(mu_q, (0.5 * logvar_q).exp()), Normal(mu, (0.5 * logvar).exp())).sum(-1)
    assert ((log_w.mean(0) - (log_px - kl_to_posterior)).abs() < 4 * log_w.std(0) / math.sqrt(len(log_w))).all()
    # E[L_k] <= log p(x), rising with k: the gap to log p(x) shrinks from the KL towards zero
    means = [torch.stack([importance_log_likelihood(mu_q, logvar_q, likelihood, k, generator=gen(100 + r)) for r in range(40)]).mean(0)
             for k in (10, 100, 1000)]  # fmt: skip
    gaps = [kl_to_posterior, *(log_px - m for m in means)]
    for tighter, looser in zip(gaps[1:], gaps, strict=False):
        assert (tighter < looser).all()
    assert (gaps[-1] > -0.02).all() and (gaps[-1] < 0.05).all()


@pytest.mark.parametrize("name", ["vae-mlp", "vae-conv"])
def test_the_networks(name: str) -> None:
    torch.manual_seed(0)
    model = get_model(name).build(latent=4)
    x = (torch.rand(3, 1, 28, 28) < 0.3).float()
    logits, mu, logvar = model(x)
    assert logits.shape == (3, 1, 28, 28) and mu.shape == logvar.shape == (3, 4)
    assert model.decode(torch.randn(5, 3, 4)).shape == (5, 3, 1, 28, 28)  # a leading K axis
    assert model.sample(6, generator=gen(0)).shape == (6, 1, 28, 28)
    bound, reconstruction, kl = elbo(model, x)
    assert bound.shape == (3,) and (kl >= 0).all()
    torch.testing.assert_close(bound, reconstruction - kl)
    # L_k >= ELBO on average; with k = 200 on an untrained model clearly so
    estimate = model.log_likelihood(x, 200, chunk=64, generator=gen(1))
    assert (estimate > bound.detach() - 1.0).all()


def test_training_raises_the_elbo_and_beta_weights_the_kl() -> None:
    torch.manual_seed(0)
    x = (torch.rand(64, 1, 8, 8) < torch.linspace(0.05, 0.95, 64).view(1, 1, 8, 8)).float()
    model = MlpVAE(MlpVAEConfig(side=8, latent=2, hidden=(32,)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = elbo(model, x)[0].mean().item()
    for _ in range(150):
        loss = -elbo(model, x)[0].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.manual_seed(1)
    trained = elbo(model, x)[0].mean().item()
    assert trained > first + 5
    torch.manual_seed(2)
    b1, r1, k1 = elbo(model, x, beta=1.0)
    torch.manual_seed(2)
    b4, r4, k4 = elbo(model, x, beta=4.0)
    torch.testing.assert_close(b4, r4 - 4 * k4)
    torch.testing.assert_close(k1, k4)


def test_configs_refuse_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="multiple of 4"):
        ConvVAE(ConvVAEConfig(side=30))
    assert vae_module.__name__ == "deepkata.generative.vae"
    assert isinstance(get_model("vae-conv").build(), ConvVAE)
