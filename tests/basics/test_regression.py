"""The regression library against its references, and the linear- and nonlinear-regression katas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

from deepkata.basics.katas.linear_regression import (
    NOTES,
    Level,
    LinearRegressionConfig,
    data_rng,
    observations,
)
from deepkata.basics.regression import (
    MLP,
    MLPConfig,
    PolyConfig,
    PolynomialRegression,
    design,
    excess_mse_uniform,
    gd_contraction,
    gd_step,
    least_squares,
    line_data,
    mse_gradients,
    r2,
)
from deepkata.core import records, runner
from deepkata.core.errors import ConfigError
from deepkata.core.registry import get_kata
from tests.conftest import resume_run, run_kata

F64 = {"dtype": torch.float64, "device": "cpu"}


def data(seed: int = 0, noise: float = 1.0, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    return line_data(np.random.default_rng(seed), n, 3.0, 2.0, noise)


# --- the library ---------------------------------------------------------------------------------


def test_hand_gradient_is_autograds():
    x, d = (torch.tensor(v, **F64) for v in data())
    theta = torch.tensor([0.7, -0.4], **F64, requires_grad=True)
    torch.mean((theta[0] * x + theta[1] - d) ** 2).backward()
    torch.testing.assert_close(mse_gradients(theta.detach(), design(x), d), theta.grad, rtol=0, atol=1e-13)


def test_hand_gradient_descent_is_torch_sgd_on_the_same_gradients():
    x, d = (torch.tensor(v, **F64) for v in data())
    X = design(x)
    hand = torch.zeros(2, **F64)
    twin = torch.zeros(2, **F64, requires_grad=True)
    opt = torch.optim.SGD([twin], lr=0.1)
    for _ in range(50):
        g = mse_gradients(hand, X, d)
        hand = gd_step(hand, g, 0.1)
        twin.grad = g.clone()  # the same gradient into torch's update
        opt.step()
        torch.testing.assert_close(hand, twin.detach(), rtol=0, atol=1e-15)


def test_least_squares_matches_sklearn_and_scipys_standard_errors():
    x, d = data(3, noise=2.0)
    fit = least_squares(x, d)
    ref = LinearRegression().fit(x[:, None], d)
    np.testing.assert_allclose(fit.coef, [ref.coef_[0], ref.intercept_], rtol=0, atol=1e-12)
    lin = stats.linregress(x, d)
    np.testing.assert_allclose(fit.se, [lin.stderr, lin.intercept_stderr], rtol=1e-10)
    t = stats.t.ppf(0.975, len(x) - 2)
    np.testing.assert_allclose(fit.interval(0.95)[0], [lin.slope - t * lin.stderr, lin.slope + t * lin.stderr], rtol=1e-10)


def test_t_intervals_hold_the_truth_95_percent_of_the_time():
    held = [least_squares(*data(s, noise=1.0, n=20)).interval(0.95) for s in range(1000)]
    cover = np.mean([(ci[:, 0] <= [3.0, 2.0]) & ([3.0, 2.0] <= ci[:, 1]) for ci in held], axis=0)
    assert np.all(np.abs(cover - 0.95) <= 0.02)  # 3 binomial standard errors (0.007)


def test_gradient_descent_shrinks_by_the_contraction_rate():
    x, d = data(1, noise=0.0, n=100)
    X, dt = design(torch.tensor(x, **F64)), torch.tensor(d, **F64)
    theta, star = torch.zeros(2, **F64), torch.tensor([3.0, 2.0], **F64)
    rho = gd_contraction(x, 0.1)
    dist = [float(torch.linalg.norm(theta - star))]
    for _ in range(400):
        theta = gd_step(theta, mse_gradients(theta, X, dt), 0.1)
        dist.append(float(torch.linalg.norm(theta - star)))
    assert all(dist[k] <= rho**k * dist[0] * (1 + 1e-9) for k in range(len(dist)))
    assert dist[400] / dist[399] == pytest.approx(rho, abs=1e-6)  # the slow direction is all that is left
    assert 0.98 < rho < 0.995  # x in [0, 1): a narrow valley, about 1.3% a step


def test_excess_mse_is_the_mean_over_uniform_x():
    x = (np.arange(200_000) + 0.5) / 200_000  # the midpoint rule on [0, 1]
    for dw, db in ((0.7, -0.2), (-0.04, 0.01), (0.0, 1.0)):
        assert excess_mse_uniform(dw, db) == pytest.approx(np.mean((dw * x + db) ** 2), rel=1e-8)


def test_r2_is_sklearns():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=40), rng.normal(size=40)
    assert r2(p, y) == pytest.approx(r2_score(y, p), abs=1e-12)


def test_models():
    torch.manual_seed(0)
    poly = PolynomialRegression(PolyConfig(degree=2)).double()
    with torch.no_grad():
        poly.weight.copy_(torch.tensor([[0.2], [0.5], [30.0]], **F64))
    x = torch.linspace(-2, 2, 9, **F64)[:, None]
    torch.testing.assert_close(poly(x), 30 * x**2 + 0.5 * x + 0.2)
    mlp = MLP(MLPConfig(hidden=(8, 4), activation="tanh"))
    assert mlp(torch.zeros(5, 1)).shape == (5, 1)
    assert sum(p.numel() for p in mlp.parameters()) == (1 * 8 + 8) + (8 * 4 + 4) + (4 + 1)


# --- linear-regression ------------------------------------------------------------------------------

LINE = ["seeds=2", "noises=0,3", "steps=200", "converge_steps=300", "n=30"]


def numpy_gd(x: np.ndarray, d: np.ndarray, steps: int, lr: float = 0.1) -> np.ndarray:
    """The notebook's descent, independently, in NumPy."""
    w = b = 0.0
    for _ in range(steps):
        r = w * x + b - d
        w, b = w - lr * np.mean(2 * r * x), b - lr * np.mean(2 * r)
    return np.array([w, b])


def test_linear_run_resumes_to_the_same_numbers_and_they_are_right(tmp_path, interrupt_at_checkpoint):
    whole = run_kata("linear-regression", tmp_path / "whole", preset="default", sets=LINE)
    m = whole.result["metrics"]
    # each job's data is line_data from data_rng(seed, noise); its estimates, recomputed independently
    for noise in (0.0, 3.0):
        sets = [line_data(data_rng(s, noise), 30, 3.0, 2.0, noise) for s in (0, 1)]
        gd = np.median([numpy_gd(x, d, 200) for x, d in sets], axis=0)
        ols = np.median([np.linalg.lstsq(np.c_[x, np.ones_like(x)], d, rcond=None)[0] for x, d in sets], axis=0)
        np.testing.assert_allclose([m[f"noise{noise:g}/gd_w"], m[f"noise{noise:g}/gd_b"]], gd, rtol=0, atol=1e-12)
        np.testing.assert_allclose([m[f"noise{noise:g}/ols_w"], m[f"noise{noise:g}/ols_b"]], ols, rtol=0, atol=1e-12)
    assert m["gd/torch_sgd_max_gap"] <= 1e-13
    assert m["observations/checked"] == 4  # order, prediction, noise 0, the notes' noise-3 estimate
    interrupt_at_checkpoint(2)  # inside the first job: its path, torch twin and optimizer travel
    with pytest.raises(runner.Interrupted) as e:
        run_kata("linear-regression", tmp_path / "cut", preset="default", sets=LINE, checkpoint_interval=0)
    resumed = resume_run(e.value.run_dir)
    assert resumed.result["metrics"] == m
    assert records.read_metrics(resumed.dir / "metrics.jsonl") == records.read_metrics(whole.dir / "metrics.jsonl")


def level(noise: float, gd: list[tuple[float, float]]) -> Level:
    k = len(gd)
    est = np.array(gd)
    paths = np.repeat(est[:, None], 3, axis=1)
    ci = np.stack([est - 0.1, est + 0.1], axis=-1)
    return Level(noise, est, est, est, np.full((k, 2), 0.05), ci, paths, np.full(k, 0.99), [{}] * k)


def test_observations_are_judged_as_stated():
    cfg = LinearRegressionConfig(steps=2, converge_steps=2)
    truthish = [(3.0, 2.0), (3.0, 2.0)]
    levels = [level(1.0, [(2.9, 1.99), (3.1, 2.01)]), level(3.0, [(2.5, 1.98), (3.5, 2.02)])]
    metrics = observations(levels, cfg)[1]
    assert metrics["obs/noise_order_holds"] == 1
    # w off by 0.5 at σ = 3 adds 0.25/3 = 0.083, under 5% of 9; at σ = 1, 0.01/3 under 5% of 1
    assert metrics["obs/prediction_unaffected"] == 1
    # the notes' (2.85, 1.90): b is 0.1 off, 7 of our seeds' sd: 'within 2 sd' fails
    assert metrics["obs/notes_noise1_within_2sd"] == 0
    levels[1] = level(3.0, [(2.95, 1.98), (3.05, 2.02)])  # closer at the larger noise: the order breaks
    assert observations(levels, cfg)[1]["obs/noise_order_holds"] == 0
    levels = [level(0.0, truthish), *levels]  # exactly (3, 2), not the notes' (2.96, 2.01)
    assert observations(levels, cfg)[1]["obs/noise0_is_convergence"] == 0
    assert NOTES[0.0] == (2.96, 2.01)


def test_linear_config_errors():
    kata = get_kata("linear-regression")
    with pytest.raises(ConfigError, match="converge_steps"):
        runner.prepare(kata, "default", ["converge_steps=100"])
    with pytest.raises(ConfigError, match="noises"):
        runner.prepare(kata, "default", ["noises=1,1"])


# --- nonlinear-regression -----------------------------------------------------------------------

CURVE = ["seeds=1", "steps=1000", "mlp.hidden=8", "log_every=100"]


def test_nonlinear_run_resumes_to_the_same_numbers(tmp_path, interrupt_at_checkpoint):
    whole = run_kata("nonlinear-regression", tmp_path / "whole", preset="default", sets=CURVE)
    m = whole.result["metrics"]
    # Adam moves a weight by about lr a step: 1000 steps of 0.001 leave x²'s weight under 1.01
    assert abs(m["poly/lr0.001/w2"]) <= 0.001 * 1000 + 0.01 + 0.05
    assert m["poly/lr0.1/w2"] == pytest.approx(30, abs=3)
    assert m["poly/lr0.001/r2"] < 0.5 and m["poly/lr0.1/r2"] >= 0.99
    assert m["observations/checked"] == 4
    interrupt_at_checkpoint(1)  # after the first 500 steps of the first job
    with pytest.raises(runner.Interrupted) as e:
        run_kata("nonlinear-regression", tmp_path / "cut", preset="default", sets=CURVE, checkpoint_interval=0)
    resumed = resume_run(e.value.run_dir)
    assert resumed.result["metrics"] == m


def test_nonlinear_config_errors():
    with pytest.raises(ConfigError, match="lr_small"):
        runner.prepare(get_kata("nonlinear-regression"), "default", ["lr_small=0.5", "lr_large=0.1"])
