"""The variational autoencoder: an encoder to a Gaussian over the latent, the reparameterization
trick, the ELBO, and the marginal likelihood by importance sampling.

Papers:
    Kingma & Welling, "Auto-encoding variational Bayes", ICLR 2014 (§2.3 the reparameterization
        trick and the SGVB estimator; Appendix B the KL divergence of two Gaussians in closed
        form; Appendix C.1 the Bernoulli MLP decoder).
    Burda, Grosse & Salakhutdinov, "Importance weighted autoencoders", ICLR 2016 (Eq. 8 the
        k-sample bound L_k, which never decreases with k and tends to log p(x); §5 the test
        log-likelihood of MNIST models estimated with k = 5,000).
    Higgins et al., "beta-VAE", ICLR 2017 (the KL term weighted by beta).

Notation: x an image of D pixels in {0, 1} (binarized), z a latent vector of J dimensions, the
prior p(z) = N(0, I), the encoder q(z | x) = N(mu(x), diag sigma^2(x)) (it outputs mu and
log sigma^2), the decoder p(x | z) = prod_d Bernoulli(x_d; sigmoid(f_d(z))) (it outputs the
logits f). The evidence lower bound of one image::

    log p(x) >= ELBO = E_q[log p(x | z)] - KL(q(z | x) || p(z))

with z = mu + sigma * eps, eps ~ N(0, I) (the reparameterization: the sample is a
differentiable function of the encoder's outputs) and the KL in closed form,
KL = 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2). Importance sampling with q as the
proposal estimates the likelihood itself::

    log p(x) ~ L_k = log (1/k) sum_i p(x, z_i) / q(z_i | x),   z_i ~ q(z | x)

L_1 is the ELBO (in expectation); E[L_k] <= E[L_{k+1}] <= log p(x). Reported as the negative
log-likelihood in nats (lower is better).

Two networks (``vae-mlp``, ``vae-conv``) for 1 x S x S images: an MLP with tanh hidden layers
(Kingma & Welling's) and a convolutional one (two stride-2 3x3 convolutions down, two stride-2
transposed convolutions up, ReLU). Shapes: B images, C x S x S pixels, J latent dimensions, K
importance samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.models.registry import register_model

__all__ = [
    "ConvVAE",
    "ConvVAEConfig",
    "MlpVAE",
    "MlpVAEConfig",
    "VAE",
    "bernoulli_log_likelihood",
    "elbo",
    "gaussian_kl",
    "importance_log_likelihood",
    "log_normal",
    "reparameterize",
]

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
    """z = mu + sigma * eps with sigma = exp(logvar / 2) and eps ~ N(0, I) (drawn when not given);
    mu, logvar (..., J), eps broadcastable to them (a leading K axis draws K samples)."""
    if eps is None:
        eps = torch.randn_like(mu)
    # z = mu + sigma eps: differentiable in mu and logvar, the randomness all in eps
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) in closed form, summed over the last axis: (...,)."""
    # KL = 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2)
    return 0.5 * (logvar.exp() + mu.square() - 1.0 - logvar).sum(-1)


def log_normal(z: Tensor, mu: Tensor | None = None, logvar: Tensor | None = None) -> Tensor:
    """log N(z; mu, diag exp(logvar)) summed over the last axis (standard normal when mu and logvar are None): (...,)."""
    if mu is None or logvar is None:
        # log N(z; 0, I) = -1/2 sum_j (log 2 pi + z_j^2)
        return -0.5 * (LOG_2PI + z.square()).sum(-1)
    # log N(z; mu, sigma^2) = -1/2 sum_j (log 2 pi + log sigma_j^2 + (z_j - mu_j)^2 / sigma_j^2)
    return -0.5 * (LOG_2PI + logvar + (z - mu).square() * torch.exp(-logvar)).sum(-1)


def bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x | z) = sum_d [x_d log s(f_d) + (1 - x_d) log(1 - s(f_d))], s the sigmoid, summed over
    the pixels: logits (..., B, C, S, S) (a leading K axis for K samples of z), x (B, C, S, S) -> (..., B)."""
    x = x.expand_as(logits)
    # -BCE with logits, stable for large |f|
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(-3).sum(-1)


def importance_log_likelihood(
    mu: Tensor, logvar: Tensor, log_likelihood: Callable[[Tensor], Tensor], k: int, *, chunk: int = 500, generator: torch.Generator | None = None
) -> Tensor:
    """L_k = log (1/k) sum_i p(x, z_i) / q(z_i | x) with z_i ~ q = N(mu, diag exp(logvar)), per item.

    mu, logvar (B, J); ``log_likelihood(z)`` maps samples z (K', B, J) to log p(x | z) (K', B).
    The k samples are drawn ``chunk`` at a time and combined by log-sum-exp, so k = 5,000 fits in
    memory. Returns (B,); with q the exact posterior every weight equals p(x), and L_k = log p(x)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    parts = []
    for start in range(0, k, chunk):
        n = min(chunk, k - start)
        eps = torch.randn((n, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)  # (K', B, J)
        z = reparameterize(mu, logvar, eps)
        # log w = log p(x | z) + log p(z) - log q(z | x): (K', B)
        parts.append(log_likelihood(z) + log_normal(z) - log_normal(z, mu, logvar))
    log_w = torch.cat(parts)  # (K, B)
    # log (1/k) sum_i w_i, computed as logsumexp - log k
    return torch.logsumexp(log_w, dim=0) - math.log(k)


class VAE(nn.Module):
    """An encoder ``encode(x) -> (mu, logvar)`` and a decoder ``decode(z) -> logits``; subclasses give both."""

    latent: int
    image_shape: tuple[int, int, int]

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:  # x (B, C, S, S) -> mu, logvar (B, J)
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:  # z (..., J) -> logits (..., C, S, S)
        raise NotImplementedError

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One reparameterized sample: logits (B, C, S, S), mu and logvar (B, J)."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """Pixel probabilities of n images decoded from the prior: (n, C, S, S)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent, generator=generator, device=device)
        return torch.sigmoid(self.decode(z))

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, k: int, *, chunk: int = 500, generator: torch.Generator | None = None) -> Tensor:
        """The importance-sampled estimate L_k of log p(x) for binary images x (B, C, S, S): (B,)."""
        mu, logvar = self.encode(x)
        b = x.shape[0]

        def log_px_given_z(z: Tensor) -> Tensor:  # z (K', B, J) -> (K', B)
            logits = self.decode(z.reshape(-1, self.latent)).reshape(z.shape[0], b, *self.image_shape)
            return bernoulli_log_likelihood(logits, x)

        return importance_log_likelihood(mu, logvar, log_px_given_z, k, chunk=chunk, generator=generator)


def elbo(model: VAE, x: Tensor, *, beta: float = 1.0) -> tuple[Tensor, Tensor, Tensor]:
    """The single-sample ELBO per image, E_q[log p(x | z)] - beta KL, and its two terms: each (B,).
    beta = 1 is the VAE's bound; beta > 1 the beta-VAE's objective (no longer a bound on log p(x))."""
    logits, mu, logvar = model(x)
    reconstruction = bernoulli_log_likelihood(logits, x)  # (B,)
    kl = gaussian_kl(mu, logvar)  # (B,)
    return reconstruction - beta * kl, reconstruction, kl


# --------------------------------------------------------------------------------------------
# the two networks
# --------------------------------------------------------------------------------------------


# the fields both networks declare, each declared once
def _side(note: str = "", smallest: int = 2) -> Any:
    return param(28, f"height and width of the images{note}", ge=smallest, le=256)


def _channels() -> Any:
    return param(1, "image channels", ge=1, le=4)


def _latent() -> Any:
    return param(32, "latent dimensions J", ge=1, le=1024)


@dataclass(frozen=True, kw_only=True)
class MlpVAEConfig(Config):
    """Kingma & Welling's MLP VAE: tanh hidden layers, the decoder mirroring the encoder."""

    side: int = _side()
    channels: int = _channels()
    latent: int = _latent()
    hidden: tuple[int, ...] = param((500, 500), "widths of the encoder's hidden layers (the decoder's, reversed)", ge=1, le=8192)


class MlpVAE(VAE):
    """``encoder`` (MLP), ``mu`` and ``logvar`` heads, ``decoder`` (MLP to logits)."""

    def __init__(self, cfg: MlpVAEConfig) -> None:
        super().__init__()
        self.cfg, self.latent = cfg, cfg.latent
        self.image_shape = (cfg.channels, cfg.side, cfg.side)
        pixels = cfg.channels * cfg.side * cfg.side
        widths = (pixels, *cfg.hidden)
        self.encoder = nn.Sequential(*[m for a, b in zip(widths, widths[1:]) for m in (nn.Linear(a, b), nn.Tanh())])
        self.mu, self.logvar = nn.Linear(widths[-1], cfg.latent), nn.Linear(widths[-1], cfg.latent)
        back = (cfg.latent, *reversed(cfg.hidden))
        self.decoder = nn.Sequential(*[m for a, b in zip(back, back[1:]) for m in (nn.Linear(a, b), nn.Tanh())], nn.Linear(back[-1], pixels))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x.flatten(1))  # (B, H)
        return self.mu(h), self.logvar(h)  # (B, J) each

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z).unflatten(-1, self.image_shape)  # (..., C, S, S)


@dataclass(frozen=True, kw_only=True)
class ConvVAEConfig(Config):
    """A convolutional VAE: two stride-2 convolutions down, two stride-2 transposed convolutions up."""

    side: int = _side(" (a multiple of 4)", 4)
    channels: int = _channels()
    latent: int = _latent()
    widths: tuple[int, ...] = param((32, 64), "channels after the first and the second convolution", ge=1, le=1024)
    hidden: int = param(256, "width of the fully connected layer on either side of the latent", ge=1, le=8192)

    def validate(self) -> None:
        if self.side % 4:
            raise ConfigError(f"side: two stride-2 convolutions need a multiple of 4, got {self.side}")
        if len(self.widths) != 2:
            raise ConfigError(f"widths: one for each of the two convolutions, got {len(self.widths)}")


class ConvVAE(VAE):
    """``encoder`` (convs, flatten, linear), ``mu`` and ``logvar`` heads, ``project`` and ``decoder`` (transposed convs)."""

    def __init__(self, cfg: ConvVAEConfig) -> None:
        super().__init__()
        self.cfg, self.latent = cfg, cfg.latent
        self.image_shape = (cfg.channels, cfg.side, cfg.side)
        a, b = cfg.widths
        quarter = cfg.side // 4
        self.encoder = nn.Sequential(
            nn.Conv2d(cfg.channels, a, 3, stride=2, padding=1), nn.ReLU(),  # (B, a, S/2, S/2)
            nn.Conv2d(a, b, 3, stride=2, padding=1), nn.ReLU(),  # (B, b, S/4, S/4)
            nn.Flatten(), nn.Linear(b * quarter * quarter, cfg.hidden), nn.ReLU(),
        )  # fmt: skip
        self.mu, self.logvar = nn.Linear(cfg.hidden, cfg.latent), nn.Linear(cfg.hidden, cfg.latent)
        self.project = nn.Sequential(nn.Linear(cfg.latent, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, b * quarter * quarter), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(b, a, 4, stride=2, padding=1), nn.ReLU(),  # (B, a, S/2, S/2)
            nn.ConvTranspose2d(a, cfg.channels, 4, stride=2, padding=1),  # (B, C, S, S) logits
        )  # fmt: skip

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)  # (B, hidden)
        return self.mu(h), self.logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        lead = z.shape[:-1]
        h = self.project(z.reshape(-1, self.latent)).unflatten(-1, (self.cfg.widths[1], self.cfg.side // 4, self.cfg.side // 4))
        return self.decoder(h).reshape(*lead, *self.image_shape)  # (..., C, S, S)


@register_model("vae-mlp", config=MlpVAEConfig, topic="generative")
def vae_mlp(cfg: MlpVAEConfig) -> MlpVAE:
    """A VAE with MLP encoder and decoder (Kingma & Welling 2014): tanh layers, Bernoulli pixels."""
    return MlpVAE(cfg)


@register_model("vae-conv", config=ConvVAEConfig, topic="generative")
def vae_conv(cfg: ConvVAEConfig) -> ConvVAE:
    """A convolutional VAE: stride-2 convolutions down, stride-2 transposed convolutions up, Bernoulli pixels."""
    return ConvVAE(cfg)
