from __future__ import annotations

import numpy as np
import pytest
import torch

from deepkata.rnn.scratch import functional as F

TORCH_ACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_activations_and_derivatives_equal_torch(name):
    u = np.random.default_rng(0).normal(0, 3, size=(7, 5))
    u[0, 0] = 0.3  # keep relu away from its kink
    act = F.activation(name)
    t = torch.tensor(u, requires_grad=True)
    y = TORCH_ACT[name](t)
    y.sum().backward()
    np.testing.assert_allclose(act.fn(u), y.detach().numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(act.grad(u), t.grad.numpy(), rtol=0, atol=1e-15)


def test_sigmoid_is_stable_and_exact_at_the_extremes():
    u = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the right answer
        s = F.sigmoid(u)
    np.testing.assert_allclose(s, torch.sigmoid(torch.tensor(u)).numpy(), rtol=1e-14, atol=0)
    assert s[2] == 0.5


def test_sigmoid_grad_is_taken_at_the_pre_activation():
    # the course's bug: d_sigmoid applied to y = sigmoid(v) instead of v
    v = np.array([2.0])
    assert F.sigmoid_grad(v) == pytest.approx(F.sigmoid(v) * (1 - F.sigmoid(v)))
    assert F.sigmoid_grad(F.sigmoid(v)) != pytest.approx(F.sigmoid_grad(v))


@pytest.mark.parametrize("scheme, fan_in, std", [("normal", 16, 1.0), ("xavier", 16, 0.25), ("he", 8, 0.5), ("xavier", 2, 2**-0.5)])
def test_initializers_have_the_course_standard_deviations(scheme, fan_in, std):
    assert F.init_std(scheme, fan_in) == pytest.approx(std)
    w = F.init_weight(np.random.default_rng(1), fan_in, 4000, scheme)
    assert w.shape == (fan_in, 4000)
    assert w.std() == pytest.approx(std, rel=0.02)


def test_the_same_seed_gives_the_same_draws_under_every_scheme():
    a = F.init_weight(np.random.default_rng(5), 16, 16, "normal")
    b = F.init_weight(np.random.default_rng(5), 16, 16, "xavier")
    np.testing.assert_allclose(b, a / 4)


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        F.activation("gelu")
    with pytest.raises(ValueError, match="unknown init"):
        F.init_std("lecun", 3)


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_grad_norm_equals_torch(max_norm):
    rng = np.random.default_rng(2)
    grads = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5)}
    params = [torch.zeros(3, 4, dtype=torch.float64, requires_grad=True), torch.zeros(5, dtype=torch.float64, requires_grad=True)]
    for p, g in zip(params, grads.values()):
        p.grad = torch.tensor(g)
    expected_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    norm = F.clip_grad_norm(grads, max_norm)
    assert norm == pytest.approx(float(expected_norm), rel=1e-14)
    for p, g in zip(params, grads.values()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-14)
    assert F.global_norm(grads) <= max_norm + 1e-9
