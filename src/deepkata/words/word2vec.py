"""word2vec in PyTorch, batched, and one trainer on the engine for it and for the NumPy version.

:class:`Word2Vec` holds the same two matrices as :mod:`deepkata.words.scratch` (``inputs`` =
``W_in``, ``outputs`` = ``W_out``) as sparse embeddings, and its forward is the same summed loss,
so autograd's gradients are the NumPy version's (checked in float64). A batch is every example
of a few blocks of sentences: their tokens subsampled, the windows and negatives drawn by
:mod:`deepkata.words.sampling` from a generator seeded by (seed, update), so a resumed training
draws what the uninterrupted one drew.

:class:`Word2VecTrainer` runs any of three backends on the core epoch loop: plain SGD at
word2vec's learning rate (0.025 skip-gram, 0.05 CBOW) decaying linearly to 1/250 of it, every row
stepped by its summed gradient. ``backend="numpy"`` steps the NumPy arrays in place with the
written-out gradients; ``"autograd"`` runs :meth:`Word2Vec.forward`, ``backward()`` and a sparse
SGD step; ``"torch"`` (the default) takes that same step in one pass without autograd
(:meth:`Word2Vec.sgd_update`, equal in float64), about 1.5 times as fast. The words per second
it reports count the *effective* words (those left after subsampling), as gensim does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import Config, param
from deepkata.core.optim import warmup_cosine
from deepkata.core.trainer import EpochRecipe, EpochTrainer
from deepkata.models.registry import register_model
from deepkata.words import scratch
from deepkata.words.sampling import (
    NegativeTable,
    keep_probabilities,
    subsample,
    windows,
)
from deepkata.words.vocab import TokenStream

__all__ = ["Word2Vec", "Word2VecConfig", "Word2VecRecipe", "Word2VecTrainer", "draw_examples"]


@dataclass(frozen=True, kw_only=True)
class Word2VecConfig(Config):
    vocab: int = param(0, "words (set from the corpus)", ge=0)
    dim: int = param(100, "vector dimensions", ge=1, le=4096)
    mode: scratch.Mode = param("skip-gram", "skip-gram (contexts predict the centre, one by one) or cbow (their mean predicts it)")
    cbow_step: scratch.CbowStep = param("word2vec", "CBOW's contexts stepped by the whole dL/dh (word2vec, gensim) or by their gradient dL/dh / count")


class Word2Vec(nn.Module):
    """The input and output vectors of word2vec, as sparse embeddings; forward: the summed loss."""

    def __init__(self, cfg: Word2VecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.inputs = nn.Embedding(cfg.vocab, cfg.dim, sparse=True)  # W_in (syn0): the word vectors
        self.outputs = nn.Embedding(cfg.vocab, cfg.dim, sparse=True)  # W_out (syn1neg)
        with torch.no_grad():  # word2vec's start
            self.inputs.weight.uniform_(-0.5 / cfg.dim, 0.5 / cfg.dim)
            self.outputs.weight.zero_()

    def forward(self, centres: torch.Tensor, contexts: torch.Tensor, negatives: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The loss summed over the examples (see :mod:`deepkata.words.scratch`) and how many predictions it sums."""
        dtype = self.inputs.weight.dtype
        t = scratch.targets(centres.cpu().numpy(), contexts.cpu().numpy(), negatives.cpu().numpy(), self.cfg.mode)
        rows = torch.from_numpy(t.rows).to(centres.device)
        label, weight = (torch.from_numpy(a).to(centres.device, dtype) for a in (t.label, t.weight))
        valid = contexts >= 0  # (N, 2W)
        if self.cfg.mode == "skip-gram":
            h = self.inputs(centres)  # (N, D)
            predictions = int(valid.sum())
        else:
            count = valid.sum(1)  # (N,) c
            offsets = torch.cumsum(count, 0) - count  # each example's first context in the flat list
            total = F.embedding_bag(contexts[valid], self.inputs.weight, offsets, mode="sum", sparse=True)  # (N, D) Σ_c W_in[c]
            if self.cfg.cbow_step == "word2vec" and total.requires_grad:  # each context gets the whole dL/dh: count times its gradient
                total.register_hook(lambda g: g * count[:, None])
            h = total / count[:, None]  # (N, D) mean of the contexts
            predictions = len(centres)
        u = self.outputs(rows)  # (N, J, D)
        s = (u * h[:, None, :]).sum(2)  # (N, J) s_j = h . u_j (elementwise: a batched matrix-vector product is slower)
        # -log σ(s) for a word to predict, -log σ(-s) for a negative
        return -(weight * F.logsigmoid((2 * label - 1) * s)).sum(), predictions


    @torch.no_grad()
    def sgd_update(self, centres: np.ndarray, contexts: np.ndarray, negatives: np.ndarray, lr: float) -> tuple[torch.Tensor, int]:
        """:meth:`forward`, its backward and word2vec's SGD step in one pass without autograd: the
        written-out gradients of :mod:`deepkata.words.scratch`, scattered into the rows at once
        (``scatter_add_``). It takes the step that forward, ``backward()`` and a sparse SGD step
        take (equal in float64, tested) in about two thirds of the time, since nothing of size
        (N, J, D) is kept for a backward. Returns the loss and its predictions as :meth:`forward` does; a
        loss that is not finite is returned without a step."""
        w_in, w_out = self.inputs.weight, self.outputs.weight
        device, dtype, dim = w_in.device, w_in.dtype, w_in.shape[1]
        t = scratch.targets(centres, contexts, negatives, self.cfg.mode)
        rows = torch.from_numpy(t.rows).to(device)
        label, weight = (torch.from_numpy(a).to(device, dtype) for a in (t.label, t.weight))
        valid = contexts >= 0
        if self.cfg.mode == "skip-gram":
            into = torch.from_numpy(centres).to(device)  # the rows of W_in stepped: the centres
            h = F.embedding(into, w_in)  # (N, D)
            predictions = int(valid.sum())
        else:
            count = valid.sum(1)  # (N,) c
            into = torch.from_numpy(contexts[valid]).to(device)  # the contexts, example by example
            offsets = torch.from_numpy(np.cumsum(count) - count).to(device)
            h = F.embedding_bag(into, w_in, offsets, mode="mean")  # (N, D) mean of the contexts
            predictions = len(centres)
        u = F.embedding(rows, w_out)  # (N, J, D)
        s = (u * h[:, None, :]).sum(2)  # (N, J) s_j = h . u_j
        loss = -(weight * F.logsigmoid((2 * label - 1) * s)).sum()
        if not torch.isfinite(loss):
            return loss, predictions
        g = (weight * (torch.sigmoid(s) - label)).mul_(-lr)  # (N, J) -lr dL/ds_j
        step_in = (g[:, :, None] * u).sum(1)  # (N, D) -lr dL/dh
        if self.cfg.mode == "cbow":  # every context of an example: the whole -lr dL/dh (word2vec) or its share
            if self.cfg.cbow_step == "gradient":
                step_in /= torch.from_numpy(count).to(device, dtype)[:, None]
            step_in = step_in.index_select(0, torch.from_numpy(np.repeat(np.arange(len(count)), count)).to(device))
        step_out = (g[:, :, None] * h[:, None, :]).view(-1, dim)  # (N J, D) -lr dL/du_j
        w_out.scatter_add_(0, rows.view(-1, 1).expand(-1, dim), step_out)
        w_in.scatter_add_(0, into[:, None].expand(-1, dim), step_in)
        return loss, predictions


@register_model("word2vec", config=Word2VecConfig, topic="words", example={"vocab": 10000})
def word2vec(cfg: Word2VecConfig) -> Word2Vec:
    """word2vec (skip-gram or CBOW with negative sampling), sparse embeddings."""
    return Word2Vec(cfg)


@dataclass(frozen=True, kw_only=True)
class Word2VecRecipe(EpochRecipe):
    """gensim's defaults: 5 epochs, window 5, 5 negatives, subsampling at 1e-3, SGD at 0.025 decaying linearly."""

    epochs: int = param(5, "passes over the corpus", gt=0)
    batch: int = param(1, "blocks of sentences per update (their gradients summed: too many tokens at once diverge)", gt=0)
    block: int = param(1000, "tokens per block (whole sentences; the items an epoch shuffles)", gt=0)
    optimizer: Literal["sgd", "adam"] = param("sgd", "plain SGD, as word2vec (momentum 0)")
    lr: float = param(0.025, "starting learning rate α (gensim: 0.025 skip-gram, 0.05 CBOW)", gt=0, le=10)
    momentum: float = param(0.0, "SGD momentum (word2vec: none)", ge=0, lt=1)
    weight_decay: float = param(0.0, "weight decay (word2vec: none)", ge=0)
    warmup: float = param(0.0, "share of the updates over which the learning rate ramps up", ge=0, lt=1)
    schedule: Literal["cosine", "constant", "linear"] = param("linear", "linear decay to α / 250, as word2vec")
    window: int = param(5, "largest distance of a context word", gt=0, le=50)
    negatives: int = param(5, "negative samples per centre", gt=0, le=100)
    sample: float = param(1e-3, "subsampling threshold t / N (0: keep every token)", ge=0, lt=1)
    chunk: int = param(20, "updates per engine step (a checkpoint may follow each)", gt=0)


def draw_examples(stream: TokenStream, keep: np.ndarray, table: NegativeTable, recipe: Word2VecRecipe, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Centres (N,), contexts (N, 2W), negatives (N, K) of a stretch of tokens, and its effective words."""
    ids, sentence = subsample(stream.ids, stream.sentence, keep, rng)
    centres, contexts = windows(ids, sentence, recipe.window, rng)
    return centres, contexts, table.draw((len(centres), recipe.negatives), rng), len(ids)


@torch.no_grad()
def _sgd_rows(opt: torch.optim.Optimizer) -> None:
    """Plain SGD on sparse gradients, row by row as they come (``index_add_``, no coalescing: rows
    that repeat add up, as torch.optim.SGD's sparse step adds them, only faster)."""
    for group in opt.param_groups:
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                values = p.grad._values()
                rows = p.grad._indices()[0][:, None].expand(-1, values.shape[1])
                p.scatter_add_(0, rows, values.mul(-group["lr"]))
            else:
                p.add_(p.grad, alpha=-group["lr"])


class Word2VecTrainer(EpochTrainer):
    """word2vec on the core loop, by blocks of sentences; ``backend`` numpy, autograd or torch (fused)."""

    cfg: Word2VecRecipe

    def __init__(self, model: Word2Vec, cfg: Word2VecRecipe, stream: TokenStream, counts: np.ndarray, device: torch.device,
                 *, backend: Literal["numpy", "torch", "autograd"] = "torch", seed: int = 0) -> None:  # fmt: skip
        self.backend = backend
        self.bounds = stream.blocks(cfg.block)  # (B + 1,) block starts and the end
        super().__init__(model, cfg, len(self.bounds) - 1, device)
        self.net, self.stream, self.seed = model, stream, seed
        self.keep = keep_probabilities(counts, cfg.sample)
        self.table = NegativeTable(counts)
        self.effective = 0  # effective words so far

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self.backend == "numpy":
            return {}  # the NumPy backend steps its arrays itself
        return {"model": torch.optim.SGD(self.model.parameters(), lr=self.cfg.lr)}

    def examples(self, index: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The examples of blocks ``index``, drawn from the generator of (seed, update)."""
        pieces = [(self.bounds[i], self.bounds[i + 1]) for i in index.tolist()]
        ids = np.concatenate([self.stream.ids[a:b] for a, b in pieces])
        # each block's sentences numbered apart from the others' (a window never joins two blocks)
        sentence = np.concatenate([self.stream.sentence[a:b] + k * (self.stream.sentences + 1) for k, (a, b) in enumerate(pieces)])
        rng = np.random.default_rng([self.seed, self.updates])
        return draw_examples(TokenStream(ids, sentence), self.keep, self.table, self.cfg, rng)

    def update(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        centres, contexts, negatives, words = self.examples(index)
        self.effective += words
        if self.backend == "numpy":
            w_in, w_out = self.net.inputs.weight.detach().numpy(), self.net.outputs.weight.detach().numpy()  # shared memory
            loss, n, grads = scratch.loss_and_gradients(w_in, w_out, centres, contexts, negatives, self.net.cfg.mode)
            if np.isfinite(loss):
                lr = warmup_cosine(self.cfg.lr, self.updates, self.total_updates, self.cfg.warmup, self.cfg.schedule)
                scratch.sgd_step(w_in, w_out, grads, lr, cbow=self.net.cfg.cbow_step)
            return torch.tensor(loss / max(1, n)), {"words": float(words)}
        if self.backend == "torch":
            lr = self.optimizers["model"].param_groups[0]["lr"]
            total, n = self.net.sgd_update(centres, contexts, negatives, lr)
            return total / max(1, n), {"words": float(words)}
        as_tensor = lambda a: torch.from_numpy(a).to(self.device)  # noqa: E731
        total, n = self.net(as_tensor(centres), as_tensor(contexts), as_tensor(negatives))
        if torch.isfinite(total):
            opt = self.optimizers["model"]
            opt.zero_grad(set_to_none=True)
            total.backward()
            _sgd_rows(opt)
        return total.detach() / max(1, n), {"words": float(words)}

    def measure(self, last: bool) -> dict[str, float]:
        return {"words_per_second": self.effective / max(self.seconds, 1e-9)}

    def outputs(self) -> dict[str, Any]:
        return {"effective_words": self.effective, "words_per_second": self.effective / max(self.seconds, 1e-9)}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "effective": self.effective}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.effective = int(state["effective"])
