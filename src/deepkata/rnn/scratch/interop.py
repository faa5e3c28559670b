"""Weights between the from-scratch stacks and ``torch.nn.RNN/GRU/LSTM``.

Mapping, for level k (suffix ``_reverse`` for the backward direction of a bidirectional
level; our keys ``l{k}/<key>`` or ``l{k}/fwd/<key>``, ``l{k}/bwd/<key>``):

| ours      | PyTorch                       | note |
|-----------|-------------------------------|------|
| ``W_x``   | ``weight_ih_l{k}.T``          | (I, G*H) vs (G*H, I) |
| ``W_h``   | ``weight_hh_l{k}.T``          | (H, G*H) vs (G*H, H) |
| ``b``     | ``bias_ih_l{k} + bias_hh_l{k}`` | RNN and LSTM: the two biases only appear summed |
| ``b_x``   | ``bias_ih_l{k}``              | GRU |
| ``b_h``   | ``bias_hh_l{k}``              | GRU: its n-part sits inside r * (...) |

The gate blocks along G*H are in the same order on both sides: LSTM (i, f, g, o) — input,
forget, candidate ("cell"), output; GRU (r, z, n) — reset, update, candidate. Copying ours into
PyTorch puts ``b`` in ``bias_ih`` and zeros in ``bias_hh``; then dL/d(bias_ih) and
dL/d(bias_hh) both equal our dL/db. Peepholes have no PyTorch counterpart.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from deepkata.rnn.scratch.bidirectional import Bidirectional
from deepkata.rnn.scratch.elman import ElmanLayer
from deepkata.rnn.scratch.gru import GRULayer
from deepkata.rnn.scratch.layer import RecurrentLayer
from deepkata.rnn.scratch.lstm import LSTMLayer
from deepkata.rnn.scratch.stack import RecurrentStack


def _directions(level: RecurrentLayer) -> list[tuple[str, RecurrentLayer]]:
    if isinstance(level, Bidirectional):
        return [("", level.fwd), ("_reverse", level.bwd)]
    return [("", level)]


def torch_module(stack: RecurrentStack, dtype: torch.dtype = torch.float64) -> nn.RNNBase:
    """A ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` (batch_first) holding ``stack``'s weights."""
    first = _directions(stack.levels[0])[0][1]
    bidirectional = isinstance(stack.levels[0], Bidirectional)
    n_in = first.params["W_x"].shape[0]
    kwargs = {"num_layers": len(stack.levels), "bidirectional": bidirectional, "batch_first": True, "dtype": dtype}
    if isinstance(first, LSTMLayer):
        if first.peephole:
            raise ValueError("PyTorch's LSTM has no peephole connections")
        module: nn.RNNBase = nn.LSTM(n_in, first.hidden, **kwargs)
    elif isinstance(first, GRULayer):
        module = nn.GRU(n_in, first.hidden, **kwargs)
    elif isinstance(first, ElmanLayer):
        if first.act.name not in ("tanh", "relu") or not first.bias:
            raise ValueError("nn.RNN needs a tanh or relu Elman layer with a bias")
        module = nn.RNN(n_in, first.hidden, nonlinearity=first.act.name, **kwargs)
    else:
        raise TypeError(f"no PyTorch module for {type(first).__name__}")
    with torch.no_grad():
        for k, level in enumerate(stack.levels):
            for suffix, layer in _directions(level):
                p = layer.params

                def put(name: str, value: np.ndarray, k: int = k, suffix: str = suffix) -> None:
                    getattr(module, f"{name}_l{k}{suffix}").copy_(torch.from_numpy(np.ascontiguousarray(value)))

                put("weight_ih", p["W_x"].T)
                put("weight_hh", p["W_h"].T)
                if "b" in p:
                    put("bias_ih", p["b"])
                    put("bias_hh", np.zeros_like(p["b"]))
                else:
                    put("bias_ih", p["b_x"])
                    put("bias_hh", p["b_h"])
    return module


def torch_grads(module: nn.RNNBase, stack: RecurrentStack) -> dict[str, np.ndarray]:
    """The gradients held by ``module``'s parameters, under ``stack``'s keys.

    For a merged bias ``b`` this is dL/d(bias_ih); :func:`merged_bias_grads_agree` checks that
    dL/d(bias_hh) is the same.
    """
    grads = {}
    for k, level in enumerate(stack.levels):
        for suffix, layer in _directions(level):
            prefix = f"l{k}/" + ({"": "fwd/", "_reverse": "bwd/"}[suffix] if isinstance(level, Bidirectional) else "")

            def grad(name: str, k: int = k, suffix: str = suffix) -> np.ndarray:
                return getattr(module, f"{name}_l{k}{suffix}").grad.detach().numpy()

            grads[prefix + "W_x"] = grad("weight_ih").T
            grads[prefix + "W_h"] = grad("weight_hh").T
            if "b" in layer.params:
                grads[prefix + "b"] = grad("bias_ih")
            else:
                grads[prefix + "b_x"] = grad("bias_ih")
                grads[prefix + "b_h"] = grad("bias_hh")
    return grads


def merged_bias_grads_agree(module: nn.RNNBase, atol: float = 0.0) -> bool:
    """For RNN and LSTM, dL/d(bias_ih) equals dL/d(bias_hh) at every level."""
    names = [n for n, _ in module.named_parameters() if n.startswith("bias_ih")]
    return all(
        torch.allclose(getattr(module, n).grad, getattr(module, n.replace("bias_ih", "bias_hh")).grad, rtol=0, atol=atol)
        for n in names
    )


def from_torch(module: nn.RNNBase) -> RecurrentStack:
    """The stack that computes what ``module`` computes (float64 copies of its weights, on any device)."""
    mode = type(module).__name__

    def layer(k: int, suffix: str) -> RecurrentLayer:
        def get(name: str) -> np.ndarray:
            return getattr(module, f"{name}_l{k}{suffix}").detach().to("cpu", torch.float64).numpy().copy()

        w_x, w_h = get("weight_ih").T.copy(), get("weight_hh").T.copy()
        if mode == "GRU":
            return GRULayer({"W_x": w_x, "W_h": w_h, "b_x": get("bias_ih"), "b_h": get("bias_hh")})
        b = get("bias_ih") + get("bias_hh")
        if mode == "LSTM":
            return LSTMLayer({"W_x": w_x, "W_h": w_h, "b": b})
        if mode == "RNN":
            return ElmanLayer({"W_x": w_x, "W_h": w_h, "b": b}, module.nonlinearity)
        raise TypeError(f"cannot read a {mode}")

    if not module.bias:
        raise ValueError("from_torch needs a module with biases")
    levels: list[RecurrentLayer] = []
    for k in range(module.num_layers):
        if module.bidirectional:
            levels.append(Bidirectional(layer(k, ""), layer(k, "_reverse")))
        else:
            levels.append(layer(k, ""))
    return RecurrentStack(levels)
