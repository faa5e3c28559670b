"""word2vec: the written-out backward against finite differences and against autograd (float64),
the draws (subsampling, windows, negatives) against their definitions, and exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepkata.words import scratch
from deepkata.words.generated import make_corpus
from deepkata.words.sampling import (
    NegativeTable,
    keep_probabilities,
    subsample,
    windows,
)
from deepkata.words.vocab import TokenStream, WordVocab
from deepkata.words.word2vec import (
    Word2Vec,
    Word2VecConfig,
    Word2VecRecipe,
    Word2VecTrainer,
    _sgd_rows,
)

MODES = ("skip-gram", "cbow")


def _examples(vocab: int = 12, n: int = 6, window: int = 2, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, vocab, n)
    contexts = rng.integers(0, vocab, (n, 2 * window))
    contexts[rng.random(contexts.shape) < 0.3] = -1
    contexts[:, 0] = rng.integers(0, vocab, n)  # every centre has a context
    negatives = rng.integers(0, vocab, (n, k))
    negatives[0, 0] = centres[0]  # a negative equal to its centre: left out
    return centres, contexts, negatives


def _weights(vocab: int = 12, dim: int = 5, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (vocab, dim)), rng.normal(0, 0.5, (vocab, dim))


@pytest.mark.parametrize("mode", MODES)
def test_the_gradients_equal_finite_differences(mode: str) -> None:
    w_in, w_out = _weights()
    centres, contexts, negatives = _examples()
    _, _, grads = scratch.loss_and_gradients(w_in, w_out, centres, contexts, negatives, mode)  # type: ignore[arg-type]
    d_in, d_out = grads.dense(len(w_in))
    eps = 1e-6
    for w, d in ((w_in, d_in), (w_out, d_out)):
        numeric = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            old = w[idx]
            w[idx] = old + eps
            up = scratch.loss_and_gradients(w_in, w_out, centres, contexts, negatives, mode)[0]  # type: ignore[arg-type]
            w[idx] = old - eps
            down = scratch.loss_and_gradients(w_in, w_out, centres, contexts, negatives, mode)[0]  # type: ignore[arg-type]
            w[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(d, numeric, atol=1e-7, rtol=1e-6)
        assert np.abs(d).max() > 1e-3  # not trivially zero


@pytest.mark.parametrize("mode", MODES)
def test_the_numpy_version_equals_its_pytorch_twin(mode: str) -> None:
    w_in, w_out = _weights()
    centres, contexts, negatives = _examples()
    model = Word2Vec(Word2VecConfig(vocab=12, dim=5, mode=mode, cbow_step="gradient")).double()  # type: ignore[arg-type]
    with torch.no_grad():
        model.inputs.weight.copy_(torch.from_numpy(w_in))
        model.outputs.weight.copy_(torch.from_numpy(w_out))
    loss, n = model(*(torch.from_numpy(a) for a in (centres, contexts, negatives)))
    loss.backward()
    ours, ours_n, grads = scratch.loss_and_gradients(w_in, w_out, centres, contexts, negatives, mode)  # type: ignore[arg-type]
    d_in, d_out = grads.dense(12)
    assert n == ours_n and n == (int((contexts >= 0).sum()) if mode == "skip-gram" else len(centres))
    assert abs(float(loss.detach()) - ours) < 1e-12
    np.testing.assert_allclose(model.inputs.weight.grad.to_dense().numpy(), d_in, atol=1e-12)
    np.testing.assert_allclose(model.outputs.weight.grad.to_dense().numpy(), d_out, atol=1e-12)


def test_word2vecs_cbow_step_moves_each_context_by_the_whole_hidden_gradient() -> None:
    w_in, w_out = _weights()
    centres, contexts, negatives = _examples()
    model = Word2Vec(Word2VecConfig(vocab=12, dim=5, mode="cbow")).double()  # cbow_step="word2vec"
    with torch.no_grad():
        model.inputs.weight.copy_(torch.from_numpy(w_in))
        model.outputs.weight.copy_(torch.from_numpy(w_out))
    model(*(torch.from_numpy(a) for a in (centres, contexts, negatives)))[0].backward()
    _, _, grads = scratch.loss_and_gradients(w_in, w_out, centres, contexts, negatives, "cbow")
    count = (contexts >= 0).sum(1)
    assert grads.in_count.tolist() == np.repeat(count, count).tolist()
    stepped_in, stepped_out = w_in.copy(), w_out.copy()
    scratch.sgd_step(stepped_in, stepped_out, grads, 0.1)  # word2vec's step
    with torch.no_grad():
        np.testing.assert_allclose(stepped_in, (model.inputs.weight - 0.1 * model.inputs.weight.grad.to_dense()).numpy(), atol=1e-12)
        np.testing.assert_allclose(stepped_out, (model.outputs.weight - 0.1 * model.outputs.weight.grad.to_dense()).numpy(), atol=1e-12)
    plain_in = w_in.copy()
    scratch.sgd_step(plain_in, w_out.copy(), grads, 0.1, cbow="gradient")
    d_in, _ = grads.dense(12)
    np.testing.assert_allclose(plain_in, w_in - 0.1 * d_in, atol=1e-12)
    assert np.abs(stepped_in - plain_in).max() > 1e-4  # the two steps differ


@pytest.mark.parametrize(("mode", "cbow_step"), [("skip-gram", "word2vec"), ("cbow", "word2vec"), ("cbow", "gradient")])
def test_the_fused_update_takes_the_autograd_step(mode: str, cbow_step: str) -> None:
    w_in, w_out = _weights()
    centres, contexts, negatives = _examples(n=20, seed=3)
    negatives[1, :2] = negatives[1, 2]  # a row drawn more than once in an example: its steps add
    stepped = []
    for fused in (False, True):
        model = Word2Vec(Word2VecConfig(vocab=12, dim=5, mode=mode, cbow_step=cbow_step)).double()  # type: ignore[arg-type]
        with torch.no_grad():
            model.inputs.weight.copy_(torch.from_numpy(w_in))
            model.outputs.weight.copy_(torch.from_numpy(w_out))
        if fused:
            loss, n = model.sgd_update(centres, contexts, negatives, 0.1)
        else:  # forward, autograd's backward, the sparse SGD step
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            loss, n = model(*(torch.from_numpy(a) for a in (centres, contexts, negatives)))
            loss.backward()
            _sgd_rows(opt)
        stepped.append((float(loss.detach()), n, model.inputs.weight.detach().numpy().copy(), model.outputs.weight.detach().numpy().copy()))
    (loss_a, n_a, in_a, out_a), (loss_b, n_b, in_b, out_b) = stepped
    assert n_a == n_b and abs(loss_a - loss_b) < 1e-12
    np.testing.assert_allclose(in_b, in_a, atol=1e-12)
    np.testing.assert_allclose(out_b, out_a, atol=1e-12)
    assert np.abs(in_b - w_in).max() > 1e-3 and np.abs(out_b - w_out).max() > 1e-3  # both matrices moved


def test_a_loss_that_is_not_finite_takes_no_fused_step() -> None:
    w_in, w_out = _weights()
    w_in[3] = np.inf
    centres, contexts, negatives = _examples()
    model = Word2Vec(Word2VecConfig(vocab=12, dim=5, mode="skip-gram")).double()
    with torch.no_grad():
        model.inputs.weight.copy_(torch.from_numpy(w_in))
        model.outputs.weight.copy_(torch.from_numpy(w_out))
    centres[0] = 3
    loss, _ = model.sgd_update(centres, contexts, negatives, 0.1)
    assert not torch.isfinite(loss)
    np.testing.assert_array_equal(model.outputs.weight.detach().numpy(), w_out)


def test_the_loss_is_the_formula_on_one_example() -> None:
    w_in, w_out = _weights(vocab=5, dim=3)
    # centre 0 with contexts 1 and 2; negatives 3 and 2 (2 is a context: skip-gram leaves it out, CBOW keeps it)
    centres, contexts, negatives = np.array([0]), np.array([[1, -1, 2, -1]]), np.array([[3, 2]])
    sig = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731
    h = w_in[0]
    sg = sum(-np.log(sig(h @ w_out[c])) - np.log(sig(-h @ w_out[3])) for c in (1, 2))  # each pair with its negatives
    h = (w_in[1] + w_in[2]) / 2
    cbow = -np.log(sig(h @ w_out[0])) - np.log(sig(-h @ w_out[3])) - np.log(sig(-h @ w_out[2]))
    assert scratch.loss_and_gradients(w_in, w_out, centres, contexts, negatives, "skip-gram")[:2] == (pytest.approx(sg, rel=1e-12), 2)
    assert scratch.loss_and_gradients(w_in, w_out, centres, contexts, negatives, "cbow")[:2] == (pytest.approx(cbow, rel=1e-12), 1)


def test_subsampling_keeps_words_by_mikolovs_formula() -> None:
    counts = np.array([10_000, 1_000, 10, 1])
    keep = keep_probabilities(counts, 1e-3)
    t = 1e-3 * counts.sum()
    assert keep[0] == pytest.approx((np.sqrt(10_000 / t) + 1) * t / 10_000)
    assert keep[0] < keep[1] < 1 and keep[2] == keep[3] == 1.0
    assert (keep_probabilities(counts, 0) == 1).all()
    ids = np.repeat(np.arange(4), counts)
    kept, _ = subsample(ids, np.zeros_like(ids), keep, np.random.default_rng(0))
    share = (kept == 0).sum() / 10_000
    assert abs(share - keep[0]) < 4 * np.sqrt(keep[0] * (1 - keep[0]) / 10_000)


def test_windows_hold_the_words_within_reach_in_the_same_sentence() -> None:
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 50, 400)
    sentence = np.sort(rng.integers(0, 40, 400))
    window = 4
    centres, contexts = windows(ids, sentence, window, np.random.default_rng(7))
    reach = np.random.default_rng(7).integers(1, window + 1, size=len(ids))  # the same draw
    expected_centres, expected = [], []
    for i in range(len(ids)):  # the definition, one token at a time
        row = [ids[i + d] if 0 <= i + d < len(ids) and abs(d) <= reach[i] and sentence[i + d] == sentence[i] else -1 for d in [*range(-window, 0), *range(1, window + 1)]]
        if max(row) >= 0:
            expected_centres.append(ids[i])
            expected.append(row)
    np.testing.assert_array_equal(centres, expected_centres)
    np.testing.assert_array_equal(contexts, expected)


def test_negatives_follow_the_unigram_distribution_to_the_three_quarters() -> None:
    counts = np.array([1000, 100, 10, 1])
    table = NegativeTable(counts, size=100_000)
    share = np.bincount(table.table, minlength=4) / len(table.table)
    expected = counts**0.75 / (counts**0.75).sum()
    np.testing.assert_allclose(share, expected, atol=1e-4)
    draws = table.draw((50_000,), np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 50_000, expected, atol=0.01)


def test_the_vocabulary_is_frequency_ordered_and_drops_rare_words() -> None:
    vocab = WordVocab.build([["b", "a", "b", "c"], ["a", "b", "d"]], min_count=2)
    assert vocab.words == ["b", "a"] and vocab.counts.tolist() == [3, 2]
    stream = vocab.encode([["b", "a", "b", "c"], ["c"], ["a", "b", "d"]])
    assert stream.ids.tolist() == [0, 1, 0, 1, 0] and stream.sentence.tolist() == [0, 0, 0, 1, 1]
    blocks = TokenStream(np.arange(10), np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])).blocks(4)
    assert blocks.tolist() == [0, 5, 10]  # whole sentences, at least 4 tokens a block


def _trainer(mode: str, backend: str, epochs: int = 2) -> Word2VecTrainer:
    corpus = make_corpus(6_000, seed=1)
    vocab = WordVocab.build(corpus.sentences, 2)
    torch.manual_seed(0)
    model = Word2Vec(Word2VecConfig(vocab=len(vocab), dim=16, mode=mode))  # type: ignore[arg-type]
    recipe = Word2VecRecipe(epochs=epochs, batch=2, block=200, chunk=3, lr=0.025 if mode == "skip-gram" else 0.05)
    return Word2VecTrainer(model, recipe, vocab.encode(corpus.sentences), vocab.counts, torch.device("cpu"), backend=backend, seed=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_the_numpy_and_pytorch_trainers_take_the_same_steps(mode: str) -> None:
    trained = []
    for backend in ("numpy", "autograd", "torch"):  # one after the other: each epoch's order comes from torch's seeded generator
        t = _trainer(mode, backend)
        while not t.done:
            t.train_chunk()
        trained.append(t)
    a = trained[0]
    assert a.history["train_loss"][-1] < a.history["train_loss"][0]
    for b in trained[1:]:
        np.testing.assert_allclose(a.history["train_loss"], b.history["train_loss"], rtol=1e-4)
        np.testing.assert_allclose(a.model.inputs.weight.detach().numpy(), b.model.inputs.weight.detach().numpy(), atol=1e-5)
        assert a.effective == b.effective > 0


def test_an_interrupted_training_resumes_to_the_same_vectors() -> None:
    whole = _trainer("skip-gram", "torch")
    while not whole.done:
        whole.train_chunk()
    first = _trainer("skip-gram", "torch")
    first.train_chunk()
    first.train_chunk()
    state = first.state_dict()
    second = _trainer("skip-gram", "torch")
    second.load_state_dict(state)
    while not second.done:
        second.train_chunk()
    torch.testing.assert_close(second.model.inputs.weight, whole.model.inputs.weight, rtol=0, atol=0)
    assert second.effective == whole.effective
