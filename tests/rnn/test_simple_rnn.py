"""Exact BPTT: the NumPy simple RNN against finite differences and against PyTorch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepkata.core.gradcheck import check_gradients, numerical_grad, relative_error
from deepkata.rnn.binary_addition import make_batch, sigmoid_mse
from deepkata.rnn.scratch.simple_rnn import SimpleRNN, SimpleRNNConfig
from deepkata.rnn.simple_rnn_torch import sigmoid_mse as torch_sigmoid_mse
from deepkata.rnn.simple_rnn_torch import twin


def model_and_batch(activation: str, init: str = "xavier", batch: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    model = SimpleRNN.init(SimpleRNNConfig(n_in=2, hidden=6, n_out=1, activation=activation, init=init), rng)
    a, b = rng.integers(0, 128, size=(2, batch))
    x, d = make_batch(a, b, 8)
    x = x + rng.normal(0, 0.1, size=x.shape)  # off the 0/1 grid, so relu kinks are rarely hit exactly
    return model, x, d


def loss_of(model, x, d) -> float:
    v, _ = model.forward(x)
    return float(sigmoid_mse(v, d)[0].sum())


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_bptt_equals_central_finite_differences(activation):
    model, x, d = model_and_batch(activation, init="he" if activation == "relu" else "xavier")
    v, cache = model.forward(x)
    _, dv = sigmoid_mse(v, d)
    grads, dx = model.backward(cache, dv)
    if activation == "relu":  # a pre-activation within eps of 0 would make differences meaningless
        assert np.min(np.abs(cache.layer.u)) > 1e-4
    errors = check_gradients(lambda: loss_of(model, x, d), model.params, grads)
    assert max(errors.values()) < 1e-6, errors
    assert relative_error(dx, numerical_grad(lambda: loss_of(model, x, d), x)) < 1e-6


@pytest.mark.parametrize(
    "activation, init, batch, bits",
    [
        ("sigmoid", "normal", 1, 8),
        ("sigmoid", "xavier", 4, 8),
        ("relu", "he", 1, 8),
        ("relu", "he", 4, 8),
        ("tanh", "he", 4, 8),
        ("sigmoid", "normal", 2, 12),
        ("tanh", "xavier", 2, 12),
        ("relu", "xavier", 2, 12),
    ],
)
def test_bptt_equals_torch_autograd_in_float64(activation, init, batch, bits):
    rng = np.random.default_rng(batch * 10 + bits)
    model = SimpleRNN.init(SimpleRNNConfig(hidden=16, activation=activation, init=init), rng)
    a, b = rng.integers(0, 2 ** (bits - 1), size=(2, batch))
    x, d = make_batch(a, b, bits)
    v, cache = model.forward(x)
    loss, dv = sigmoid_mse(v, d)
    grads, dx = model.backward(cache, dv)

    ref = twin(model.params, activation)
    xt = torch.tensor(x, requires_grad=True)
    vt, _ = ref(xt)
    lt = torch_sigmoid_mse(vt, torch.tensor(d))
    lt.sum().backward()

    np.testing.assert_allclose(v, vt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=0, atol=1e-10)
    ref_grads = {"W_in": ref.rnn.weight_ih_l0.grad.numpy().T, "W": ref.rnn.weight_hh_l0.grad.numpy().T, "W_out": ref.head.weight.grad.numpy().T}
    for name in ("W_in", "W", "W_out"):
        diff = np.max(np.abs(grads[name] - ref_grads[name]))
        assert diff < 1e-10, (name, diff)
    assert np.max(np.abs(dx - xt.grad.numpy())) < 1e-10


def test_the_course_derivative_is_not_the_gradient():
    model, x, d = model_and_batch("sigmoid")
    v, cache = model.forward(x)
    _, exact = sigmoid_mse(v, d, "exact")
    _, course = sigmoid_mse(v, d, "course")
    vt = torch.tensor(v, requires_grad=True)
    torch_sigmoid_mse(vt, torch.tensor(d)).sum().backward()
    np.testing.assert_allclose(exact, vt.grad.numpy(), rtol=1e-13, atol=1e-15)
    assert np.max(np.abs(course - vt.grad.numpy())) > 1e-3
    with pytest.raises(ValueError, match="unknown output_grad"):
        sigmoid_mse(v, d, "approx")


def test_weights_of_the_wrong_shape_are_refused():
    cfg = SimpleRNNConfig(hidden=4)
    params = {"W_in": np.zeros((2, 4)), "W": np.zeros((4, 4)), "W_out": np.zeros((5, 1))}
    with pytest.raises(ValueError, match=r"W_out has shape \(5, 1\), expected \(4, 1\)"):
        SimpleRNN(cfg, params)
