"""The from-scratch Elman RNN, GRU and LSTM equal torch.nn.RNN/GRU/LSTM in float64.

Same weights, same inputs and initial states; the loss L = sum(y*Gy) + sum(h_n*Gh) [+ sum(c_n*Gc)]
with random G makes every output and final state matter. Outputs, final states, every
parameter gradient, dL/dx and dL/d(initial state) must agree to 1e-9 absolute.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepkata.core.gradcheck import check_gradients, numerical_grad, relative_error
from deepkata.rnn.scratch import interop
from deepkata.rnn.scratch.stack import RecurrentStack, build

ATOL = 1e-9

SHAPES = [  # batch, steps, n_in, hidden, layers, bidirectional
    (1, 1, 3, 4, 1, False),
    (3, 7, 5, 4, 1, True),
    (2, 5, 3, 6, 2, False),
    (4, 6, 2, 3, 3, True),
    (2, 20, 4, 5, 2, True),
]
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("gru", "tanh"), ("lstm", "tanh")]


def random_stack(cell, act, n_in, hidden, layers, bidirectional, rng, peephole=False) -> RecurrentStack:
    stack = build(cell, n_in, hidden, rng, layers=layers, bidirectional=bidirectional, activation_name=act, peephole=peephole)
    for value in stack.params.values():
        value[...] = rng.normal(0, 0.5, size=value.shape)  # biases too: nothing left at zero
    return stack


def states_to_torch(states, cell):
    """Our per-level states -> PyTorch's h_n (L*D, B, H) [and c_n]."""
    k = 2 if cell == "lstm" else 1
    flat = [s for level in states for s in level]  # per level: h_f[, c_f][, h_b[, c_b]]
    hs = [torch.tensor(a) for a in flat[0::k]]
    if cell == "lstm":
        return torch.stack(hs), torch.stack([torch.tensor(a) for a in flat[1::k]])
    return torch.stack(hs)


@pytest.mark.parametrize("cell, act", CELLS, ids=[f"{c}-{a}" for c, a in CELLS])
@pytest.mark.parametrize("batch, steps, n_in, hidden, layers, bidirectional", SHAPES)
def test_stack_equals_torch(cell, act, batch, steps, n_in, hidden, layers, bidirectional):
    rng = np.random.default_rng(batch * 100 + steps * 10 + layers)
    stack = random_stack(cell, act, n_in, hidden, layers, bidirectional, rng)
    module = interop.torch_module(stack)
    dirs = 2 if bidirectional else 1
    per_level = (2 if cell == "lstm" else 1) * dirs
    x = rng.normal(size=(batch, steps, n_in))
    states0 = [tuple(rng.normal(size=(batch, hidden)) for _ in range(per_level)) for _ in range(layers)]
    g_y = rng.normal(size=(batch, steps, dirs * hidden))
    g_states = [tuple(rng.normal(size=(batch, hidden)) for _ in range(per_level)) for _ in range(layers)]

    # ours
    y, states, caches = stack.forward(x, states0)
    back = stack.backward(caches, g_y, g_states)

    # PyTorch
    xt = torch.tensor(x, requires_grad=True)
    if cell == "lstm":
        h0, c0 = (t.requires_grad_() for t in states_to_torch(states0, cell))
        yt, (hn, cn) = module(xt, (h0, c0))
        gh, gc = states_to_torch(g_states, cell)
        loss = (yt * torch.tensor(g_y)).sum() + (hn * gh).sum() + (cn * gc).sum()
    else:
        h0 = states_to_torch(states0, cell).requires_grad_()
        yt, hn = module(xt, h0)
        loss = (yt * torch.tensor(g_y)).sum() + (hn * states_to_torch(g_states, cell)).sum()
    loss.backward()

    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=ATOL)
    if cell == "lstm":
        h_ours, c_ours = states_to_torch(states, cell)
        np.testing.assert_allclose(c_ours.numpy(), cn.detach().numpy(), rtol=0, atol=ATOL)
    else:
        h_ours = states_to_torch(states, cell)
    np.testing.assert_allclose(h_ours.numpy(), hn.detach().numpy(), rtol=0, atol=ATOL)

    expected = interop.torch_grads(module, stack)
    assert set(expected) == set(back.grads)
    for name, g in back.grads.items():
        np.testing.assert_allclose(g, expected[name], rtol=0, atol=ATOL, err_msg=name)
    if cell != "gru":
        assert interop.merged_bias_grads_agree(module, atol=1e-12)
    np.testing.assert_allclose(back.dx, xt.grad.numpy(), rtol=0, atol=ATOL)
    if cell == "lstm":
        dh0, dc0 = states_to_torch(back.dstates0, cell)
        np.testing.assert_allclose(dc0.numpy(), c0.grad.numpy(), rtol=0, atol=ATOL)
    else:
        dh0 = states_to_torch(back.dstates0, cell)
    np.testing.assert_allclose(dh0.numpy(), h0.grad.numpy(), rtol=0, atol=ATOL)


TORCH_CELLS = {"rnn": torch.nn.RNNCell, "gru": torch.nn.GRUCell, "lstm": torch.nn.LSTMCell}


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_total_hidden_gradient_per_step_equals_autograd(cell):
    """dh_t = dL/dh_t through every path (output and future steps), as autograd sees it."""
    rng = np.random.default_rng(7)
    stack = random_stack(cell, "tanh", 3, 4, 1, False, rng)
    layer = stack.levels[0]
    x = rng.normal(size=(2, 9, 3))
    g_y = rng.normal(size=(2, 9, 4))
    y, _, caches = stack.forward(x)
    back = stack.backward(caches, g_y)

    torch_cell = TORCH_CELLS[cell](3, 4, dtype=torch.float64)
    module = interop.torch_module(stack)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(torch_cell, name).copy_(getattr(module, f"{name}_l0"))
    h = torch.zeros(2, 4, dtype=torch.float64)
    c = torch.zeros(2, 4, dtype=torch.float64)
    hs = []
    for t in range(9):
        xt = torch.tensor(x[:, t])
        if cell == "lstm":
            h, c = torch_cell(xt, (h, c))
        else:
            h = torch_cell(xt, h)
        h.retain_grad()
        hs.append(h)
    (torch.stack(hs, dim=1) * torch.tensor(g_y)).sum().backward()
    autograd_dh = np.stack([h.grad.numpy() for h in hs], axis=1)
    np.testing.assert_allclose(back.dh[0], autograd_dh, rtol=0, atol=ATOL)
    assert layer.hidden == 4


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_peephole_lstm_equals_finite_differences(layers, bidirectional):
    rng = np.random.default_rng(3)
    stack = random_stack("lstm", "tanh", 3, 4, layers, bidirectional, rng, peephole=True)
    dirs = 2 if bidirectional else 1
    x = rng.normal(size=(2, 6, 3))
    states0 = [tuple(rng.normal(size=(2, 4)) for _ in range(2 * dirs)) for _ in range(layers)]
    g_y = rng.normal(size=(2, 6, 4 * dirs))
    g_states = [tuple(rng.normal(size=(2, 4)) for _ in range(2 * dirs)) for _ in range(layers)]

    def loss() -> float:
        y, states, _ = stack.forward(x, states0)
        return float(np.sum(y * g_y) + sum(np.sum(s * g) for st, gs in zip(states, g_states) for s, g in zip(st, gs)))

    _, _, caches = stack.forward(x, states0)
    back = stack.backward(caches, g_y, g_states)
    assert {"l0/p_i", "l0/p_f", "l0/p_o"} <= set(back.grads) or {"l0/fwd/p_i", "l0/bwd/p_o"} <= set(back.grads)
    errors = check_gradients(loss, stack.params, back.grads)
    assert max(errors.values()) < 1e-6, errors
    assert relative_error(back.dx, numerical_grad(loss, x)) < 1e-6
    for k, level_state in enumerate(states0):
        for s, ds in zip(level_state, back.dstates0[k]):
            assert relative_error(ds, numerical_grad(loss, s)) < 1e-6


def test_peepholes_change_the_output_and_cannot_go_to_torch():
    rng = np.random.default_rng(0)
    stack = random_stack("lstm", "tanh", 2, 3, 1, False, rng, peephole=True)
    x = rng.normal(size=(1, 4, 2))
    y_with, _, _ = stack.forward(x)
    for name in ("l0/p_i", "l0/p_f", "l0/p_o"):
        stack.params[name][...] = 0.0
    y_without, _, _ = stack.forward(x)
    assert np.max(np.abs(y_with - y_without)) > 1e-3
    with pytest.raises(ValueError, match="no peephole"):
        interop.torch_module(stack)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_from_torch_reads_back_what_torch_computes(cell):
    torch.manual_seed(0)
    kind = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
    module = kind(3, 5, num_layers=2, bidirectional=True, batch_first=True)  # float32, PyTorch's own init
    stack = interop.from_torch(module)
    x = np.random.default_rng(1).normal(size=(2, 7, 3))
    y, _, _ = stack.forward(x)
    with torch.no_grad():
        yt, _ = module(torch.tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(y, yt.numpy(), rtol=0, atol=1e-5)  # float32 on PyTorch's side
