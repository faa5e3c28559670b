"""Binary addition learned by a simple RNN: the task, its loss and per-sample SGD training.

The curriculum's Day 3 exercise: two integers a, b < 2^(bits-1) are written in binary and fed
to the network one bit pair per time step, least significant bit first; at each step the
network outputs the matching bit of a + b. The carry makes each output depend on the past,
which is what the recurrence has to learn.

Loss (the course's): L = sum_t 1/2 (y_t - d_t)^2 with y_t = sigmoid(v_t). Its exact gradient
with respect to the output pre-activation is dL/dv_t = (y_t - d_t) sigma'(v_t). The course
notebook computed ``(y_t - d_t) * d_sigmoid(y_t)``, the derivative taken at the activated
output; ``output_grad="course"`` reproduces that mistake on purpose, for comparison only.

Training here is the library part: it knows nothing of the CLI, of run folders or of progress
bars. :class:`Trainer` advances in chunks and exposes its whole state, so the kata can log,
checkpoint and resume it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from deepkata.core.config import Config, param
from deepkata.rnn.scratch.functional import ActivationName, InitName, clip_grad_norm, global_norm, sigmoid
from deepkata.rnn.scratch.simple_rnn import PARAM_NAMES, SimpleRNN, SimpleRNNConfig

OutputGrad = Literal["exact", "course"]


# --- the task -------------------------------------------------------------------------------


def to_bits(n: np.ndarray, bits: int) -> np.ndarray:
    """Bits of the integers ``n`` (any shape), least significant first: shape (*n.shape, bits)."""
    return ((np.asarray(n)[..., None] >> np.arange(bits)) & 1).astype(np.float64)


def from_bits(b: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_bits` for 0/1 arrays with the bit axis last."""
    return (np.asarray(b).astype(np.int64) << np.arange(b.shape[-1])).sum(axis=-1)


def make_batch(a: np.ndarray, b: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs x (B, bits, 2) and targets d (B, bits, 1) for the sums a + b."""
    x = np.stack([to_bits(a, bits), to_bits(b, bits)], axis=-1)
    d = to_bits(np.asarray(a) + np.asarray(b), bits)[..., None]
    return x, d


def all_pairs(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) with a, b < 2^(bits-1), the evaluation set (128 x 128 pairs for 8 bits)."""
    half = 2 ** (bits - 1)
    a, b = np.meshgrid(np.arange(half), np.arange(half), indexing="ij")
    return a.ravel(), b.ravel()


# --- the loss ---------------------------------------------------------------------------------


def sigmoid_mse(v: np.ndarray, d: np.ndarray, output_grad: OutputGrad = "exact") -> tuple[np.ndarray, np.ndarray]:
    """Per-sample loss sum_t 1/2 (sigmoid(v_t) - d_t)^2, shape (B,), and dL/dv, shape of v."""
    y = sigmoid(v)
    loss = 0.5 * np.sum((y - d) ** 2, axis=(1, 2))
    if output_grad == "exact":
        # dL/dv = (y - d) sigma'(v) = (y - d) y (1 - y)
        dv = (y - d) * y * (1.0 - y)
    elif output_grad == "course":
        # the notebook's d_sigmoid(y): sigma'(.) evaluated at y = sigma(v) instead of at v
        s = sigmoid(y)
        dv = (y - d) * s * (1.0 - s)
    else:
        raise ValueError(f"unknown output_grad {output_grad!r}; expected exact or course")
    return loss, dv


def evaluate(model: SimpleRNN, bits: int) -> dict[str, float]:
    """Accuracy (whole sums and bits), mean loss and dead units over every pair of :func:`all_pairs`.

    A dead unit is a hidden unit whose activation is zero at every step of every pair: with
    ReLU it no longer passes any gradient, so it can never recover.
    """
    a, b = all_pairs(bits)
    x, d = make_batch(a, b, bits)
    with np.errstate(over="ignore", invalid="ignore"):
        v, cache = model.forward(x)
        loss, _ = sigmoid_mse(v, d)
    pred = (v > 0).astype(np.float64)  # round(sigmoid(v)) without computing it
    bit_ok = pred == d
    return {
        "accuracy": float(bit_ok.all(axis=(1, 2)).mean()),
        "bit_accuracy": float(bit_ok.mean()),
        "loss": float(np.mean(loss)),
        "dead_units": int(np.sum(np.all(cache.h[:, 1:] == 0, axis=(0, 1)))),
    }


# --- training ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TrainSettings(Config):
    """How one network is trained; a kata config derives from it to offer these fields."""

    bits: int = param(8, "bits per number; operands are below 2^(bits-1) so their sum fits", ge=2, le=12)
    hidden: int = param(16, "hidden units", gt=0, le=4096)
    lr: float = param(0.1, "SGD learning rate", gt=0)
    activation: ActivationName = param("sigmoid", "hidden nonlinearity")
    init: InitName = param("normal", "initializer: normal N(0, init_std^2), xavier N(0, 1/fan_in), he N(0, 2/fan_in)")
    init_std: float = param(1.0, "standard deviation of the normal initializer", gt=0)
    iterations: int = param(10_000, "training samples, one SGD step each", gt=0)
    clip: float = param(0.0, "maximum global gradient norm; 0 turns clipping off", ge=0)
    output_grad: OutputGrad = param("exact", "dL/dv: exact, or the course notebook's derivative bug")
    blowup: float = param(1e6, "a weight magnitude above this counts as divergence", gt=0)

    def model_config(self) -> SimpleRNNConfig:
        return SimpleRNNConfig(n_in=2, hidden=self.hidden, n_out=1, activation=self.activation, init=self.init, init_std=self.init_std)


class Trainer:
    """Per-sample SGD on random pairs, resumable: all state is in :meth:`state_dict`.

    Each iteration draws a, b uniformly below 2^(bits-1), runs the forward pass, records the
    loss and whether every output bit was right *before* the update (as the course did), then
    takes one SGD step. Training stops early, without raising, if the loss or a weight stops
    being finite or a weight's magnitude passes ``blowup``: ``diverged_at`` then holds the
    iteration (1-based).
    """

    def __init__(self, settings: TrainSettings, seed: int) -> None:
        self.s = settings
        init_rng, self.data_rng = (np.random.default_rng(k) for k in np.random.SeedSequence(seed).spawn(2))
        self.model = SimpleRNN.init(settings.model_config(), init_rng)
        self.iteration = 0  # samples seen so far
        self.losses = np.full(settings.iterations, np.nan)  # per-sample loss, before its update
        self.correct = np.zeros(settings.iterations, dtype=bool)  # all bits right, before update
        self.grad_norms = np.full(settings.iterations, np.nan)  # global norm before clipping
        self.diverged_at: int | None = None

    @property
    def done(self) -> bool:
        return self.iteration >= self.s.iterations or self.diverged_at is not None

    def train(self, n: int) -> int:
        """Run up to ``n`` more iterations; returns how many ran."""
        s, model = self.s, self.model
        half = 2 ** (s.bits - 1)
        start = self.iteration
        stop = min(start + n, s.iterations)
        # draw the whole chunk's operands at once: the stream is the same however it is chunked
        operands = self.data_rng.integers(0, half, size=(stop - start, 2))
        x_all, d_all = make_batch(operands[:, 0], operands[:, 1], s.bits)  # (n, bits, 2), (n, bits, 1)
        with np.errstate(over="ignore", invalid="ignore"):
            for i in range(start, stop):
                x, d = x_all[i - start : i - start + 1], d_all[i - start : i - start + 1]
                v, cache = model.forward(x)
                loss, dv = sigmoid_mse(v, d, s.output_grad)
                grads, _ = model.backward(cache, dv)
                self.losses[i] = loss[0]
                self.correct[i] = bool(np.all((v > 0) == (d > 0.5)))
                if s.clip > 0:
                    self.grad_norms[i] = clip_grad_norm(grads, s.clip)
                else:
                    self.grad_norms[i] = global_norm(grads)
                model.step(grads, s.lr)
                self.iteration = i + 1
                if not np.isfinite(loss[0]) or not model.max_abs_weight() <= s.blowup:
                    self.diverged_at = i + 1
                    break
        return self.iteration - start

    # --- results -----------------------------------------------------------------------------

    def converged_at(self, window: int) -> int | None:
        """First iteration after which accuracy over the last ``window`` samples stays 100%.

        That is the iteration i such that samples i-window+1 .. end were all right and none
        after; None when the final window holds a mistake or training diverged.
        """
        if self.diverged_at is not None or self.iteration < window:
            return None
        seen = self.correct[: self.iteration]
        wrong = np.flatnonzero(~seen)
        last_wrong = int(wrong[-1]) + 1 if wrong.size else 0  # 1-based, 0 = never wrong
        at = last_wrong + window
        return at if at <= self.iteration else None

    # --- checkpointing -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "params": {k: v.copy() for k, v in self.model.params.items()},
            "data_rng": self.data_rng.bit_generator.state,
            "losses": self.losses.copy(),
            "correct": self.correct.copy(),
            "grad_norms": self.grad_norms.copy(),
            "diverged_at": self.diverged_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in PARAM_NAMES:
            self.model.params[name][...] = state["params"][name]
        self.data_rng.bit_generator.state = state["data_rng"]
        self.iteration = int(state["iteration"])
        self.losses[...] = state["losses"]
        self.correct[...] = state["correct"]
        self.grad_norms[...] = state["grad_norms"]
        self.diverged_at = state["diverged_at"]
