"""Training a translation model: token-budget batches, label smoothing, warmup, clipping, resume.

    loss = cross-entropy with label smoothing eps over the non-<pad> target tokens
    lr(step) = lr_max min(step / warmup, sqrt(warmup / step))     (warmup 0: constant lr_max)
             x decay^max(0, epoch - decay_after)                    (epoch counted from 1)
             x (1 - progress / planned)                             (anneal: to 0 at the planned end)

The inverse-square-root schedule is Vaswani et al.'s, written with its peak lr_max reached at
step ``warmup``; the per-epoch decay after ``decay_after`` epochs is the recurrent models' usual
end of training (Luong et al. 2015 halve the rate each epoch after the fifth). ``anneal`` lets
the rate fall linearly to 0 over the epochs the training plans (``Trainer.planned``), progress
counted in epochs with the batches of the current one: under a time budget, training that ends
at a learning rate near 0 scores better than one stopped midway down the schedule (Li, Yumer and
Ramanan, "Budgeted training", ICLR 2020).

Training advances one batch at a time. Each epoch's batches come from a generator seeded by
(seed, epoch), so an epoch interrupted after k batches resumes by rebuilding the same batches
and skipping k; with the global generators (dropout) restored by whoever saved the state (the
training engine), a resumed run ends with the same weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from deepkata.core.device import Precision, autocast
from deepkata.nlp.batching import Batch, batches
from deepkata.nlp.loss import projected_cross_entropy, smoothed_cross_entropy
from deepkata.nlp.vocab import Vocab


@dataclass(frozen=True)
class Schedule:
    lr: float = 5e-4  # peak learning rate
    warmup: int = 4000  # steps to reach it; 0 keeps it constant
    label_smoothing: float = 0.1
    clip: float = 1.0  # global gradient norm; 0 turns clipping off
    max_tokens: int = 4096  # padded target tokens per batch
    betas: tuple[float, float] = (0.9, 0.98)
    decay: float = 1.0  # factor per epoch after decay_after epochs; 1 keeps the schedule as it is
    decay_after: int = 0
    anneal: bool = False  # times the share of the planned training still ahead: linearly to 0

    def lr_at(self, step: int, epoch: int = 1, remaining: float = 1.0) -> float:
        """The learning rate of optimizer step ``step`` (from 1), taken in epoch ``epoch`` (from 1)
        with the share ``remaining`` of the planned training ahead of it (used when annealing)."""
        lr = self.lr if self.warmup == 0 else self.lr * min(step / self.warmup, math.sqrt(self.warmup / step))
        lr *= self.decay ** max(0, epoch - self.decay_after)
        return lr * remaining if self.anneal else lr


@runtime_checkable
class ProjectsFeatures(Protocol):
    """A model whose logits are ``out(features(src, src_pad, tgt_in))``, ``out`` an ``nn.Linear``."""

    out: nn.Linear

    def features(self, src: torch.Tensor, src_pad: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor: ...


def batch_loss(model: nn.Module, batch: Batch, label_smoothing: float) -> torch.Tensor:
    """The mean label-smoothed cross-entropy of ``batch``'s targets, <pad> left out.

    A model that :class:`ProjectsFeatures` (the Transformer, the GRUs) has its output projection
    taken with the loss, chunk by chunk, without making the logits; any other model's logits
    go to the loss (both are F.cross_entropy's value, with a cheaper backward: deepkata.nlp.loss).
    """
    if isinstance(model, ProjectsFeatures) and isinstance(model.out, nn.Linear):
        h = model.features(batch.src, batch.src_pad, batch.tgt_in)  # (B, T, E)
        target = batch.tgt_out.reshape(-1)
        return projected_cross_entropy(h.reshape(-1, h.shape[-1]), model.out.weight, model.out.bias, target, label_smoothing, Vocab.pad)
    return logits_loss(model, batch, label_smoothing)


def logits_loss(model: nn.Module, batch: Batch, label_smoothing: float) -> torch.Tensor:
    """:func:`batch_loss` through the model's (B, T, V) logits, whatever the model."""
    logits = model(batch.src, batch.src_pad, batch.tgt_in)  # (B, T, V)
    return smoothed_cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch.tgt_out.reshape(-1), label_smoothing, Vocab.pad)


class Trainer:
    """Adam over the batches of ``src`` -> ``tgt`` (id lists), one batch a :meth:`train_batch`.

    The model stays where it is; each batch goes to its device, and the forward pass runs in
    ``precision`` (bf16: under autocast; the loss is reduced in float32).
    """

    def __init__(
        self,
        model: nn.Module,
        schedule: Schedule,
        src: Sequence[Sequence[int]],
        tgt: Sequence[Sequence[int]],
        seed: int,
        precision: Precision = "fp32",
    ) -> None:
        self.model, self.schedule, self.src, self.tgt, self.seed, self.precision = model, schedule, src, tgt, seed, precision
        self.device = next(model.parameters()).device
        self.opt = torch.optim.Adam(model.parameters(), lr=schedule.lr_at(1), betas=schedule.betas, eps=1e-9)
        self.step = 0  # optimizer steps so far
        self.epoch = 0  # completed epochs
        self.batch_in_epoch = 0  # batches of the current epoch already taken
        self.epoch_loss = [0.0, 0]  # sum of token losses, tokens, in the current epoch
        self.epoch_seconds = 0.0  # training time in the current epoch
        self.planned: int | None = None  # epochs the anneal spans; None: not known yet (no anneal)
        self._batches: tuple[int, list[Batch]] | None = None  # (epoch, its batches)

    def epoch_batches(self) -> list[Batch]:
        """The current epoch's batches, the same however often they are rebuilt."""
        if self._batches is None or self._batches[0] != self.epoch:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            self._batches = (self.epoch, list(batches(self.src, self.tgt, self.schedule.max_tokens, g)))
        return self._batches[1]

    def train_batch(self) -> dict[str, float] | None:
        """One optimizer step on the epoch's next batch; after its last batch, the epoch's
        mean loss per target token, tokens per second and seconds (else None)."""
        started = time.perf_counter()
        todo = self.epoch_batches()
        batch = todo[self.batch_in_epoch].to(self.device)
        self.model.train()
        self.step += 1
        remaining = 1.0 if self.planned is None else max(0.0, 1.0 - (self.epoch + self.batch_in_epoch / len(todo)) / self.planned)
        for group in self.opt.param_groups:
            group["lr"] = self.schedule.lr_at(self.step, self.epoch + 1, remaining)
        with autocast(self.device, self.precision):
            loss = batch_loss(self.model, batch, self.schedule.label_smoothing)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training diverged at step {self.step}: the loss is {loss.item()}")
        self.opt.zero_grad()
        loss.backward()
        if self.schedule.clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.schedule.clip)
        self.opt.step()
        n = batch.target_tokens
        self.epoch_loss[0] += loss.item() * n
        self.epoch_loss[1] += n
        self.batch_in_epoch += 1
        self.epoch_seconds += time.perf_counter() - started
        if self.batch_in_epoch < len(todo):
            return None
        (total, tokens), seconds = self.epoch_loss, self.epoch_seconds
        self.epoch += 1
        self.batch_in_epoch, self.epoch_loss, self.epoch_seconds = 0, [0.0, 0], 0.0
        return {"loss": total / max(tokens, 1), "tokens_per_s": tokens / max(seconds, 1e-9), "seconds": seconds}

    def state_dict(self) -> dict[str, Any]:
        """Everything but the global generators' states (dropout), which the engine keeps."""
        return {
            "model": self.model.state_dict(), "opt": self.opt.state_dict(), "step": self.step, "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch, "epoch_loss": list(self.epoch_loss), "epoch_seconds": self.epoch_seconds,
            "planned": self.planned,
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.step, self.epoch, self.batch_in_epoch = int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"])
        self.epoch_loss = list(state["epoch_loss"])
        self.epoch_seconds = float(state["epoch_seconds"])
        self.planned = state.get("planned")  # absent from checkpoints before annealing
