"""The perceptron kata: separability by linear programs, the population of networks against
single PyTorch networks, the readings of the runs, and a tiny run through the runner."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from deepkata.basics.katas.perceptron import epochs_to_learn, still_falling, wrong_cases
from deepkata.basics.perceptron import (
    GATES,
    INPUTS,
    GateNetConfig,
    GateNets,
    boolean_functions,
    gate_data,
    keras_epoch,
    predict_classes,
    separate,
    shuffles,
)
from deepkata.core import records, runner
from deepkata.core.errors import ConfigError
from deepkata.core.registry import get_kata
from tests.conftest import resume_run, run_kata

CPU = torch.device("cpu")


# --- separability --------------------------------------------------------------------------------


@pytest.mark.parametrize("gate", ["or", "and"])
def test_or_and_have_a_separating_line(gate):
    s = separate(INPUTS, GATES[gate])
    assert s.separable and s.certificate is None
    margins = [(1 if t else -1) * (np.dot(s.w, x) + s.b) for x, t in zip(INPUTS, GATES[gate])]
    assert min(margins) >= 1 - 1e-9


def test_xor_has_an_exact_certificate_that_no_line_separates_it():
    s = separate(INPUTS, GATES["xor"])
    assert not s.separable and s.w is None
    assert s.certificate == (Fraction(1, 4),) * 4  # the only one: -(0,0,1) + (0,1,1) + (1,0,1) - (1,1,1) = 0
    # so for any (w, b) the signed scores average to 0: they cannot all be positive
    for w1, w2, b in np.random.default_rng(0).normal(size=(100, 3)):
        scores = [(1 if t else -1) * (w1 * x1 + w2 * x2 + b) for (x1, x2), t in zip(INPUTS, GATES["xor"])]
        assert math.isclose(sum(scores), 0, abs_tol=1e-12)


def test_exactly_xor_and_xnor_of_the_16_functions_are_not_separable_as_scikit_learn_agrees():
    from sklearn.svm import SVC

    unseparable = [f for f in boolean_functions() if not separate(INPUTS, f).separable]
    assert unseparable == [(0, 1, 1, 0), (1, 0, 0, 1)]
    for f in boolean_functions():
        if len(set(f)) == 2:  # a hard-margin linear SVM fits its training set exactly iff a line separates it
            fit = SVC(kernel="linear", C=1e6).fit(np.array(INPUTS), f)
            assert (fit.score(np.array(INPUTS), f) == 1) == separate(INPUTS, f).separable


def test_labels_must_be_binary():
    with pytest.raises(ValueError, match="0 or 1"):
        separate(INPUTS, (0, 1, 2, 1))


# --- the networks ----------------------------------------------------------------------------------


def population(cfg: GateNetConfig, seeds: list[int]) -> GateNets:
    return GateNets(cfg, len(seeds), CPU).keras_init_([torch.Generator(device="cpu").manual_seed(s) for s in seeds])


def test_keras_initialization_is_per_seed_glorot_uniform_with_zero_biases():
    small, big = population(GateNetConfig(hidden=3), [5, 6]), population(GateNetConfig(hidden=3), [4, 5, 6, 7])
    for w_small, w_big in zip(small.weights, big.weights):
        assert torch.equal(w_small[0], w_big[1]) and torch.equal(w_small[1], w_big[2])  # seed 5 draws the same weights
    for w in big.weights:
        fan_in, fan_out = w.shape[1:]
        assert w.abs().max() <= math.sqrt(6 / (fan_in + fan_out)) and w.abs().max() > 0.3 * math.sqrt(6 / (fan_in + fan_out))
    assert all(torch.count_nonzero(b) == 0 for b in big.biases)


@pytest.mark.parametrize(("cfg", "batch"), [(GateNetConfig(hidden=0), 1), (GateNetConfig(hidden=0), 10), (GateNetConfig(hidden=3, activation="tanh"), 3)])
def test_each_member_trains_as_its_own_torch_network(cfg, batch):
    """Three members trained together equal three nn.Sequential networks each trained alone with
    torch.optim.SGD on nn.BCELoss over its own batches, in float64."""
    seeds, epochs = [0, 1, 2], 5
    net = population(cfg, seeds).double()
    gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
    GateNets(cfg, len(seeds), CPU).keras_init_(gens)  # advance the generators past the initial weights
    orders = shuffles(gens, epochs, 4, CPU)  # (E, S, 4)
    x, t = (v.double() for v in gate_data("xor", CPU))
    singles = []
    for k in range(len(seeds)):
        layers = [nn.Linear(w.shape[1], w.shape[2]).double() for w in net.weights]
        with torch.no_grad():
            for lin, w, b in zip(layers, net.weights, net.biases):
                lin.weight.copy_(w[k].T), lin.bias.copy_(b[k])
        seq = nn.Sequential(*(layers if len(layers) == 1 else [layers[0], nn.Tanh(), layers[1]]), nn.Sigmoid())
        singles.append(seq)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for e in range(epochs):
        losses = keras_epoch(net, opt, x, t, orders[e], batch)
        for k, seq in enumerate(singles):
            single_opt = torch.optim.SGD(seq.parameters(), lr=0.5)  # plain SGD: stateless
            seen = []
            for start in range(0, 4, batch):
                idx = orders[e, k, start : start + batch]
                loss = nn.BCELoss()(seq(x[idx])[:, 0], t[idx])
                single_opt.zero_grad(), loss.backward(), single_opt.step()
                seen.append(loss.item() * len(idx))
            assert losses[k].item() == pytest.approx(sum(seen) / 4, abs=1e-12)  # Keras' history: before each update
    for k, seq in enumerate(singles):
        linears = [m for m in seq if isinstance(m, nn.Linear)]
        for lin, w, b in zip(linears, net.weights, net.biases):
            torch.testing.assert_close(w[k].T, lin.weight, rtol=0, atol=1e-12)
            torch.testing.assert_close(b[k], lin.bias, rtol=0, atol=1e-12)
    probs = torch.sigmoid(net(x.expand(3, 4, 2)))
    assert torch.equal(predict_classes(net, x), probs > 0.5)
    torch.testing.assert_close(probs[1], singles[1](x)[:, 0], rtol=0, atol=1e-12)


def test_a_batch_of_ten_is_one_full_batch_update_an_epoch():
    net = population(GateNetConfig(hidden=0), [3]).double()
    x, t = (v.double() for v in gate_data("or", CPU))
    w0, b0 = net.weights[0][0, :, 0].detach().clone(), net.biases[0][0, 0].item()
    y = torch.sigmoid(x @ w0 + b0)
    loss = keras_epoch(net, torch.optim.SGD(net.parameters(), lr=0.1), x, t, torch.tensor([[2, 0, 3, 1]]), 10)
    assert loss.item() == pytest.approx(nn.functional.binary_cross_entropy(y, t).item(), abs=1e-12)
    # d(mean BCE)/dz = (y - t) / 4: one gradient step on the whole table
    torch.testing.assert_close(net.weights[0][0, :, 0], w0 - 0.1 * x.T @ (y - t) / 4, rtol=0, atol=1e-12)
    assert net.biases[0][0, 0].item() == pytest.approx(b0 - 0.1 * (y - t).mean().item(), abs=1e-12)


# --- reading the runs ------------------------------------------------------------------------------


def test_wrong_cases_and_epochs_to_learn():
    # OR, two networks, three epochs: outputs on (0,0), (0,1), (1,0), (1,1)
    proba = np.array([
        [[0.6, 0.7, 0.7, 0.9], [0.6, 0.4, 0.7, 0.9]],
        [[0.4, 0.7, 0.7, 0.9], [0.6, 0.6, 0.7, 0.9]],
        [[0.3, 0.8, 0.8, 0.9], [0.5, 0.6, 0.7, 0.9]],  # 0.5 is class 0: predict_classes needs y > 0.5
    ])  # fmt: skip
    assert wrong_cases(proba, "or")[0].tolist() == [[True, False, False, False], [True, True, False, False]]
    assert epochs_to_learn(proba, "or").tolist() == [2, 3]
    assert epochs_to_learn(proba[:2], "or").tolist() == [2, 0]


def test_still_falling_is_the_sign_of_the_least_squares_slope():
    epochs = np.arange(1, 21)
    loss = np.stack([1 / epochs, 0.2 + 0.001 * epochs, np.r_[np.ones(10), 5 - 0.01 * epochs[10:]]], axis=1)  # (E, S)
    assert still_falling(loss, 20).tolist() == [True, False, True]
    assert still_falling(loss, 10).tolist() == [True, False, False]
    slope = np.polyfit(np.arange(10), loss[10:20, 1], 1)[0]
    assert slope > 0


# --- the kata -----------------------------------------------------------------------------------------

TINY = ["seeds=6", "epochs=4", "more_epochs=10", "most_epochs=12", "xor_epochs=8"]


def test_tiny_run_reports_every_observation_from_its_logs(tmp_path):
    res = run_kata("perceptron", tmp_path, preset="default", sets=TINY)
    m = res.result["metrics"]
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    for job, epoch, key in (("or", 4, "or/learned_at_epochs"), ("or-batch10", 12, "or-batch10/learned_at_most_epochs"), ("xor-hidden", 8, "xor-hidden/learned_at_final")):
        line = next(r for r in logged if r["job"] == job and r["step"] == epoch)
        assert line["train/share_learned"] == m[key]
        assert (m[key] * 6).is_integer()
    line = next(r for r in logged if r["job"] == "and" and r["step"] == 4)
    assert line["train/loss"] == m["and/loss_at_epochs"]  # the median over the 6 seeds
    assert m["separability/functions"] == 14 and m["separability/xor"] == 0 and m["xor/learned_at_most_epochs"] == 0
    assert m["obs/loss_order"] == float(m["or/loss_at_epochs"] < m["and/loss_at_epochs"] < m["xor/loss_at_epochs"])
    obs = res.result["observations"]
    assert len(obs) == 7 and m["observations/checked"] == 7
    assert [o["reproduced"] for o in obs][2] == bool(m["obs/loss_order"])
    assert obs[5]["reproduced"] is True and "1/4, 1/4, 1/4, 1/4" in obs[5]["ours"]
    for name in ("loss.png", "decision.png"):
        assert (res.dir / name).read_bytes()[:4] == b"\x89PNG"


def test_interrupted_run_resumes_to_the_same_result(tmp_path, interrupt_at_checkpoint):
    whole = run_kata("perceptron", tmp_path / "whole", preset="default", sets=TINY)
    interrupt_at_checkpoint(5)  # in the middle of the first job, OR at batch 1
    with pytest.raises(runner.Interrupted) as e:
        run_kata("perceptron", tmp_path / "cut", preset="default", sets=TINY, checkpoint_interval=0)
    resumed = resume_run(e.value.run_dir)
    assert resumed.result["metrics"] == whole.result["metrics"]
    assert records.read_metrics(resumed.dir / "metrics.jsonl") == records.read_metrics(whole.dir / "metrics.jsonl")


@pytest.mark.parametrize(
    ("sets", "message"),
    [(["epochs=100"], "epochs < more_epochs"), (["big_batch=1", "batch=1"], "batch"), (["xor_net.hidden=0"], "hidden layer")],
)
def test_bad_configs_are_one_line_errors(sets, message):
    with pytest.raises(ConfigError, match=message) as e:
        runner.prepare(get_kata("perceptron"), "default", sets)
    assert "\n" not in str(e.value)
