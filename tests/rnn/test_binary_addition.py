from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepkata.core.errors import ConfigError, UserError
from deepkata.rnn.binary_addition import Trainer, TrainSettings, all_pairs, evaluate, from_bits, make_batch, to_bits


@given(st.integers(0, 2**12 - 1), st.integers(1, 13))
def test_bits_roundtrip_least_significant_first(n, bits):
    b = to_bits(np.array(n), bits)
    assert b.shape == (bits,)
    assert from_bits(b) == n % 2**bits
    if n % 2:
        assert b[0] == 1


def test_batches_hold_operands_and_their_sum():
    x, d = make_batch(np.array([5, 127]), np.array([3, 127]), 8)
    assert x.shape == (2, 8, 2) and d.shape == (2, 8, 1)
    assert from_bits(x[..., 0]).tolist() == [5, 127]
    assert from_bits(x[..., 1]).tolist() == [3, 127]
    assert from_bits(d[..., 0]).tolist() == [8, 254]


def test_all_pairs_is_every_pair_below_half():
    a, b = all_pairs(8)
    assert len(a) == 128 * 128
    assert len(set(zip(a.tolist(), b.tolist()))) == 128 * 128
    assert a.max() == b.max() == 127


def test_training_is_the_same_however_it_is_chunked():
    s = TrainSettings(iterations=700)
    whole, chunked = Trainer(s, 4), Trainer(s, 4)
    whole.train(700)
    while not chunked.done:
        chunked.train(37)
    for name in ("W_in", "W", "W_out"):
        np.testing.assert_array_equal(whole.model.params[name], chunked.model.params[name])
    np.testing.assert_array_equal(whole.losses, chunked.losses)


def test_state_dict_resumes_exactly():
    s = TrainSettings(iterations=600, activation="tanh", init="he")
    whole = Trainer(s, 1)
    whole.train(600)
    first = Trainer(s, 1)
    first.train(250)
    second = Trainer(s, 999)  # a different seed: everything must come from the state
    second.load_state_dict(first.state_dict())
    second.train(350)
    np.testing.assert_array_equal(whole.model.params["W"], second.model.params["W"])
    np.testing.assert_array_equal(whole.correct, second.correct)


def test_converged_at_is_the_start_of_the_final_perfect_window():
    t = Trainer(TrainSettings(iterations=1000), 0)
    t.iteration = 1000
    t.correct[:] = True
    t.correct[[10, 349]] = False  # 1-based iterations 11 and 350 were wrong
    assert t.converged_at(100) == 450
    t.correct[949] = False  # a mistake in the final window
    assert t.converged_at(100) is None
    t.correct[:] = True
    assert t.converged_at(100) == 100


@pytest.mark.parametrize("change", [{"lr": 1e9}, {"blowup": 0.5}])
def test_divergence_stops_training_without_raising(change):
    t = Trainer(TrainSettings(iterations=2000, init="he", activation="relu", **change), 0)
    t.train(2000)
    assert t.diverged_at is not None and t.diverged_at < 2000
    assert t.done and t.iteration == t.diverged_at
    assert t.converged_at(100) is None


def test_clipping_bounds_every_update():
    t = Trainer(TrainSettings(iterations=300, activation="relu", init="he", clip=0.5), 0)
    before = {k: v.copy() for k, v in t.model.params.items()}
    t.train(1)
    step = np.sqrt(sum(np.sum((t.model.params[k] - before[k]) ** 2) for k in before))
    assert step <= 0.1 * 0.5 + 1e-9  # lr * max_norm


def test_settings_check_their_fields():
    with pytest.raises(ConfigError, match="hidden must be > 0"):
        TrainSettings(hidden=0)
    with pytest.raises(UserError, match="unknown value for activation 'swish'"):
        TrainSettings(activation="swish")


def test_evaluate_scores_the_network_on_every_pair():
    t = Trainer(TrainSettings(iterations=10), 0)
    ev = evaluate(t.model, 8)
    a, b = all_pairs(8)
    x, d = make_batch(a, b, 8)
    v, _ = t.model.forward(x)
    right = (v > 0) == (d > 0.5)  # (16384, 8, 1)
    assert ev["accuracy"] == np.mean(np.all(right, axis=(1, 2)))
    assert ev["bit_accuracy"] == np.mean(right)
    # L = sum_t 1/2 (sigmoid(v_t) - d_t)^2 per pair, averaged over the pairs
    assert ev["loss"] == pytest.approx(np.mean(0.5 * np.sum((1 / (1 + np.exp(-v)) - d) ** 2, axis=(1, 2))), rel=1e-12)
    assert ev["dead_units"] == 0  # sigmoid units are never exactly zero
