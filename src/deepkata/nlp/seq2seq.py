"""GRU encoder-decoder (Sutskever et al., 2014; Cho et al., 2014), with or without attention.

The course's seq2seq notebook: embeddings and GRUs of 256 units, the encoder's final state
starting the decoder, teacher forcing in training.

    encoder:  h_1..h_S = GRU(embed(x_1..x_S))                 memory (B, S, H), state h_S
    decoder:  s_t = GRU(s_{t-1}, embed(y_{t-1}))               s_0 = h_S
    without attention:  p(y_t) = softmax(W_o s_t)
    with attention:     c_t = sum_j a_tj h_j,  a_t = softmax(score(s_t, h_.))
                        p(y_t) = softmax(W_o tanh(W_c [s_t; c_t]))

``score`` is Bahdanau's additive v^T tanh(W_s s + W_h h) or Luong's dot product s . h. The
attention is placed after the decoder's GRU, as Luong et al. place it, so that training
runs the decoder over all target positions at once; Bahdanau et al. feed c_t into the GRU
instead, which forces a step-by-step loop.

The attention variant is the model's name in the registry: ``gru`` (none), ``gru-additive``
and ``gru-dot``, one config for the three.

Encoder and decoder are the project's :class:`~deepkata.models.sequence.SequenceModel` (GRU).
Trailing padding does not reach the real positions of a unidirectional GRU; the encoder's
final state is read at each sentence's last real token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.models.attention import AdditiveAttention, DotAttention
from deepkata.models.registry import register_model
from deepkata.models.sequence import SequenceModel, SequenceModelConfig
from deepkata.nlp.vocab import Vocab

Attention = Literal["none", "additive", "dot"]


@dataclass(frozen=True, kw_only=True)
class Seq2SeqConfig(Config):
    src_vocab: int | None = param(None, "source vocabulary size; none: set from the training corpus", gt=0)
    tgt_vocab: int | None = param(None, "target vocabulary size; none: set from the training corpus", gt=0)
    emb: int = param(256, "embedding width", gt=0, le=2048)
    hidden: int = param(256, "GRU units", gt=0, le=2048)
    dropout: float = param(0.1, "dropout on embeddings and on the decoder's output features", ge=0, lt=1)


class Seq2Seq(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig, attention: Attention = "none") -> None:
        super().__init__()
        if cfg.src_vocab is None or cfg.tgt_vocab is None:
            raise ConfigError("src_vocab and tgt_vocab: a seq2seq model needs its vocabulary sizes (from the training corpus)")
        self.cfg = cfg
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.emb, padding_idx=Vocab.pad)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, cfg.emb, padding_idx=Vocab.pad)
        self.encoder = SequenceModel(SequenceModelConfig(cell="gru", input_size=cfg.emb, hidden=cfg.hidden))
        self.decoder = SequenceModel(SequenceModelConfig(cell="gru", input_size=cfg.emb, hidden=cfg.hidden))
        self.attn: nn.Module | None = None
        if attention == "additive":
            self.attn = AdditiveAttention(cfg.hidden, cfg.hidden, cfg.hidden)
        elif attention == "dot":
            self.attn = DotAttention()
        self.combine = nn.Linear(2 * cfg.hidden, cfg.hidden) if self.attn is not None else None
        self.out = nn.Linear(cfg.hidden, cfg.tgt_vocab)
        self.dropout = nn.Dropout(cfg.dropout)

    def encode(self, src: torch.Tensor, src_pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory (B, S, H) and the final state (B, H) at each sentence's last real token."""
        memory, _ = self.encoder(self.dropout(self.src_embed(src)))
        last = (~src_pad).sum(dim=1) - 1  # (B,)
        return memory, memory[torch.arange(src.shape[0], device=src.device), last]

    def decode(self, memory: torch.Tensor, src_pad: torch.Tensor, state: torch.Tensor, tgt_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (B, T, H) for the target prefix tgt_in (B, T), which ``out`` projects to the
        logits, and the decoder's last state (B, H)."""
        s, h_n = self.decoder(self.dropout(self.tgt_embed(tgt_in)), state[None])  # s (B, T, H)
        if self.attn is not None:
            context, _ = self.attn(s, memory, src_pad)  # (B, T, H)
            s = torch.tanh(self.combine(torch.cat([s, context], dim=-1)))
        return self.dropout(s), h_n[0]

    def features(self, src: torch.Tensor, src_pad: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """What ``out`` projects to the logits: :meth:`forward` is ``out(features(...))``."""
        memory, state = self.encode(src, src_pad)
        return self.decode(memory, src_pad, state, tgt_in)[0]

    def forward(self, src: torch.Tensor, src_pad: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for every prefix of tgt_in (B, T)."""
        return self.out(self.features(src, src_pad, tgt_in))

    # --- decoding: a state of batch-first tensors, extended one token at a time ---------------

    def start(self, src: torch.Tensor, src_pad: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(memory, src_pad, decoder state, last token): the last token is <s>."""
        memory, state = self.encode(src, src_pad)
        last = torch.full((src.shape[0],), Vocab.bos, dtype=torch.long, device=src.device)
        return memory, src_pad, state, last

    def step(self, state: tuple[torch.Tensor, ...], token: torch.Tensor | None) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Logits (N, V) of the next token after feeding ``token`` (N,) (None: the <s> held)."""
        memory, src_pad, h, last = state
        token = last if token is None else token
        features, h = self.decode(memory, src_pad, h, token[:, None])
        return self.out(features[:, 0]), (memory, src_pad, h, token)


EXAMPLE = {"src_vocab": 8000, "tgt_vocab": 8000}


@register_model("gru", config=Seq2SeqConfig, topic="nlp", example=EXAMPLE)
def gru(cfg: Seq2SeqConfig) -> Seq2Seq:
    """GRU encoder-decoder without attention: the encoder's last state starts the decoder."""
    return Seq2Seq(cfg, attention="none")


@register_model("gru-additive", config=Seq2SeqConfig, topic="nlp", example=EXAMPLE)
def gru_additive(cfg: Seq2SeqConfig) -> Seq2Seq:
    """GRU encoder-decoder with Bahdanau's additive attention."""
    return Seq2Seq(cfg, attention="additive")


@register_model("gru-dot", config=Seq2SeqConfig, topic="nlp", example=EXAMPLE)
def gru_dot(cfg: Seq2SeqConfig) -> Seq2Seq:
    """GRU encoder-decoder with Luong's dot-product attention."""
    return Seq2Seq(cfg, attention="dot")
