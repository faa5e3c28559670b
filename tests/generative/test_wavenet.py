"""WaveNet's proofs: μ-law against its formula, causality, the receptive field against the
gradient's support, teacher forcing against generation, and cached generation equal to naive."""

from __future__ import annotations

import math

import pytest
import torch

from deepkata.core.config import ConfigError
from deepkata.generative.train import WaveNetRecipe, WaveNetTrainer, Waves, bits_per_sample
from tests.generative.resume import whole_and_resumed
from deepkata.generative.wavenet import (
    SILENCE, CausalConv1d, WaveNet, WaveNetConfig, generate_cached, generate_naive, mu_law_decode, mu_law_edges,
    mu_law_encode, receptive_field, sample_from, teacher_inputs,
)  # fmt: skip

D = torch.float64


def test_mu_law_against_the_formula() -> None:
    x = torch.cat([torch.linspace(-1, 1, 20001, dtype=D), torch.tensor([-1.5, 2.0], dtype=D)])
    mu = 255
    xc = x.clamp(-1, 1)
    f = torch.sign(xc) * torch.log(1 + mu * xc.abs()) / math.log(1 + mu)
    expected = torch.floor((f + 1) / 2 * mu + 0.5).long()
    assert torch.equal(mu_law_encode(x), expected)
    assert mu_law_encode(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0, SILENCE, 255]
    q = torch.arange(256)
    y = 2 * q.double() / mu - 1
    assert torch.allclose(mu_law_decode(q).double(), torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu, atol=1e-7)
    assert torch.equal(mu_law_encode(mu_law_decode(q)), q)  # every class survives a round trip
    edges = mu_law_edges()
    assert edges.shape == (257,) and (edges.diff() > 0).all() and edges[0] == -1 and edges[-1] == 1
    centres = mu_law_decode(q).double()
    assert ((edges[:-1] <= centres) & (centres <= edges[1:])).all()
    inside = (edges[:-1] + edges[1:]) / 2  # a point inside each bin encodes to its class
    assert torch.equal(mu_law_encode(inside), q)
    # quiet samples get fine bins, loud ones coarse
    widths = edges.diff()
    assert widths[128] < 1e-3 and widths[0] > 30 * widths[128]


def model(**cfg: object) -> WaveNet:
    torch.manual_seed(0)
    net = WaveNet(WaveNetConfig(**{"residual": 6, "skip": 8, "hidden": 8, "layers": 3, "stacks": 2, "digits": 3, "speakers": 4, "condition": 5, **cfg}))  # type: ignore[arg-type]
    return net.double().eval()


def test_a_causal_convolution_sees_nothing_after_t() -> None:
    torch.manual_seed(0)
    conv = CausalConv1d(2, 3, 3, dilation=2).double()
    x = torch.randn(1, 2, 20, dtype=D)
    for t in (0, 7, 19):
        y = x.clone()
        y[:, :, t + 1 :] = torch.randn_like(y[:, :, t + 1 :])
        assert torch.equal(conv(x)[:, :, : t + 1], conv(y)[:, :, : t + 1])
        z = x.clone()
        z[:, :, t] += 1  # input t itself does reach output t
        assert not torch.equal(conv(x)[:, :, t], conv(z)[:, :, t])


def test_the_network_is_causal() -> None:
    net = model()
    g = torch.Generator().manual_seed(1)
    q = torch.randint(0, 256, (2, 50), generator=g)
    digit, speaker = torch.tensor([0, 2]), torch.tensor([1, 3])
    base = net(q, digit, speaker)
    for t in (0, 13, 48):
        changed = q.clone()
        changed[:, t + 1 :] = torch.randint(0, 256, changed[:, t + 1 :].shape, generator=g)
        assert torch.equal(net(changed, digit, speaker)[:, :, : t + 1], base[:, :, : t + 1])
        moved = q.clone()
        moved[:, t] = (moved[:, t] + 1) % 256
        assert not torch.allclose(net(moved, digit, speaker)[:, :, t], base[:, :, t])


@pytest.mark.parametrize(("layers", "stacks"), [(3, 2), (4, 1), (2, 3)])
def test_the_receptive_field_is_the_gradients_support(layers: int, stacks: int) -> None:
    net = model(layers=layers, stacks=stacks)
    rf = net.receptive_field
    assert rf == receptive_field(net.cfg.dilations) == 1 + 1 + stacks * (2**layers - 1)
    length, t = rf + 10, rf + 5
    e = torch.randn(1, 6, length, dtype=D, requires_grad=True)
    net.forward_embedded(e, torch.tensor([1]), torch.tensor([2]))[0, :, t].sum().backward()
    support = (e.grad.abs().sum(1)[0] > 0).nonzero().flatten()
    assert support.tolist() == list(range(t - rf + 1, t + 1))


def test_teacher_forcing_predicts_each_sample_from_the_ones_before() -> None:
    net = model()
    u = torch.rand(2, 40, generator=torch.Generator().manual_seed(2), dtype=D)
    digit, speaker = torch.tensor([2, 1]), torch.tensor([0, 3])
    samples, logits = generate_naive(net, u, digit, speaker)
    assert samples.shape == (2, 40) and logits.shape == (2, 256, 40)
    forced = net(teacher_inputs(samples), digit, speaker)
    assert torch.allclose(forced, logits, atol=1e-10, rtol=0)
    assert teacher_inputs(samples)[:, 0].tolist() == [SILENCE, SILENCE]


def test_cached_generation_equals_naive() -> None:
    net = model()
    rf = net.receptive_field
    u = torch.rand(3, 2 * rf + 7, generator=torch.Generator().manual_seed(3), dtype=D)
    digit, speaker = torch.tensor([0, 1, 2]), torch.tensor([3, 0, 1])
    naive, naive_logits = generate_naive(net, u, digit, speaker)
    cached, cached_logits = generate_cached(net, u, digit, speaker)
    assert torch.equal(naive, cached)
    assert torch.allclose(naive_logits, cached_logits, atol=1e-10, rtol=0)
    # the conditions matter: another digit draws other samples from the same uniforms
    assert not torch.equal(generate_cached(net, u, torch.tensor([1, 2, 0]), speaker)[0], cached)


def test_sampling_inverts_the_cdf() -> None:
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.7] + [0.0] * 253], dtype=D).clamp_min(1e-300))
    logits = logits.expand(5, -1)
    u = torch.tensor([0.05, 0.1001, 0.25, 0.31, 0.99], dtype=D)
    assert sample_from(logits, u).tolist() == [0, 1, 1, 2, 2]


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="speakers"):
        WaveNetConfig(speakers=1)
    with pytest.raises(ValueError, match="digit"):
        model()(torch.zeros(1, 5, dtype=torch.long))


def tiny_waves(count: int = 6, seed: int = 0) -> Waves:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(300)
    classes = []
    for i in range(count):
        length = 150 + 30 * i
        x = 0.5 * torch.sin(t[:length] * (0.2 + 0.05 * (i % 3))) + 0.01 * torch.randn(length, generator=g)
        classes.append(mu_law_encode(x))
    return Waves(classes, torch.tensor([i % 3 for i in range(count)]), torch.tensor([1 + i % 2 for i in range(count)]))


def test_a_training_window_sees_what_the_whole_recording_gives() -> None:
    """Each window's logits at its targets equal the whole recording's at those samples: the
    receptive field before the window is fed, and the start of a recording is padded as when scored whole."""
    net = model(digits=3, speakers=3)
    waves = tiny_waves()
    trainer = WaveNetTrainer(net, WaveNetRecipe(window=40, batch=6), waves, waves, torch.device("cpu"))
    net.double().eval()
    torch.manual_seed(0)
    index = torch.arange(6)
    x, y, starts = trainer.windows(index)
    logits = net(x, waves.digits, waves.speakers)
    assert any(s > net.receptive_field for s in starts) and any(s < net.receptive_field for s in starts)
    for b, i in enumerate(index.tolist()):
        q = waves.classes[i]
        whole = net(teacher_inputs(q.unsqueeze(0)), waves.digits[i : i + 1], waves.speakers[i : i + 1])[0]
        keep = y[b] >= 0
        assert int(keep.sum()) == 40 and torch.equal(y[b][keep], q[starts[b] : starts[b] + 40])
        assert torch.allclose(logits[b][:, keep], whole[:, starts[b] : starts[b] + 40], atol=1e-10, rtol=0)


def test_training_lowers_the_bits_and_resumes_exactly() -> None:
    def make() -> WaveNetTrainer:
        torch.manual_seed(0)
        net = WaveNet(WaveNetConfig(residual=8, skip=8, hidden=16, layers=3, stacks=1, digits=3, speakers=3, condition=4))
        return WaveNetTrainer(net, WaveNetRecipe(epochs=20, window=64, batch=3, chunk=3, lr=1e-2), tiny_waves(), tiny_waves(seed=1), torch.device("cpu"))

    whole, _ = whole_and_resumed(make, seed=1)
    h = whole.history
    assert h["val_bits"][-1] < h["val_bits"][0] - 1.0, h["val_bits"]  # 7.9 -> 6.6 bits
    assert abs(h["val_bits"][-1] - bits_per_sample(whole.net, tiny_waves(seed=1), torch.device("cpu"))) < 1e-9
