"""A masked-word model: a small Transformer encoder that fills in hidden words (note 004; Devlin
et al., 2019's masked-language-model objective), trained for its input embeddings.

The corpus is cut into windows of ``length`` tokens. In each, every token is chosen with
probability ``mask`` (at least one a window); a chosen token is replaced by ``[MASK]`` 80% of the
time, by a random word 10% and left as it is 10%, and the model predicts the original word at
the chosen places only (cross-entropy). The encoder is the shared blocks of
:mod:`deepkata.models.transformer` (pre-norm), over the word embeddings plus the sinusoidal
positional encoding; the output layer is the transposed embedding (tied weights) plus a bias,
so the embeddings are trained from both ends. Its first V rows are the word vectors the kata
compares with word2vec's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.core.trainer import EpochRecipe, EpochTrainer
from deepkata.models.registry import register_model
from deepkata.models.transformer import EncoderLayer, PositionalEncoding
from deepkata.words.vocab import TokenStream

__all__ = ["MaskedRecipe", "MaskedWordConfig", "MaskedWordModel", "MaskedWordTrainer", "mask_tokens"]


@dataclass(frozen=True, kw_only=True)
class MaskedWordConfig(Config):
    vocab: int = param(0, "words (set from the corpus); [MASK] is one more", ge=0)
    dim: int = param(100, "E, the embedding and model width", gt=0, le=2048)
    heads: int = param(4, "attention heads; dim must be divisible by heads", gt=0)
    layers: int = param(2, "encoder layers", gt=0, le=24)
    ffn: int = param(256, "hidden width of the feed-forward sublayers", gt=0)
    dropout: float = param(0.0, "dropout on attention weights and sublayer outputs", ge=0, lt=1)
    max_len: int = param(128, "positions the encoding covers", gt=0)

    def validate(self) -> None:
        if self.dim % self.heads:
            raise ConfigError(f"dim {self.dim} must be divisible by heads {self.heads}")


class MaskedWordModel(nn.Module):
    def __init__(self, cfg: MaskedWordConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mask_id = cfg.vocab  # [MASK]: the row after the words
        self.embedding = nn.Embedding(cfg.vocab + 1, cfg.dim)
        nn.init.normal_(self.embedding.weight, std=cfg.dim**-0.5)
        self.position = PositionalEncoding(cfg.dim, cfg.max_len)
        self.layers = nn.ModuleList(EncoderLayer(cfg.dim, cfg.heads, cfg.ffn, cfg.dropout, norm_first=True) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.dim)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab, device="cpu"))

    def forward(self, tokens: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """Logits (M, V) of the words at the M places ``where`` (B, L) is true, from ``tokens`` (B, L)."""
        x = self.position(self.embedding(tokens) * math.sqrt(self.cfg.dim))  # (B, L, E)
        for layer in self.layers:
            x = layer(x, None)
        h = self.norm(x[where])  # (M, E) only where a word is asked for
        return h @ self.embedding.weight[: self.cfg.vocab].T + self.bias  # (M, V) tied output layer

    @property
    def vectors(self) -> torch.Tensor:
        """The word vectors: the embedding's rows of the words (V, E)."""
        return self.embedding.weight[: self.cfg.vocab]


@register_model("masked-words", config=MaskedWordConfig, topic="words", example={"vocab": 10000})
def masked_words(cfg: MaskedWordConfig) -> MaskedWordModel:
    """A small pre-norm Transformer encoder that predicts masked words (tied embeddings)."""
    return MaskedWordModel(cfg)


def mask_tokens(tokens: torch.Tensor, vocab: int, mask_id: int, rate: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption of ``tokens`` (B, L): the inputs and where a word is to be predicted (B, L)."""
    draw = lambda: torch.rand(tokens.shape, generator=generator, device="cpu")  # noqa: E731
    where = draw() < rate
    where[torch.arange(len(tokens), device="cpu"), torch.randint(0, tokens.shape[1], (len(tokens),), generator=generator, device="cpu")] = True  # at least one
    choice = draw()
    inputs = tokens.clone()
    inputs[where & (choice < 0.8)] = mask_id  # 80%: [MASK]
    swap = where & (choice >= 0.8) & (choice < 0.9)  # 10%: a random word; the last 10% unchanged
    inputs[swap] = torch.randint(0, vocab, (int(swap.sum()),), generator=generator, device="cpu")
    return inputs, where


@dataclass(frozen=True, kw_only=True)
class MaskedRecipe(EpochRecipe):
    """AdamW at 3e-3 with warm-up and cosine decay, windows of 32 tokens, 15% of them predicted
    (on the generated corpus 1e-3 stayed at the unigram's accuracy; 3e-3 learnt its meanings)."""

    epochs: int = param(5, "passes over the corpus's windows", gt=0)
    batch: int = param(64, "windows per update", gt=0)
    lr: float = param(3e-3, "peak learning rate", gt=0, le=10)
    weight_decay: float = param(0.01, "weight decay on the weights", ge=0)
    warmup: float = param(0.05, "share of the updates over which the learning rate ramps up", ge=0, lt=1)
    length: int = param(32, "tokens per window", gt=1)
    mask: float = param(0.15, "share of the tokens to predict", gt=0, lt=1)
    chunk: int = param(20, "updates per engine step (a checkpoint may follow each)", gt=0)


class MaskedWordTrainer(EpochTrainer):
    """The masked-word objective over the corpus's windows; the last 2% of the windows (at most 500)
    are held out, and their masked-word accuracy is measured after each epoch."""

    cfg: MaskedRecipe

    def __init__(self, model: MaskedWordModel, cfg: MaskedRecipe, stream: TokenStream, device: torch.device, *, seed: int = 0) -> None:
        windows = torch.from_numpy(stream.ids[: len(stream) // cfg.length * cfg.length].reshape(-1, cfg.length).copy())
        if len(windows) < 2:
            raise ConfigError(f"train.length: the corpus's {len(stream):,} tokens make fewer than 2 windows of {cfg.length}")
        held = min(500, max(1, len(windows) // 50))
        self.windows, self.held = windows[:-held], windows[-held:]
        super().__init__(model, cfg, len(self.windows), device)
        self.net, self.seed = model, seed

    def _generator(self, salt: int) -> torch.Generator:
        return torch.Generator(device="cpu").manual_seed(self.seed * 1_000_003 + salt)

    def loss(self, index: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        tokens = self.windows[index]
        inputs, where = mask_tokens(tokens, self.net.cfg.vocab, self.net.mask_id, self.cfg.mask, self._generator(self.updates))
        logits = self.net(inputs.to(self.device), where.to(self.device))
        target = tokens[where].to(self.device)
        loss = F.cross_entropy(logits, target)
        return loss, {"accuracy": float((logits.argmax(1) == target).float().mean())}

    @torch.no_grad()
    def measure(self, last: bool) -> dict[str, float]:
        self.net.eval()
        inputs, where = mask_tokens(self.held, self.net.cfg.vocab, self.net.mask_id, self.cfg.mask, self._generator(2**40))
        logits = self.net(inputs.to(self.device), where.to(self.device))
        target = self.held[where].to(self.device)
        self.net.train()
        return {"val_loss": float(F.cross_entropy(logits, target)), "val_accuracy": float((logits.argmax(1) == target).float().mean())}

    def outputs(self) -> dict[str, Any]:
        return {"vectors": self.net.vectors.detach().cpu().clone()}
