"""Spoken digits: WAV reading and writing, FSDD's names and the errors for bad files, the
generated tones; the baselines' bits per sample against direct computations."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from deepkata.core.errors import UserError
from deepkata.datasets.spoken_digits import RATE, load_fsdd, make_tones, read_wav, write_wav
from deepkata.generative.judge import log_spectrogram
from deepkata.generative.wavenet import MU, fit_linear_predictor, linear_predictive_bits, marginal_bits, mu_law_decode, mu_law_edges, mu_law_encode


def test_wav_round_trip_and_fsdd_names(tmp_path: Path) -> None:
    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    x = np.sin(np.arange(800) / 5).astype(np.float32) * 0.5
    for name in ("3_alice_0.wav", "3_alice_7.wav", "9_bob_12.wav"):
        write_wav(folder / name, x)
    assert np.abs(read_wav(folder / "3_alice_0.wav") - x).max() < 1 / 32767
    data = load_fsdd(tmp_path / "fsdd")
    assert data.speakers == ("alice", "bob") and len(data.recordings) == 3
    assert [(r.digit, r.speaker, r.index) for r in data.recordings] == [(3, "alice", 0), (3, "alice", 7), (9, "bob", 12)]
    assert load_fsdd(folder).speakers == ("alice", "bob")


def test_bad_recordings_are_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such folder"):
        load_fsdd(tmp_path / "missing")
    (tmp_path / "a").mkdir()
    with pytest.raises(UserError, match="no .wav files"):
        load_fsdd(tmp_path / "a")
    write_wav(tmp_path / "a" / "seven.wav", np.zeros(10))
    with pytest.raises(UserError, match=r"seven.wav: the name does not read"):
        load_fsdd(tmp_path / "a")
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0" * 40)
    with pytest.raises(UserError, match=r"stereo.wav: 2 channel\(s\), 16-bit, 16000 Hz; expected 1 channel, 16-bit, 8000 Hz"):
        read_wav(stereo)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really")
    with pytest.raises(UserError, match="junk.wav: not a readable WAV file"):
        read_wav(junk)


def test_generated_tones() -> None:
    a, b = make_tones(speakers=2, per_digit=2, seed=3), make_tones(speakers=2, per_digit=2, seed=3)
    assert len(a.recordings) == 40 and a.speakers == ("tone0", "tone1")
    assert all(np.array_equal(x.samples, y.samples) for x, y in zip(a.recordings, b.recordings, strict=True))
    for r in a.recordings:
        assert 0.25 * RATE <= len(r.samples) <= 0.4 * RATE and np.abs(r.samples).max() <= 1
    # a digit's two notes: its spectrum peaks differ from another digit's
    spec = log_spectrogram([torch.from_numpy(r.samples) for r in a.recordings[:4:2] + a.recordings[10:14:2]])
    assert spec.shape == (4, 1, 32, 32)
    assert (spec[0] - spec[1]).abs().mean() < (spec[0] - spec[2]).abs().mean()


def test_the_marginal_baseline_is_the_cross_entropy_of_the_histogram() -> None:
    g = torch.Generator().manual_seed(0)
    train = [torch.randint(100, 160, (500,), generator=g) for _ in range(3)]
    test = [torch.randint(100, 160, (300,), generator=g)]
    counts = torch.bincount(torch.cat(train), minlength=MU + 1).double() + 1
    p = counts / counts.sum()
    expected = -sum(math.log2(p[q]) for q in test[0].tolist()) / 300
    assert abs(marginal_bits(train, test) - expected) < 1e-10


def test_the_linear_predictor_recovers_an_autoregression() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros(40_000)
    for t in range(2, len(x)):
        x[t] = 1.6 * x[t - 1] - 0.8 * x[t - 2] + rng.normal(0, 0.01)
    q = mu_law_encode(torch.from_numpy(x))
    coef, sigma = fit_linear_predictor([q], 2)
    assert abs(coef[1].item() - 1.6) < 0.05 and abs(coef[2].item() + 0.8) < 0.05
    # the bins' Gaussian masses sum to 1 for any prediction, and the bits are their -log2 at the true class
    edges = mu_law_edges()
    edges[0], edges[-1] = -math.inf, math.inf
    normal = torch.distributions.Normal(torch.tensor(0.3, dtype=torch.float64), torch.tensor(sigma, dtype=torch.float64))
    assert abs((normal.cdf(edges[1:]) - normal.cdf(edges[:-1])).sum().item() - 1) < 1e-12
    short = q[:50]
    s = np.concatenate([[0.0, 0.0], mu_law_decode(short).double().numpy()])
    by_hand = 0.0
    for t in range(50):
        pred = coef[0].item() + coef[1].item() * s[t + 1] + coef[2].item() * s[t]
        n = torch.distributions.Normal(torch.tensor(pred, dtype=torch.float64), torch.tensor(sigma, dtype=torch.float64))
        by_hand -= math.log2(max((n.cdf(edges[short[t] + 1]) - n.cdf(edges[short[t]])).item(), 1e-12))
    assert abs(linear_predictive_bits(coef, sigma, [short]) - by_hand / 50) < 1e-9
