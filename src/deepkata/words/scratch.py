"""word2vec from scratch in NumPy: CBOW and skip-gram with negative sampling, backward written out.

Notation (Mikolov et al., 2013; Goldberg & Levy's derivation): ``W_in`` (V, D) are the input
vectors (word2vec's ``syn0``, the word vectors kept), ``W_out`` (V, D) the output vectors
(``syn1neg``). A training example is a centre word, its ``c`` contexts (a row of
:func:`~deepkata.words.sampling.windows`, -1 where there is none) and K negatives drawn once for
the example. With ``σ`` the logistic function and ``u = W_out[...]``, an example's loss is

- skip-gram, the centre predicting each of its contexts against the K negatives:
  ``Σ_c [ -log σ(h · u_c) - Σ_k log σ(-h · u_k) ]  =  Σ_c -log σ(h · u_c) - c Σ_k log σ(-h · u_k)``,
  ``h = W_in[centre]``: the same pairs as word2vec's, each with K negatives, but as one
  matrix-vector product per centre (2W + K scores) instead of 2W (K + 1);
- CBOW, the mean of the contexts predicting the centre:
  ``-log σ(h · u_centre) - Σ_k log σ(-h · u_k)``, ``h = mean_c W_in[c]``.

A negative equal to a word the example predicts is left out. Both losses are ``Σ_j w_j ℓ(±s_j)``
over scores ``s_j = h · u_j`` with ``∂/∂s [-log σ(s)] = σ(s) - 1`` and ``∂/∂s [-log σ(-s)] = σ(s)``;
so ``g_j = w_j (σ(s_j) - label_j)``, ``∂L/∂h = Σ_j g_j u_j`` and ``∂L/∂u_j = g_j h``, which the
chain rule takes to the rows of ``W_in`` (skip-gram: the centre's; CBOW: each context's
``∂L/∂h / c``). word2vec's CBOW (and gensim's, with its default mean) steps every context by the
whole ``∂L/∂h``: :func:`sgd_step` does the same with ``cbow="word2vec"``; the gradients stay the
loss's. The losses are sums over examples (SGD steps each row as word2vec steps it per
example). Checked against finite differences and against the PyTorch twin in float64
(:class:`deepkata.words.word2vec.Word2Vec`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["CbowStep", "Gradients", "Mode", "Targets", "loss_and_gradients", "sgd_step", "targets"]

Mode = Literal["skip-gram", "cbow"]
CbowStep = Literal["word2vec", "gradient"]


@dataclass(frozen=True)
class Gradients:
    """Row gradients: ``in_rows`` of ``W_in`` get ``in_values``, ``out_rows`` of ``W_out`` get
    ``out_values`` (rows may repeat: their gradients add)."""

    in_rows: np.ndarray  # (R,)
    in_values: np.ndarray  # (R, D)
    out_rows: np.ndarray  # (S,)
    out_values: np.ndarray  # (S, D)
    in_count: np.ndarray  # (R,) the context count of each input row's example (CBOW; 1 for skip-gram)

    def dense(self, vocab: int) -> tuple[np.ndarray, np.ndarray]:
        """The full gradients (V, D) of ``W_in`` and ``W_out``."""
        d_in = np.zeros((vocab, self.in_values.shape[1]), dtype=self.in_values.dtype)
        d_out = np.zeros((vocab, self.out_values.shape[1]), dtype=self.out_values.dtype)
        np.add.at(d_in, self.in_rows, self.in_values)
        np.add.at(d_out, self.out_rows, self.out_values)
        return d_in, d_out


@dataclass(frozen=True)
class Targets:
    """What each example predicts: output rows (N, J) (0 where unused), their labels (1 for a word
    to predict, 0 for a negative) and their weights (0: unused)."""

    rows: np.ndarray  # (N, J)
    label: np.ndarray  # (N, J)
    weight: np.ndarray  # (N, J)


def targets(centres: np.ndarray, contexts: np.ndarray, negatives: np.ndarray, mode: Mode, dtype: type = np.float64) -> Targets:
    """The output rows, labels and weights of each example (see the module's losses)."""
    valid = contexts >= 0  # (N, 2W)
    count = valid.sum(1, keepdims=True)  # (N, 1) c
    if mode == "skip-gram":  # predict the contexts (weight 1 each), then K negatives (weight c each)
        positives, positive_weight = np.where(valid, contexts, 0), valid.astype(dtype)
        clash = (negatives[:, :, None] == np.where(valid, contexts, -1)[:, None, :]).any(2)  # (N, K) a negative that is a context
        negative_weight = count * ~clash
    else:  # predict the centre, then K negatives
        positives, positive_weight = centres[:, None], np.ones((len(centres), 1), dtype=dtype)
        negative_weight = (negatives != centres[:, None]).astype(dtype)
    rows = np.concatenate([positives, negatives], axis=1)
    label = np.concatenate([np.ones(positives.shape, dtype=dtype), np.zeros(negatives.shape, dtype=dtype)], axis=1)
    return Targets(rows, label, np.concatenate([positive_weight, negative_weight.astype(dtype)], axis=1))


def _sigmoid(s: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * s))  # σ(s), without overflow


def _log_sigmoid(s: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0, -s)  # log σ(s) = -log(1 + e^-s)


def loss_and_gradients(
    w_in: np.ndarray, w_out: np.ndarray, centres: np.ndarray, contexts: np.ndarray, negatives: np.ndarray, mode: Mode
) -> tuple[float, int, Gradients]:
    """The summed loss of the examples, how many predictions it sums (context-centre pairs for
    skip-gram, centres for CBOW), and the row gradients."""
    t = targets(centres, contexts, negatives, mode, w_in.dtype.type)
    valid = contexts >= 0  # (N, 2W)
    count = valid.sum(1, keepdims=True).astype(w_in.dtype)  # (N, 1)
    if mode == "skip-gram":
        h = w_in[centres]  # (N, D) h = W_in[centre]
    else:
        h = (w_in[np.where(valid, contexts, 0)] * valid[:, :, None]).sum(1) / count  # (N, D) h = mean_c W_in[c]
    u = w_out[t.rows]  # (N, J, D)
    s = np.einsum("nd,njd->nj", h, u)  # (N, J) s_j = h . u_j
    # -log σ(s) for a word to predict, -log σ(-s) for a negative
    loss = -(t.weight * _log_sigmoid(np.where(t.label == 1, s, -s))).sum()
    g = t.weight * (_sigmoid(s) - t.label)  # (N, J) dL/ds_j
    d_h = np.einsum("nj,njd->nd", g, u)  # (N, D) dL/dh = Σ_j g_j u_j
    d_u = g[:, :, None] * h[:, None, :]  # (N, J, D) dL/du_j = g_j h
    out = (t.rows.reshape(-1), d_u.reshape(-1, h.shape[1]))
    if mode == "skip-gram":
        return float(loss), int(valid.sum()), Gradients(centres, d_h, *out, np.ones(len(centres)))
    d_x = np.broadcast_to((d_h / count)[:, None, :], (*valid.shape, h.shape[1]))  # each context: dL/dh / c
    return float(loss), len(centres), Gradients(contexts[valid], d_x[valid], *out, np.broadcast_to(count, valid.shape)[valid])


def sgd_step(w_in: np.ndarray, w_out: np.ndarray, grads: Gradients, lr: float, *, cbow: CbowStep = "word2vec") -> None:
    """In place: every row minus ``lr`` times its (summed) gradient; a CBOW context's times its
    example's context count with ``cbow="word2vec"`` (the whole ∂L/∂h, as word2vec steps it)."""
    in_values = grads.in_values * grads.in_count[:, None] if cbow == "word2vec" else grads.in_values
    np.add.at(w_in, grads.in_rows, (-lr * in_values).astype(w_in.dtype))
    np.add.at(w_out, grads.out_rows, (-lr * grads.out_values).astype(w_out.dtype))
