"""Training a VAE and a GAN on the shared epoch loop (:mod:`deepkata.core.trainer`).

VAE: each update draws its batch's bits anew from the grey levels (dynamic binarization) and
minimizes the negative ELBO per image (nats), or the beta-VAE's objective; the ELBO of the
validation images (binarized once) is measured after every epoch, one sample of z each.

GAN: two players, two optimizers, one update of each a batch (:class:`GanTrainer`).

WaveNet: teacher-forced cross-entropy over μ-law classes on random stretches of the recordings,
measured in bits per sample (:class:`WaveNetTrainer`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from deepkata.core.config import param
from deepkata.core.trainer import EpochRecipe, EpochTrainer
from deepkata.generative.gan import GAN, GanLoss, discriminator_loss, generator_loss
from deepkata.generative.images import binarize
from deepkata.generative.judge import Judge
from deepkata.generative.measures import FeatureStats
from deepkata.generative.vae import VAE, bernoulli_log_likelihood, elbo, gaussian_kl, reparameterize
from deepkata.generative.wavenet import SILENCE, WaveNet, teacher_inputs

__all__ = ["GanRecipe", "GanTrainer", "VaeRecipe", "VaeTrainer", "WaveNetRecipe", "WaveNetTrainer", "Waves", "bits_per_sample", "mean_elbo"]


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



@dataclass(frozen=True, kw_only=True)
class GanRecipe(EpochRecipe):
    """Radford et al.'s recipe: Adam at 2e-4 with beta_1 = 0.5 for both players, a constant rate, batches of 64."""

    epochs: int = param(20, "passes over the training images", gt=0)
    batch: int = param(64, "real images per update (and as many generated)", gt=0)
    optimizer: Literal["adam"] = param("adam", "Adam for both players (the only choice: GANs are trained with it)")
    lr: float = param(2e-4, "learning rate of both players", gt=0, le=1)
    beta1: float = param(0.5, "Adam's beta_1 (momentum); 0.5 damps the players' oscillation", ge=0, lt=1)
    weight_decay: float = param(0.0, "weight decay (none in DCGAN)", ge=0)
    warmup: float = param(0.0, "share of the updates over which the learning rate ramps up", ge=0, lt=1)
    schedule: Literal["cosine", "constant"] = param("constant", "after warm-up: constant (DCGAN) or cosine decay")
    loss: GanLoss = param("nonsaturating", "the generator's loss: minimax log(1 - D(G(z))) or non-saturating -log D(G(z))")
    chunk: int = param(50, "updates per engine step (a checkpoint may follow each)", gt=0)


class GanTrainer(EpochTrainer):
    """A GAN on grey images (N, 1, S, S) in [0, 1] (scaled to tanh's [-1, 1]): each update one step of
    D on a real and a generated batch, then one step of G on the same noise. The epoch's means of
    both losses, D(x) and D(G(z)) are logged; at each epoch's end the samples of a fixed noise are
    kept (the grid per epoch) and, with a judge, ``samples`` new ones are scored against the
    validation images: classifier-FID and class coverage."""

    cfg: GanRecipe

    def __init__(
        self, model: GAN, cfg: GanRecipe, train: torch.Tensor, device: torch.device, *,
        judge: Judge | None = None, reference: FeatureStats | None = None, samples: int = 1000, grid: int = 64, seed: int = 0,
    ) -> None:  # fmt: skip
        self.gan = model
        super().__init__(model, cfg, len(train), device)
        self.train, self.judge, self.reference, self.samples, self.seed = train, judge, reference, samples, seed
        self.fixed = model.noise(grid, generator=torch.Generator(device=device).manual_seed(seed), device=device)  # (grid, latent)
        self.grids: list[torch.Tensor] = []  # uint8 (grid, 1, S, S) at each epoch's end

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = (self.cfg.beta1, 0.999)
        return {
            "discriminator": torch.optim.Adam(self.gan.discriminator.parameters(), lr=self.cfg.lr, betas=betas, weight_decay=self.cfg.weight_decay),
            "generator": torch.optim.Adam(self.gan.generator.parameters(), lr=self.cfg.lr, betas=betas, weight_decay=self.cfg.weight_decay),
        }  # fmt: skip

    def update(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """D then G. The loss returned (for divergence) is L_D + L_G; the parts are logged apart."""
        gan, opts = self.gan, self.optimizers
        real = self.train[index].to(self.device) * 2 - 1  # [0, 1] -> [-1, 1]
        fake = gan.generator(gan.noise(len(index), device=self.device))  # (B, 1, S, S)
        # D ascends V: -log D(x) - log(1 - D(G(z))), the samples detached from G
        real_logits, fake_logits = gan.discriminate(real), gan.discriminate(fake.detach())
        loss_d = discriminator_loss(real_logits, fake_logits)
        if not torch.isfinite(loss_d):
            return loss_d, {}
        opts["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        opts["discriminator"].step()
        # G descends its loss on the updated D's view of the same samples
        loss_g = generator_loss(gan.discriminate(fake), self.cfg.loss)
        if not torch.isfinite(loss_g):
            return loss_g, {}
        opts["generator"].zero_grad(set_to_none=True)
        loss_g.backward()
        opts["generator"].step()
        parts = {"d_loss": float(loss_d.detach()), "g_loss": float(loss_g.detach()),
                 "d_real": float(torch.sigmoid(real_logits.detach()).mean()), "d_fake": float(torch.sigmoid(fake_logits.detach()).mean())}  # fmt: skip
        return (loss_d + loss_g).detach(), parts

    @torch.no_grad()
    def measure(self, last: bool) -> dict[str, float]:
        gan = self.gan
        gan.eval()
        self.grids.append(((gan.generator(self.fixed) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu())
        gan.train()
        if self.judge is None or self.reference is None:
            return {}
        images = gan.sample(self.samples, generator=torch.Generator(device=self.device).manual_seed(self.seed * 1000 + self.epoch))
        fid, coverage = self.judge.score(images, self.reference)
        return {"val_fid": fid, "coverage_entropy": coverage.normalized_entropy, "min_class_share": coverage.min_share, "missing_classes": float(len(coverage.missing))}

    def outputs(self) -> dict[str, Any]:
        return {"grids": list(self.grids)}

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"grids": list(self.grids)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.grids = list(state["grids"])


@dataclass(frozen=True, kw_only=True)
class WaveNetRecipe(EpochRecipe):
    """AdamW at 3e-3 (chosen on the validation tones over 1e-3) with warm-up and cosine decay; a batch is a random window of each of ``batch`` recordings."""

    epochs: int = param(10, "passes over the training recordings (one random window of each a pass)", gt=0)
    batch: int = param(8, "recordings per update", gt=0)
    window: int = param(500, "samples predicted per recording and update (its receptive field is fed before them)", ge=16)
    lr: float = param(3e-3, "peak learning rate", gt=0, le=1)
    weight_decay: float = param(0.0, "weight decay on the weights (not on biases)", ge=0)
    warmup: float = param(0.02, "share of the updates over which the learning rate ramps up", ge=0, lt=1)
    chunk: int = param(10, "updates per engine step (a checkpoint may follow each)", gt=0)


@dataclass(frozen=True)
class Waves:
    """Recordings as μ-law classes (int64, each its own length) with their digit and speaker ids (0: unknown)."""

    classes: list[torch.Tensor]
    digits: torch.Tensor  # (N,)
    speakers: torch.Tensor  # (N,)

    def __len__(self) -> int:
        return len(self.classes)


def wave_batches(waves: Waves, batch: int = 16) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(targets (B, T) padded with -100, inputs (B, T), digits, speakers) over whole recordings, longest first."""
    order = sorted(range(len(waves)), key=lambda i: -len(waves.classes[i]))
    for start in range(0, len(order), batch):
        pick = order[start : start + batch]
        targets = torch.nn.utils.rnn.pad_sequence([waves.classes[i] for i in pick], batch_first=True, padding_value=-100)
        yield targets, teacher_inputs(targets.clamp_min(0)), waves.digits[pick], waves.speakers[pick]


@torch.no_grad()
def bits_per_sample(model: WaveNet, waves: Waves, device: torch.device, *, batch: int = 16) -> float:
    """The mean negative log-likelihood of every sample of every recording, in bits (log base 2)."""
    model.eval()
    nats, count = 0.0, 0
    for targets, inputs, digits, speakers in wave_batches(waves, batch):
        logits = model(inputs.to(device), digits.to(device), speakers.to(device))  # (B, 256, T)
        nats += float(F.cross_entropy(logits, targets.to(device), ignore_index=-100, reduction="sum"))
        count += int((targets >= 0).sum())
    return nats / count / math.log(2)


class WaveNetTrainer(EpochTrainer):
    """A WaveNet on μ-law recordings: each update predicts ``window`` samples of a random stretch of
    each of ``batch`` recordings, the receptive field before the stretch fed as context (the
    silence class before a recording's start); validation bits per sample after each epoch."""

    cfg: WaveNetRecipe

    def __init__(self, model: WaveNet, cfg: WaveNetRecipe, train: Waves, val: Waves, device: torch.device, *, speaker_dropout: float = 0.1) -> None:
        super().__init__(model, cfg, len(train), device)
        self.net, self.train, self.val, self.speaker_dropout = model, train, val, speaker_dropout
        self.context = model.receptive_field - 1

    def windows(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Inputs (B, T) and targets (B, T) (-100: no loss) of a random stretch of ``window`` samples of
        each recording ``index``, and the stretches' starts."""
        w, context = self.cfg.window, self.context
        targets, inputs, starts = [], [], []
        for i in index.tolist():
            q = self.train.classes[i]
            start = int(torch.randint(0, max(1, len(q) - w + 1), (), device="cpu"))
            lo = max(0, start - context)
            inputs.append(teacher_inputs(q[lo : start + w].unsqueeze(0))[0] if lo == 0 else q[lo - 1 : start + w - 1])
            targets.append(torch.cat([torch.full((start - lo,), -100, dtype=torch.long, device="cpu"), q[start : start + w]]))  # no loss on the context
            starts.append(start)
        # before a recording's start the causal padding's zeros, as when it is scored whole; padded on
        # the right, which no earlier output sees (causality), the padding's targets ignored
        x = torch.nn.utils.rnn.pad_sequence(inputs, batch_first=True, padding_value=SILENCE)
        y = torch.nn.utils.rnn.pad_sequence(targets, batch_first=True, padding_value=-100)
        return x, y, starts

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        x, y, _ = self.windows(index)
        x, y = x.to(self.device), y.to(self.device)
        speakers = self.train.speakers[index].clone()
        if self.net.speaker is not None and self.speaker_dropout > 0:  # teach the unknown speaker (id 0) too
            speakers[torch.rand(len(index), device="cpu") < self.speaker_dropout] = 0
        logits = self.net(x, self.train.digits[index].to(self.device), speakers.to(self.device))
        loss = F.cross_entropy(logits, y, ignore_index=-100)
        return loss, {"bits": float(loss.detach()) / math.log(2)}

    def measure(self, last: bool) -> dict[str, float]:
        return {"val_bits": bits_per_sample(self.net, self.val, self.device)}
