"""Attention: scaled dot-product and multi-head (Vaswani et al., 2017, 3.2), additive
(Bahdanau et al., 2015) and dot-product (Luong et al., 2015) scores for RNN decoders.

Shapes: B batch, T queries, S keys, E model width, H heads, D = E / H.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(D) + M) V           M = -inf where not allowed
    MultiHead(q, k, v) = concat(head_1 .. head_H) W_O,   head_i = Attention(q W_Q^i, k W_K^i, v W_V^i)

Masks are boolean "may attend" tensors broadcast to (B, H, T, S): padding masks hide keys
that are <pad>; the causal mask hides keys after the query's position.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def allowed_mask(key_padding: torch.Tensor | None, causal_len: int | None, device: torch.device | None = None) -> torch.Tensor | None:
    """True where a query may attend: (B, 1, T, S) or (1, 1, T, T), or None for "everywhere".

    ``key_padding`` (B, S) is True at <pad> keys; ``causal_len`` T adds the causal mask.
    """
    mask = None
    if key_padding is not None:
        mask = ~key_padding[:, None, None, :]  # (B, 1, 1, S)
    if causal_len is not None:
        # query t may see keys 0..t
        causal = torch.ones(causal_len, causal_len, dtype=torch.bool, device=device).tril()[None, None]
        mask = causal if mask is None else mask & causal
    return mask


def scaled_dot_product(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(D) + M) V, and the attention weights, for (..., T, D) inputs."""
    # scores (..., T, S)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate Q, K, V and output projections.

    It computes what ``torch.nn.MultiheadAttention(E, H, batch_first=True)`` computes: its
    ``in_proj_weight`` is our ``[W_q; W_k; W_v]`` stacked, ``out_proj`` our ``out_proj``.
    The fast path runs ``F.scaled_dot_product_attention``; ``need_weights`` runs the
    written-out :func:`scaled_dot_product`, without attention dropout, for inspection, and
    returns the weights averaged over heads.
    """

    def __init__(self, embed_dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if embed_dim % heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by heads {heads}")
        self.heads, self.head_dim, self.dropout = heads, embed_dim // heads, dropout
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        # (B, L, E) -> (B, H, L, D)
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        allowed: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query (B, T, E), key and value (B, S, E), ``allowed`` from :func:`allowed_mask`."""
        return self.attend(query, *self.project_kv(key, value), allowed, need_weights)

    def project_kv(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """K = key W_K and V = value W_V, (B, S, E) each: what a decoder caches between steps."""
        return self.k_proj(key), self.v_proj(value)

    def attend(
        self, query: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor | None = None, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Multi-head attention of ``query`` (B, T, E) over keys and values already projected by
        :meth:`project_kv` (B, S, E)."""
        q, k, v = self._split(self.q_proj(query)), self._split(k), self._split(v)
        weights = None
        if need_weights:
            out, w = scaled_dot_product(q, k, v, allowed)
            weights = w.mean(dim=1)  # (B, T, S)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0)
        # (B, H, T, D) -> (B, T, E)
        out = out.transpose(1, 2).reshape(query.shape[0], query.shape[1], -1)
        return self.out_proj(out), weights


class AdditiveAttention(nn.Module):
    """Bahdanau's score: e_j = v^T tanh(W_q q + W_k k_j); weights softmax(e) over the keys."""

    def __init__(self, query_dim: int, key_dim: int, hidden: int) -> None:
        super().__init__()
        self.w_q = nn.Linear(query_dim, hidden, bias=False)
        self.w_k = nn.Linear(key_dim, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, key_padding: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, T, Q), keys (B, S, K) -> context (B, T, K), weights (B, T, S)."""
        # e (B, T, S) = v^T tanh(W_q q_t + W_k k_j)
        e = self.v(torch.tanh(self.w_q(query)[:, :, None, :] + self.w_k(keys)[:, None, :, :]))[..., 0]
        return _attend(e, keys, key_padding)


class DotAttention(nn.Module):
    """Luong's dot score: e_j = q . k_j (query and keys of the same width)."""

    def forward(self, query: torch.Tensor, keys: torch.Tensor, key_padding: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        # e (B, T, S) = q_t . k_j
        return _attend(query @ keys.transpose(1, 2), keys, key_padding)


def _attend(scores: torch.Tensor, keys: torch.Tensor, key_padding: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    if key_padding is not None:
        scores = scores.masked_fill(key_padding[:, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, T, S)
    return weights @ keys, weights
