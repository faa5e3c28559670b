"""The Transformer encoder-decoder, written out (Vaswani et al., "Attention is all you need", 2017).

Blocks first, then the model, then its config, in the order a reader meets them:

    PE(pos, 2i) = sin(pos / 10000^(2i/E)),   PE(pos, 2i+1) = cos(pos / 10000^(2i/E))
    encoder layer:  x = Norm(x + SelfAttn(x));            x = Norm(x + FFN(x))           (post-norm)
    decoder layer:  y = Norm(y + CausalSelfAttn(y));      y = Norm(y + CrossAttn(y, memory));
                    y = Norm(y + FFN(y))
    FFN(x) = W_2 ReLU(W_1 x + b_1) + b_2

``norm_first`` moves each Norm before its sublayer (pre-norm, x = x + Sublayer(Norm(x)), with a
final Norm over each stack), which trains more stably without warmup. Embeddings are scaled by
sqrt(E) before the positional encoding is added. ``tie_embeddings`` shares the decoder's input
embedding with its output projection (Press & Wolf, 2017).

The layers (:mod:`deepkata.models.transformer`, shared with other topics) are proven equal to
``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` (post-norm, ReLU, no dropout)
with the same weights, in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.models.attention import allowed_mask
from deepkata.models.dropout import Dropout
from deepkata.models.registry import register_model
from deepkata.models.transformer import DecoderLayer, EncoderLayer, PositionalEncoding
from deepkata.nlp.vocab import Vocab


@dataclass(frozen=True, kw_only=True)
class TransformerConfig(Config):
    src_vocab: int | None = param(None, "source vocabulary size; none: set from the training corpus", gt=0)
    tgt_vocab: int | None = param(None, "target vocabulary size; none: set from the training corpus", gt=0)
    dim: int = param(256, "E, the model width", gt=0, le=2048)
    heads: int = param(4, "attention heads; dim must be divisible by heads", gt=0)
    layers: int = param(3, "encoder layers, and as many decoder layers", gt=0, le=24)
    ffn: int = param(1024, "hidden width of the position-wise feed-forward network", gt=0)
    dropout: float = param(0.1, "dropout on embeddings, attention weights and sublayer outputs", ge=0, lt=1)
    norm_first: bool = param(False, "pre-norm layers instead of the paper's post-norm")
    tie_embeddings: bool = param(True, "share the decoder's input embedding and output projection")
    max_len: int = param(256, "positions the encoding covers", gt=0)

    def validate(self) -> None:
        if self.dim % self.heads:
            raise ConfigError(f"dim {self.dim} must be divisible by heads {self.heads}")


class Transformer(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        if cfg.src_vocab is None or cfg.tgt_vocab is None:
            raise ConfigError("src_vocab and tgt_vocab: a Transformer needs its vocabulary sizes (from the training corpus)")
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.dim, padding_idx=Vocab.pad)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, cfg.dim, padding_idx=Vocab.pad)
        self.position = PositionalEncoding(cfg.dim, cfg.max_len)
        self.encoder = nn.ModuleList(EncoderLayer(cfg.dim, cfg.heads, cfg.ffn, cfg.dropout, cfg.norm_first) for _ in range(cfg.layers))
        self.decoder = nn.ModuleList(DecoderLayer(cfg.dim, cfg.heads, cfg.ffn, cfg.dropout, cfg.norm_first) for _ in range(cfg.layers))
        # pre-norm stacks end with a norm of their own; post-norm layers already end normalized
        self.enc_norm = nn.LayerNorm(cfg.dim) if cfg.norm_first else nn.Identity()
        self.dec_norm = nn.LayerNorm(cfg.dim) if cfg.norm_first else nn.Identity()
        self.out = nn.Linear(cfg.dim, cfg.tgt_vocab)
        self.dropout = Dropout(cfg.dropout)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        if cfg.tie_embeddings:
            self.out.weight = self.tgt_embed.weight
            nn.init.normal_(self.tgt_embed.weight, std=cfg.dim**-0.5)

    def _embed(self, table: nn.Embedding, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        # sqrt(E) x embedding + positional encoding (of positions start, start + 1, ...)
        return self.dropout(self.position(table(ids) * math.sqrt(self.cfg.dim), start))

    def encode(self, src: torch.Tensor, src_pad: torch.Tensor) -> torch.Tensor:
        """src (B, S) -> memory (B, S, E)."""
        allowed = allowed_mask(src_pad, None)
        x = self._embed(self.src_embed, src)
        for layer in self.encoder:
            x = layer(x, allowed)
        return self.enc_norm(x)

    def decode(self, memory: torch.Tensor, src_pad: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """The decoder's output (B, T, E) for every prefix of tgt_in (B, T), each seeing only its
        past: the features the output projection turns into logits."""
        causal = allowed_mask(None, tgt_in.shape[1], tgt_in.device)
        memory_allowed = allowed_mask(src_pad, None)
        y = self._embed(self.tgt_embed, tgt_in)
        for layer in self.decoder:
            y = layer(y, memory, causal, memory_allowed)
        return self.dec_norm(y)

    def features(self, src: torch.Tensor, src_pad: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """What ``out`` projects to the logits: :meth:`forward` is ``out(features(...))``. Training
        takes that projection together with the loss (:func:`deepkata.nlp.train.batch_loss`)."""
        return self.decode(self.encode(src, src_pad), src_pad, tgt_in)

    def forward(self, src: torch.Tensor, src_pad: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for every prefix of tgt_in (B, T)."""
        return self.out(self.features(src, src_pad, tgt_in))

    # --- decoding: a state of batch-first tensors, extended one token at a time ---------------
    #
    # The state is (src_pad, then per decoder layer the memory's cross-attention keys and values,
    # then per layer the self-attention keys and values of the positions decoded so far), every
    # tensor (N, ...) so that beam search keeps a beam by indexing the first axis. Each step runs
    # the decoder on the newest token only (DecoderLayer.step), equal to decoding the whole
    # prefix again (proven in float64) in time linear in its length.

    def start(self, src: torch.Tensor, src_pad: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The state before the first step: the memory projected for every layer, empty caches."""
        memory = self.encode(src, src_pad)
        memory_kv = [t for layer in self.decoder for t in layer.multihead_attn.project_kv(memory, memory)]
        empty = memory.new_zeros(src.shape[0], 0, self.cfg.dim)
        return (src_pad, *memory_kv, *[empty] * (2 * len(self.decoder)))

    def step(self, state: tuple[torch.Tensor, ...], token: torch.Tensor | None) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Logits (N, V) of the next token after ``token`` (N,); the first step reads <s>."""
        layers = len(self.decoder)
        src_pad, memory_kv, past = state[0], state[1 : 1 + 2 * layers], state[1 + 2 * layers :]
        if token is None:
            token = torch.full((src_pad.shape[0],), Vocab.bos, dtype=torch.long, device=src_pad.device)
        position = past[0].shape[1]
        y = self._embed(self.tgt_embed, token[:, None], start=position)  # (N, 1, E)
        memory_allowed = allowed_mask(src_pad, None)
        cache = []
        for i, layer in enumerate(self.decoder):
            y, kv = layer.step(y, (memory_kv[2 * i], memory_kv[2 * i + 1]), memory_allowed, (past[2 * i], past[2 * i + 1]))
            cache.extend(kv)
        return self.out(self.dec_norm(y))[:, -1], (src_pad, *memory_kv, *cache)


@register_model("transformer", config=TransformerConfig, topic="nlp", example={"src_vocab": 8000, "tgt_vocab": 8000})
def transformer(cfg: TransformerConfig) -> Transformer:
    """The Transformer encoder-decoder of Vaswani et al. (2017), post-norm by default."""
    return Transformer(cfg)
