"""Transformer blocks, shared by every topic that builds one (Vaswani et al., "Attention is all you need", 2017).

    PE(pos, 2i) = sin(pos / 10000^(2i/E)),   PE(pos, 2i+1) = cos(pos / 10000^(2i/E))
    encoder layer:  x = Norm(x + SelfAttn(x));            x = Norm(x + FFN(x))           (post-norm)
    decoder layer:  y = Norm(y + CausalSelfAttn(y));      y = Norm(y + CrossAttn(y, memory));
                    y = Norm(y + FFN(y))
    FFN(x) = W_2 ReLU(W_1 x + b_1) + b_2

``norm_first`` moves each Norm before its sublayer (pre-norm, x = x + Sublayer(Norm(x))). The
layers are proven equal to ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``
(post-norm, ReLU, no dropout) with the same weights, in float64; their sub-modules carry the same
names (``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``, ``norm1``..``norm3``). The
translation topic's encoder-decoder (:mod:`deepkata.nlp.transformer`) and the words topic's
masked-word model (:mod:`deepkata.words.masked`) are built from them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepkata.models.attention import MultiHeadAttention
from deepkata.models.dropout import Dropout

__all__ = ["DecoderLayer", "EncoderLayer", "PositionalEncoding"]


class PositionalEncoding(nn.Module):
    def __init__(self, dim: int, max_len: int = 512) -> None:
        super().__init__()
        # the table is computed once, in float64 on the CPU (the same numbers for every device);
        # Module.to moves it with the weights
        cpu = torch.device("cpu")
        pos = torch.arange(max_len, dtype=torch.float64, device=cpu)[:, None]
        # 1 / 10000^(2i/E) for i = 0 .. E/2 - 1
        inv = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64, device=cpu) / dim)
        pe = torch.zeros(max_len, dim, dtype=torch.float64, device=cpu)
        pe[:, 0::2] = torch.sin(pos * inv)
        pe[:, 1::2] = torch.cos(pos * inv[: dim // 2])
        self.register_buffer("pe", pe.float(), persistent=False)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x (B, L, E) plus the encoding of positions start..start+L-1."""
        if start + x.shape[1] > self.pe.shape[0]:
            raise ValueError(f"sequence of {start + x.shape[1]} tokens, longer than the {self.pe.shape[0]} positions encoded")
        return x + self.pe[start : start + x.shape[1]].to(x.dtype)


class EncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ffn: int, dropout: float, norm_first: bool) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(dim, heads, dropout)
        self.linear1, self.linear2 = nn.Linear(dim, ffn), nn.Linear(ffn, dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout, self.norm_first = Dropout(dropout), norm_first

    def _sa(self, x: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
        return self.dropout(self.self_attn(x, x, x, allowed)[0])

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        # FFN(x) = W_2 ReLU(W_1 x + b_1) + b_2
        return self.dropout(self.linear2(self.dropout(torch.relu(self.linear1(x)))))

    def forward(self, x: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
        if self.norm_first:
            x = x + self._sa(self.norm1(x), allowed)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, allowed))
        return self.norm2(x + self._ff(x))


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ffn: int, dropout: float, norm_first: bool) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(dim, heads, dropout)
        self.multihead_attn = MultiHeadAttention(dim, heads, dropout)
        self.linear1, self.linear2 = nn.Linear(dim, ffn), nn.Linear(ffn, dim)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout, self.norm_first = Dropout(dropout), norm_first

    def _sa(self, y: torch.Tensor, causal: torch.Tensor | None) -> torch.Tensor:
        return self.dropout(self.self_attn(y, y, y, causal)[0])

    def _ca(self, y: torch.Tensor, memory: torch.Tensor, memory_allowed: torch.Tensor | None) -> torch.Tensor:
        return self.dropout(self.multihead_attn(y, memory, memory, memory_allowed)[0])

    def _ff(self, y: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.linear2(self.dropout(torch.relu(self.linear1(y)))))

    def forward(self, y: torch.Tensor, memory: torch.Tensor, causal: torch.Tensor | None, memory_allowed: torch.Tensor | None) -> torch.Tensor:
        if self.norm_first:
            y = y + self._sa(self.norm1(y), causal)
            y = y + self._ca(self.norm2(y), memory, memory_allowed)
            return y + self._ff(self.norm3(y))
        y = self.norm1(y + self._sa(y, causal))
        y = self.norm2(y + self._ca(y, memory, memory_allowed))
        return self.norm3(y + self._ff(y))

    def step(
        self, y: torch.Tensor, memory_kv: tuple[torch.Tensor, torch.Tensor], memory_allowed: torch.Tensor | None, past_kv: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """:meth:`forward` for the newest position only, ``y`` (B, 1, E), with a key-value cache.

        A position sees itself and the ones before it, so the self-attention needs only their
        keys and values: ``past_kv`` holds those of the earlier positions (B, t, E each) and comes
        back with this one's appended. ``memory_kv`` is the cross-attention's keys and values of
        the memory, projected once (``multihead_attn.project_kv``). Equal to the last position of
        :meth:`forward` over the whole prefix (proven in float64), in O(t) instead of O(t^2).
        """

        def sa(h: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
            k, v = self.self_attn.project_kv(h, h)
            kv = (torch.cat([past_kv[0], k], dim=1), torch.cat([past_kv[1], v], dim=1))
            return self.dropout(self.self_attn.attend(h, *kv)[0]), kv

        def ca(h: torch.Tensor) -> torch.Tensor:
            return self.dropout(self.multihead_attn.attend(h, *memory_kv, memory_allowed)[0])

        if self.norm_first:
            out, kv = sa(self.norm1(y))
            y = y + out
            y = y + ca(self.norm2(y))
            return y + self._ff(self.norm3(y)), kv
        out, kv = sa(y)
        y = self.norm1(y + out)
        y = self.norm2(y + ca(y))
        return self.norm3(y + self._ff(y)), kv
