"""Training a VAE on the shared epoch loop (:mod:`deepkata.core.trainer`).

Each update draws its batch's bits anew from the grey levels (dynamic binarization) and
minimizes the negative ELBO per image (nats), or the beta-VAE's objective; the ELBO of the
validation images (binarized once) is measured after every epoch, one sample of z each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deepkata.core.config import param
from deepkata.core.trainer import EpochRecipe, EpochTrainer
from deepkata.generative.images import binarize
from deepkata.generative.vae import VAE, bernoulli_log_likelihood, elbo, gaussian_kl, reparameterize

__all__ = ["VaeRecipe", "VaeTrainer", "mean_elbo"]


@dataclass(frozen=True, kw_only=True)
class VaeRecipe(EpochRecipe):
    """Adam at 1e-3 with a short warm-up and cosine decay, batches of 100, no weight decay."""

    epochs: int = param(20, "passes over the training images", gt=0)
    batch: int = param(100, "images per update", gt=0)
    lr: float = param(1e-3, "peak learning rate", gt=0, le=10)
    weight_decay: float = param(0.0, "weight decay on the weights (not on biases)", ge=0)
    warmup: float = param(0.02, "share of the updates over which the learning rate ramps up", ge=0, lt=1)
    chunk: int = param(50, "batches per engine step (a checkpoint may follow each)", gt=0)
    beta: float = param(1.0, "weight of the KL term (1: the VAE's ELBO; > 1: a beta-VAE)", gt=0, le=100)


@torch.no_grad()
def mean_elbo(model: VAE, bits: torch.Tensor, *, batch: int = 500, seed: int = 0) -> dict[str, float]:
    """The mean ELBO, reconstruction term and KL over binary images (N, C, S, S), one z each, drawn
    from a generator of its own (``seed``), so that measuring leaves the training's draws alone."""
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    totals = torch.zeros(3, dtype=torch.float64, device="cpu")  # summed on the CPU
    for x in bits.split(batch):
        x = x.float().to(device)
        mu, logvar = model.encode(x)
        z = reparameterize(mu, logvar, torch.randn(mu.shape, generator=g, device=device))
        reconstruction, kl = bernoulli_log_likelihood(model.decode(z), x), gaussian_kl(mu, logvar)
        totals += torch.stack([(reconstruction - kl).double().sum(), reconstruction.double().sum(), kl.double().sum()]).cpu()
    bound, rec, kl_mean = (totals / len(bits)).tolist()
    return {"elbo": bound, "reconstruction": rec, "kl": kl_mean}


class VaeTrainer(EpochTrainer):
    """A VAE on grey images (N, C, S, S) in [0, 1]: minus the (beta-weighted) ELBO a batch."""

    cfg: VaeRecipe

    def __init__(self, model: VAE, cfg: VaeRecipe, train: torch.Tensor, val_bits: torch.Tensor, device: torch.device) -> None:
        super().__init__(model, cfg, len(train), device)
        self.vae, self.train, self.val_bits = model, train, val_bits

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        x = binarize(self.train[index]).to(self.device)  # dynamic binarization: new bits every time
        bound, reconstruction, kl = elbo(self.vae, x, beta=self.cfg.beta)
        # minimize -ELBO per image (nats)
        return -bound.mean(), {"reconstruction": float(reconstruction.detach().mean()), "kl": float(kl.detach().mean())}

    def measure(self, last: bool) -> dict[str, float]:
        scores = mean_elbo(self.vae, self.val_bits, seed=self.epoch)
        return {"val_elbo": scores["elbo"], "val_kl": scores["kl"]}

