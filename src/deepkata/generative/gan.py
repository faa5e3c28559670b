"""Generative adversarial networks: the two-player game, its two generator losses, an MLP GAN and a DCGAN.

Papers:
    Goodfellow et al., "Generative adversarial nets", NeurIPS 2014 (the minimax game, the
        non-saturating generator loss, the optimal discriminator).
    Radford, Metz & Chintala, "Unsupervised representation learning with deep convolutional
        generative adversarial networks", ICLR 2016 (DCGAN: the architecture rules and Adam at
        2e-4 with beta_1 = 0.5, weights drawn from N(0, 0.02)).

The game. A generator G maps noise z ~ N(0, I) to an image; a discriminator D gives the
probability D(x) = sigmoid(l(x)) that x is real, l its logit. The value of the game::

    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]

D ascends V: its loss is binary cross-entropy, real images labelled 1 and generated ones 0::

    L_D = -log sigmoid(l(x)) - log(1 - sigmoid(l(G(z)))) = softplus(-l(x)) + softplus(l(G(z)))

G descends V (**minimax**): L_G = log(1 - D(G(z))) = -softplus(l(G(z))). Early in training D
rejects the samples easily (l << 0), where dL_G/dl = -sigmoid(l) -> 0: the generator's gradient
vanishes. The **non-saturating** loss maximizes log D(G(z)) instead, L_G = softplus(-l(G(z))),
whose gradient -sigmoid(-l) -> -1 there; both losses have the same fixed point. For a fixed G
the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_G(x)); at p_G = p_data it is 1/2
everywhere, where L_D = 2 log 2 (V = -log 4).

The sigmoid is folded into the losses (softplus of the logit) rather than applied as a layer:
the same function, without the log of a probability that rounds to 0.

Shapes: z (B, latent); images (B, 1, S, S) in [-1, 1] (tanh); logits (B,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.models import register_model

__all__ = ["DCGAN", "GAN", "GanLoss", "MlpGAN", "discriminator_loss", "generator_loss"]

GanLoss = Literal["minimax", "nonsaturating"]


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_D = -log D(x) - log(1 - D(G(z))), averaged over each batch: softplus(-l_real) + softplus(l_fake)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: Tensor, kind: GanLoss) -> Tensor:
    """The generator's loss on D's logits of its samples: minimax log(1 - D(G(z))) = -softplus(l),
    or non-saturating -log D(G(z)) = softplus(-l); means over the batch."""
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"unknown generator loss {kind!r}; use minimax or nonsaturating")


@dataclass(frozen=True, kw_only=True)
class GanConfig(Config):
    side: int = param(28, "image side S (images are 1 x S x S)", ge=4, le=256)
    latent: int = param(64, "noise dimensions of z", ge=1, le=1024)
    width: int = param(64, "the networks' base width (hidden units or channels)", ge=4, le=2048)


class GAN(nn.Module):
    """A generator and a discriminator; ``sample`` draws images from the generator."""

    generator: nn.Module
    discriminator: nn.Module

    def __init__(self, cfg: GanConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def noise(self, count: int, *, generator: torch.Generator | None = None, device: torch.device | None = None) -> Tensor:
        """z ~ N(0, I): (count, latent)."""
        device = device if device is not None else next(self.parameters()).device
        return torch.randn(count, self.cfg.latent, generator=generator, device=device)

    def discriminate(self, x: Tensor) -> Tensor:
        """D's logits l(x) (B,) for images (B, 1, S, S); D(x) = sigmoid(l)."""
        return self.discriminator(x).flatten()

    @torch.no_grad()
    def sample(self, count: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``count`` images (count, 1, S, S) in [0, 1] (the tanh output rescaled), in eval mode."""
        was = self.training
        self.eval()
        images = (self.generator(self.noise(count, generator=generator)) + 1) / 2
        self.train(was)
        return images


def _dcgan_init(module: nn.Module) -> None:
    """Radford et al.: every weight from N(0, 0.02); BatchNorm's gamma from N(1, 0.02), beta 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class MlpGAN(GAN):
    """Goodfellow et al.'s fully connected GAN::

        G: z -> [linear -> ReLU] x 2 (2w, 4w units) -> linear -> tanh -> (1, S, S)
        D: x -> [linear -> LeakyReLU(0.2)] x 2 (4w, 2w units) -> linear -> logit
    """

    def __init__(self, cfg: GanConfig) -> None:
        super().__init__(cfg)
        w, pixels = cfg.width, cfg.side * cfg.side
        self.generator = nn.Sequential(
            nn.Linear(cfg.latent, 2 * w), nn.ReLU(), nn.Linear(2 * w, 4 * w), nn.ReLU(), nn.Linear(4 * w, pixels), nn.Tanh(),
            nn.Unflatten(1, (1, cfg.side, cfg.side)),
        )  # fmt: skip
        self.discriminator = nn.Sequential(
            nn.Flatten(), nn.Linear(pixels, 4 * w), nn.LeakyReLU(0.2), nn.Linear(4 * w, 2 * w), nn.LeakyReLU(0.2), nn.Linear(2 * w, 1),
        )  # fmt: skip
        _dcgan_init(self)


class DCGAN(GAN):
    """Radford et al.'s rules at S x S (S a multiple of 4): no pooling, strided convolutions in D and
    transposed convolutions in G, BatchNorm in both (not on G's output nor D's input), ReLU in G
    with a tanh output, LeakyReLU(0.2) in D::

        G: z -> linear -> (2w, S/4, S/4) -> BN -> ReLU
             -> convT 4x4 /2 -> (w, S/2, S/2) -> BN -> ReLU -> convT 4x4 /2 -> (1, S, S) -> tanh
        D: x -> conv 4x4 /2 -> (w, S/2, S/2) -> LeakyReLU
             -> conv 4x4 /2 -> (2w, S/4, S/4) -> BN -> LeakyReLU -> linear -> logit
    """

    def __init__(self, cfg: GanConfig) -> None:
        super().__init__(cfg)
        if cfg.side % 4:
            raise ConfigError(f"side: a DCGAN needs a multiple of 4, got {cfg.side}")
        w, q = cfg.width, cfg.side // 4
        self.generator = nn.Sequential(
            nn.Linear(cfg.latent, 2 * w * q * q, bias=False), nn.Unflatten(1, (2 * w, q, q)), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1), nn.Tanh(),
        )  # fmt: skip
        self.discriminator = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * w * q * q, 1),
        )  # fmt: skip
        _dcgan_init(self)


@register_model("gan-mlp", config=GanConfig, topic="generative", example={"side": 28, "latent": 64, "width": 64})
def gan_mlp(cfg: GanConfig) -> MlpGAN:
    """Goodfellow et al.'s fully connected generator and discriminator."""
    return MlpGAN(cfg)


@register_model("dcgan", config=GanConfig, topic="generative", example={"side": 28, "latent": 64, "width": 64})
def dcgan(cfg: GanConfig) -> DCGAN:
    """Radford et al.'s convolutional generator (transposed convolutions) and discriminator (strided convolutions)."""
    return DCGAN(cfg)
