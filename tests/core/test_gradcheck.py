from __future__ import annotations

import numpy as np
import pytest

from deepkata.core.gradcheck import check_gradients, numerical_grad, relative_error


def test_numerical_grad_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    # f = sum(a * x^3)  ->  df/dx = 3 a x^2
    grad = numerical_grad(lambda: float(np.sum(a * x**3)), x)
    np.testing.assert_allclose(grad, 3 * a * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[0.3, -1.2], [2.0, 0.5]])  # restored


def test_relative_error_and_check_gradients():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 2.1)
    assert relative_error(np.array([3.0, 0.0]), np.array([3.0, 4.0])) == pytest.approx(4 / 8)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    w = np.array([1.0, -2.0])
    errors = check_gradients(lambda: float(np.sum(w**2)), {"w": w}, {"w": 2 * w})
    assert errors["w"] < 1e-9
    wrong = check_gradients(lambda: float(np.sum(w**2)), {"w": w}, {"w": w})
    assert wrong["w"] > 0.3
    with pytest.raises(TypeError, match="float64"):
        numerical_grad(lambda: 0.0, np.zeros(2, dtype=np.float32))
