"""The iris kata: the network and its backpropagation against autograd, the Keras-style history,
the split and metrics against scikit-learn, the observation rules, and runs through the runner."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepkata.basics.iris import IrisMLP, IrisMLPConfig, evaluate, first_layer_gradient, load_split, logistic_regression_accuracy, train_epoch
from deepkata.basics.katas.iris import SETTING_IDS, IrisConfig, drops, epochs_to, judge, late_std
from deepkata.core import records, runner
from deepkata.core.errors import ConfigError
from deepkata.core.registry import get_kata
from tests.conftest import resume_run, run_kata


def data(seed: int = 0, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    s = load_split(seed)
    return (torch.tensor(s.x_train, dtype=dtype), torch.tensor(s.y_train), torch.tensor(s.x_test, dtype=dtype), torch.tensor(s.y_test))


def test_keras_initialization():
    torch.manual_seed(0)
    m = IrisMLP(IrisMLPConfig(hidden=200))
    for layer in (m.fc1, m.fc2):
        a = math.sqrt(6 / (layer.in_features + layer.out_features))  # glorot_uniform
        w = layer.weight.detach()
        assert w.abs().max() <= a and w.abs().max() > 0.95 * a
        assert abs(w.std().item() - a / math.sqrt(3)) < 0.05 * a  # U(-a, a) has std a / sqrt(3)
        assert torch.equal(layer.bias.detach(), torch.zeros_like(layer.bias))


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_backpropagation_formulas_match_autograd(activation):
    torch.manual_seed(1)
    x, y, _, _ = data()
    m = IrisMLP(IrisMLPConfig(activation=activation)).double()
    F.cross_entropy(m(x), y).backward()
    g1, g2 = first_layer_gradient(m, x, y)
    torch.testing.assert_close(g1, m.fc1.weight.grad, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g2, m.fc2.weight.grad, rtol=1e-12, atol=1e-14)
    # the slope the sigmoid passes back is at most 1/4, ReLU's is 0 or 1
    slope = m.act_slope(m.hidden_pre(x)).detach()
    assert slope.max() <= 0.25 if activation == "sigmoid" else set(slope.unique().tolist()) <= {0.0, 1.0}


def test_an_epoch_reports_keras_history_and_the_gradient_norms():
    torch.manual_seed(2)
    x, y, _, _ = data()
    m = IrisMLP(IrisMLPConfig(activation="sigmoid")).double()
    order = torch.randperm(len(x))
    # lr = 0: every batch is scored by the same weights, so Keras' running means are the whole set's
    stats = train_epoch(m, torch.optim.SGD(m.parameters(), lr=0.0), x, y, order, batch=5)
    loss, acc = evaluate(m, x, y)
    assert stats.loss == pytest.approx(loss, rel=1e-12) and stats.accuracy == pytest.approx(acc, abs=1e-12)
    norms = [[g.norm().item() for g in first_layer_gradient(m, x[i], y[i])] for i in order.split(5)]
    assert stats.grad_w1 == pytest.approx(np.mean([n[0] for n in norms]), rel=1e-10)
    assert stats.grad_w2 == pytest.approx(np.mean([n[1] for n in norms]), rel=1e-10)
    # with a step, the history scores each batch before its update: the first batch as at the start
    before = evaluate(m, x[order[:5]], y[order[:5]])[0]
    stats = train_epoch(m, torch.optim.SGD(m.parameters(), lr=0.5), x, y, order[:5], batch=5)
    assert stats.loss == pytest.approx(before, rel=1e-12) and evaluate(m, x[order[:5]], y[order[:5]])[0] < before


def test_evaluate_matches_scikit_learn():
    from sklearn.metrics import accuracy_score, log_loss

    torch.manual_seed(3)
    _, _, xt, yt = data()
    m = IrisMLP(IrisMLPConfig()).double()
    loss, acc = evaluate(m, xt, yt)
    with torch.no_grad():
        p = torch.softmax(m(xt), 1).numpy()
    assert acc == pytest.approx(accuracy_score(yt.numpy(), p.argmax(1)), abs=1e-12)
    assert loss == pytest.approx(log_loss(yt.numpy(), p, labels=[0, 1, 2]), rel=1e-9)


def test_the_split_is_stratified_seeded_and_whole():
    a, b, c = load_split(0), load_split(0), load_split(1)
    assert np.array_equal(a.x_test, b.x_test) and not np.array_equal(a.x_test, c.x_test)
    assert np.bincount(a.y_test).tolist() == [10, 10, 10] and np.bincount(a.y_train).tolist() == [40, 40, 40]
    from sklearn.datasets import load_iris

    iris = load_iris()
    rows = sorted(tuple(r) + (d,) for x, y in ((a.x_train, a.y_train), (a.x_test, a.y_test)) for r, d in zip(x, y))
    assert rows == sorted(tuple(r) + (d,) for r, d in zip(iris.data, iris.target))  # every flower once, train or test
    assert np.bincount(load_split(0, test_size=0.1).y_test).tolist() == [5, 5, 5]


def hist(train=(), test=(), g1=(1.0,), g2=(1.0,), slope=(0.5,)):
    n = max(len(train), len(test))
    return {"train_accuracy": list(train) or [0.0] * n, "test_accuracy": list(test) or [0.0] * n, "grad_w1": list(g1) * n,
            "grad_w2": list(g2) * n, "slope": list(slope) * n, "train_loss": [0.0] * n, "test_loss": [0.0] * n}  # fmt: skip


def test_epoch_and_instability_statistics():
    h = hist(train=[0.5, 0.89, 0.9, 0.95], test=[0.9, 28 / 30, 25 / 30, 26 / 30])
    assert epochs_to(h, 0.9) == 3 and epochs_to(h, 0.99) == 5  # never: epochs + 1
    assert drops(h, 4, 0.1) == 1  # 28/30 -> 25/30 is a fall of exactly 10 points, counted
    assert drops(h, 3, 0.1) == 1 and drops(h, 2, 0.1) == 0 and drops(h, 4, 0.11) == 0
    assert late_std(h, 4) == pytest.approx(np.std([25 / 30, 26 / 30]))


def test_each_observation_is_judged_by_its_rule():
    cfg = IrisConfig(epochs=4, notes_epochs=4, seeds=1)
    runs = {
        "baseline": [hist(train=[0.5, 0.8, 0.9, 0.95], test=[0.6, 0.9, 0.9, 0.9], g1=(2.0,), g2=(1.0,))],
        "sigmoid": [hist(train=[0.4, 0.5, 0.6, 0.7], test=[0.5, 0.6, 0.7, 0.8], g1=(0.1,), g2=(1.0,))],  # 20x smaller
        "sgd0.1": [hist(train=[0.9, 0.9, 0.9, 0.9], test=[0.9, 0.7, 0.9, 0.6])],  # sooner, two drops
    }
    metrics, obs = judge(cfg, runs, logreg=[0.85], seeds=[0])
    verdicts = {o.claim: o.reproduced for o in obs}
    assert list(verdicts.values()) == [True, True, True, True, True] and len(verdicts) == 5
    assert metrics["obs/sigmoid_train_gap"] == pytest.approx(0.25) and metrics["obs/sigmoid_w1_shrink"] == pytest.approx(20)
    assert metrics["obs/sgd_epochs_saved"] == 2 and metrics["obs/sgd_extra_drops"] == 2
    assert metrics["obs/mlp_minus_logreg"] == pytest.approx(0.05)
    runs["sigmoid"] = [hist(train=[0.4, 0.6, 0.8, 0.9], test=[0.5] * 4, g1=(0.5,), g2=(0.5,))]  # 5 points behind, 4x (ratio 2x)
    runs["sgd0.1"] = [hist(train=[0.5, 0.8, 0.9, 0.9], test=[0.6, 0.9, 0.9, 0.9])]  # same as the baseline
    _, obs = judge(cfg, runs, logreg=[0.9], seeds=[0])
    assert [o.reproduced for o in obs] == [False, False, False, False, False]


TINY = ["epochs=3", "notes_epochs=2", "seeds=2"]


def test_tiny_run_reports_what_it_logged(tmp_path):
    res = run_kata("iris", tmp_path, preset="default", sets=TINY, seed=5)
    m = res.result["metrics"]
    logged = records.read_metrics(res.dir / "metrics.jsonl")
    for s in SETTING_IDS:
        at = {e: sorted((r for r in logged if r["job"].startswith(f"{s}/") and r["step"] == e), key=lambda r: r["job"]) for e in (1, 2, 3)}
        assert [r["job"] for r in at[3]] == [f"{s}/seed5", f"{s}/seed6"]
        assert m[f"{s}/test_accuracy_notes"] == pytest.approx(np.mean([r["test/accuracy"] for r in at[2]]))
        assert m[f"{s}/test_accuracy_final"] == pytest.approx(np.mean([r["test/accuracy"] for r in at[3]]))
        assert m[f"{s}/grad_w1_epoch1"] == pytest.approx(np.mean([r["grad/w1"] for r in at[1]]))
        assert all((r["test/accuracy"] * 30) == pytest.approx(round(r["test/accuracy"] * 30)) for r in at[3])  # 30 test flowers
    # the baseline: scikit-learn's logistic regression on the same two splits
    from sklearn.linear_model import LogisticRegression

    want = [LogisticRegression(max_iter=5000).fit(s.x_train, s.y_train).score(s.x_test, s.y_test) for s in map(load_split, (5, 6))]
    assert m["logreg/test_accuracy"] == pytest.approx(np.mean(want)) == pytest.approx(np.mean([logistic_regression_accuracy(load_split(k)) for k in (5, 6)]))
    assert m["obs/mlp_minus_logreg"] == pytest.approx(m["baseline/test_accuracy_notes"] - np.mean(want))
    assert m["observations/checked"] == 5
    table = (res.dir / "report.md").read_text()
    assert "## The notes' observations" in table and "SGD(lr=0.1): the accuracy is unstable" in table
    with open(res.dir / "accuracy.csv") as f:
        assert [r["setting"] for r in csv.DictReader(f)][-1] == "logistic regression (scikit-learn)"
    for name in ("curves.png", "gradients.png"):
        assert (res.dir / name).read_bytes()[:4] == b"\x89PNG"


def test_interrupted_run_resumes_to_the_same_result(tmp_path, interrupt_at_checkpoint):
    sets = [*TINY, "settings=baseline,sgd0.1"]
    whole = run_kata("iris", tmp_path / "whole", preset="default", sets=sets)
    # checkpoints after epochs 1 and 2 of a job, then its result: the 5th is mid-way through baseline/seed1
    interrupt_at_checkpoint(5)
    with pytest.raises(runner.Interrupted) as e:
        run_kata("iris", tmp_path / "cut", preset="default", sets=sets, checkpoint_interval=0)
    resumed = resume_run(e.value.run_dir)
    assert resumed.result["metrics"] == whole.result["metrics"]
    assert records.read_metrics(resumed.dir / "metrics.jsonl") == records.read_metrics(whole.dir / "metrics.jsonl")


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["settings=sigmoid"], "include it"),
        (["epochs=10", "notes_epochs=20"], "notes_epochs=20 is more than epochs=10"),
        (["model.activation=sigmoid"], "leave it relu"),
        (["model.classes=4"], "leave them 4 and 3"),
        (["test_size=0.9"], "test_size"),
    ],
)
def test_bad_config_is_one_line_error(sets, message):
    with pytest.raises(ConfigError, match=message) as e:
        runner.prepare(get_kata("iris"), "default", sets)
    assert "\n" not in str(e.value)
