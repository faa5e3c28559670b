"""WaveNet: μ-law companding, dilated causal convolutions, gated residual and skip connections,
global conditioning, and generation naive and with cached activations.

Papers:
    van den Oord et al., "WaveNet: a generative model for raw audio", arXiv:1609.03499, 2016.
    Paine et al., "Fast Wavenet generation algorithm", arXiv:1611.09482, 2016 (the queues).
    ITU-T G.711 (μ-law companding, μ = 255).

**μ-law.** A sample x in [-1, 1] is companded, F(x) = sign(x) ln(1 + μ|x|) / ln(1 + μ), and F's
range [-1, 1] cut into μ + 1 = 256 equal bins: class q = round((F(x) + 1) μ / 2). Decoding takes
the bin's centre y = 2q / μ - 1 back through F⁻¹(y) = sign(y) ((1 + μ)^|y| - 1) / μ. Quiet
samples get fine bins, loud ones coarse: 8 bits where linear quantization would need about 14.

**The model.** Each sample's class is predicted from the classes before it,
p(x) = Π_t p(x_t | x_<t, c), a softmax over 256 classes. The input class is embedded (the
same as a 1 x 1 convolution of its one-hot vector) and passes a causal convolution of width 2;
then layers with dilations d = 1, 2, 4, ..., 2^(n-1), repeated in stacks::

    z = tanh(W_f *_d h + V_f c) ⊙ σ(W_g *_d h + V_g c)       (gated activation)
    h <- h + W_r z    (residual)        s <- s + W_s z    (skip)

and the output ReLU(s) -> 1 x 1 -> ReLU -> 1 x 1 -> 256 logits. A causal convolution of width k
and dilation d pads (k - 1) d zeros on the left, so output t sees inputs t - (k - 1) d .. t only:
nothing after t. The receptive field is 1 + (k - 1)(1 + Σ d): 1 + 1 + 2 · 255 = 512 samples for
two stacks of 1 .. 128. c is the global condition: the sum of a digit's and a speaker's
embeddings (speaker 0: unknown), one vector a recording, projected into every layer.

**Training** is teacher-forced: the input is the recording shifted right by one, with the
silence class (F(0), class 128) first, so logits[:, :, t] predict sample t from samples < t.

**Generation** draws one sample at a time. Naively each step reruns the network over the last
receptive field of samples: O(RF · L) per sample. The fast algorithm keeps, for each width-2
convolution of dilation d, a queue of its last d inputs: a step needs only the input d steps
ago, popped from the queue, and the current one, pushed: O(L) per sample. Both draw with the
same uniforms by inverting the CDF, so equal logits give equal samples.

Shapes: classes (B, T) int64; logits (B, 256, T); condition: digit (B,), speaker (B,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepkata.core.config import Config, ConfigError, param
from deepkata.models import register_model

__all__ = [
    "CausalConv1d", "WaveNet", "WaveNetConfig", "generate_cached", "generate_naive", "mu_law_decode",
    "fit_linear_predictor", "linear_predictive_bits", "marginal_bits", "mu_law_edges", "mu_law_encode", "receptive_field",
    "sample_from", "teacher_inputs",
]  # fmt: skip

MU = 255
SILENCE = 128  # mu_law_encode(0.0)


def mu_law_encode(x: Tensor, mu: int = MU) -> Tensor:
    """Samples x in [-1, 1] (clipped) to classes 0..mu (int64): round((F(x) + 1) mu / 2)."""
    x = x.clamp(-1.0, 1.0)
    f = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return torch.floor((f + 1) * mu / 2 + 0.5).long()


def mu_law_decode(q: Tensor, mu: int = MU) -> Tensor:
    """Classes 0..mu to the samples at their bins' centres: F⁻¹(2q / mu - 1)."""
    y = 2 * q.double() / mu - 1
    return (torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu).float()


def mu_law_edges(mu: int = MU) -> Tensor:
    """The bins' boundaries in the linear domain (mu + 2,) float64: -1, F⁻¹((2q - 1) / mu - 1) for q = 1..mu, 1."""
    y = (2 * torch.arange(1, mu + 1, dtype=torch.float64, device="cpu") - 1) / mu - 1
    inner = torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu
    return torch.cat([torch.tensor([-1.0], dtype=torch.float64, device="cpu"), inner, torch.tensor([1.0], dtype=torch.float64, device="cpu")])


def receptive_field(dilations: tuple[int, ...], kernel: int = 2) -> int:
    """Input samples an output sees: 1 + (k - 1)(1 + Σ d), the input convolution included."""
    return 1 + (kernel - 1) * (1 + sum(dilations))


class CausalConv1d(nn.Conv1d):
    """A 1-D convolution padded on the left by (k - 1) d: output t depends on inputs <= t. (B, C, T) -> (B, C', T)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel, dilation=dilation)
        self.left = (kernel - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, (self.left, 0)))


@dataclass(frozen=True, kw_only=True)
class WaveNetConfig(Config):
    residual: int = param(24, "residual channels R", ge=1, le=1024)
    skip: int = param(48, "skip channels S", ge=1, le=2048)
    hidden: int = param(48, "channels of the output's hidden 1 x 1 layer", ge=1, le=2048)
    layers: int = param(8, "layers a stack: dilations 1, 2, ..., 2^(layers - 1)", ge=1, le=16)
    stacks: int = param(2, "stacks of layers", ge=1, le=8)
    digits: int = param(10, "classes of the global condition (0: unconditioned)", ge=0)
    speakers: int = param(0, "speakers of the global condition (0: none; id 0 is the unknown speaker)", ge=0)
    condition: int = param(16, "size of the condition's embedding", ge=1, le=512)

    def validate(self) -> None:
        if self.speakers == 1:
            raise ConfigError("speakers: 0 for none, or at least 2 (id 0 is the unknown speaker)")

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(2**i for i in range(self.layers)) * self.stacks


class GatedLayer(nn.Module):
    """One residual layer: a dilated causal convolution to 2R channels, the condition added, the
    gate tanh(f) ⊙ σ(g), and 1 x 1 convolutions to the residual (R) and skip (S) outputs."""

    def __init__(self, residual: int, skip: int, dilation: int, condition: int | None) -> None:
        super().__init__()
        self.dilated = CausalConv1d(residual, 2 * residual, 2, dilation)
        self.condition = nn.Linear(condition, 2 * residual, bias=False) if condition else None
        self.out = nn.Conv1d(residual, residual + skip, 1)  # W_r and W_s in one
        self.residual = residual

    def gate(self, pre: Tensor, cond: Tensor | None) -> Tensor:
        """z = tanh(f) ⊙ σ(g) from the convolution's output (B, 2R, T) and the condition's projection (B, 2R)."""
        if cond is not None:
            pre = pre + cond.unsqueeze(-1)
        f, g = pre.chunk(2, dim=1)
        return torch.tanh(f) * torch.sigmoid(g)

    def forward(self, h: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:  # h (B, R, T)
        out = self.out(self.gate(self.dilated(h), cond))  # (B, R + S, T)
        return h + out[:, : self.residual], out[:, self.residual :]


class WaveNet(nn.Module):
    def __init__(self, cfg: WaveNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(MU + 1, cfg.residual)  # = a 1 x 1 convolution of the one-hot input
        self.input = CausalConv1d(cfg.residual, cfg.residual, 2)
        conditioned = cfg.digits > 0 or cfg.speakers > 0
        self.digit = nn.Embedding(cfg.digits, cfg.condition) if cfg.digits else None
        self.speaker = nn.Embedding(cfg.speakers, cfg.condition) if cfg.speakers else None
        self.layers = nn.ModuleList(GatedLayer(cfg.residual, cfg.skip, d, cfg.condition if conditioned else None) for d in cfg.dilations)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(cfg.skip, cfg.hidden, 1), nn.ReLU(), nn.Conv1d(cfg.hidden, MU + 1, 1))

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.cfg.dilations)

    def conditions(self, digit: Tensor | None, speaker: Tensor | None) -> list[Tensor | None]:
        """Each layer's projection V c (B, 2R) of the condition c = digit embedding + speaker embedding."""
        c = None
        if self.digit is not None:
            if digit is None:
                raise ValueError("this WaveNet is conditioned on the digit: pass digit (B,)")
            c = self.digit(digit)
        if self.speaker is not None:
            if speaker is None and digit is None:
                raise ValueError("this WaveNet is conditioned on the speaker: pass speaker (B,) (0: unknown)")
            s = self.speaker(speaker if speaker is not None else torch.zeros_like(digit))  # type: ignore[arg-type]
            c = s if c is None else c + s
        return [layer.condition(c) if layer.condition is not None and c is not None else None for layer in self.layers]

    def forward_embedded(self, e: Tensor, digit: Tensor | None = None, speaker: Tensor | None = None) -> Tensor:
        """Logits (B, 256, T) from embedded inputs e (B, R, T) (the receptive-field proof differentiates by e)."""
        h = self.input(e)
        skips = torch.zeros((), dtype=e.dtype, device=e.device)
        for layer, cond in zip(self.layers, self.conditions(digit, speaker), strict=True):
            h, s = layer(h, cond)
            skips = skips + s
        return self.head(skips)

    def forward(self, inputs: Tensor, digit: Tensor | None = None, speaker: Tensor | None = None) -> Tensor:
        """Logits (B, 256, T) of input classes (B, T): logits[:, :, t] predict the sample after input t."""
        return self.forward_embedded(self.embed(inputs).transpose(1, 2), digit, speaker)


def teacher_inputs(targets: Tensor) -> Tensor:
    """The inputs for targets (B, T): shifted right by one, the silence class first."""
    return torch.cat([torch.full_like(targets[:, :1], SILENCE), targets[:, :-1]], dim=1)


def sample_from(logits: Tensor, uniforms: Tensor) -> Tensor:
    """Classes (B,) drawn from softmax(logits) (B, 256) by inverting the CDF at uniforms (B,) in [0, 1)."""
    cdf = torch.softmax(logits.double(), dim=-1).cumsum(-1)
    return (cdf < uniforms.double().unsqueeze(-1)).sum(-1).clamp(max=MU)


@torch.no_grad()
def generate_naive(model: WaveNet, uniforms: Tensor, digit: Tensor | None = None, speaker: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Samples (B, T) and their logits (B, 256, T), each step rerunning the network over the last
    receptive field of inputs; ``uniforms`` (B, T) drive the draws."""
    batch, steps = uniforms.shape
    rf = model.receptive_field
    inputs = torch.full((batch, 1), SILENCE, dtype=torch.long, device=uniforms.device)
    out, logits = [], []
    for t in range(steps):
        step = model(inputs[:, -rf:], digit, speaker)[:, :, -1]  # (B, 256)
        q = sample_from(step, uniforms[:, t])
        out.append(q)
        logits.append(step)
        inputs = torch.cat([inputs, q.unsqueeze(1)], dim=1)
    return torch.stack(out, 1), torch.stack(logits, 2)


@torch.no_grad()
def generate_cached(model: WaveNet, uniforms: Tensor, digit: Tensor | None = None, speaker: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Samples (B, T) and logits (B, 256, T) as :func:`generate_naive` gives them, with the queues
    of Paine et al.: O(layers) a sample instead of O(receptive field x layers).

    Each width-2 convolution of dilation d keeps its inputs in a queue: a buffer whose first d rows
    are zeros (the causal padding), so its input d steps back is a row already there. A step is
    then one matrix product a convolution, with the condition folded into the bias."""
    batch, steps = uniforms.shape
    cfg, r = model.cfg, model.cfg.residual
    like = model.embed.weight
    convs = [model.input, *(layer.dilated for layer in model.layers)]
    dilations = (1, *cfg.dilations)
    queues = [torch.zeros(d + steps, batch, r, dtype=like.dtype, device=like.device) for d in dilations]  # (d + T, B, R) each
    # [W_past W_now] (2R, C') for a product with [x_(t-d) x_t]; each layer's bias with its condition V c added (B, C')
    weights = [torch.cat([c.weight[:, :, 0], c.weight[:, :, 1]], 1).t() for c in convs]
    biases = [convs[0].bias.expand(batch, -1)] + [
        layer.dilated.bias + cond if cond is not None else layer.dilated.bias.expand(batch, -1)
        for layer, cond in zip(model.layers, model.conditions(digit, speaker), strict=True)
    ]
    outs = [(layer.out.weight[:, :, 0].t(), layer.out.bias) for layer in model.layers]
    q = torch.full((batch,), SILENCE, dtype=torch.long, device=uniforms.device)
    samples, logits = [], []
    for t in range(steps):
        x = model.embed(q)  # (B, R)
        queues[0][1 + t] = x
        h = torch.addmm(biases[0], torch.cat([queues[0][t], x], 1), weights[0])  # the input convolution
        skips = torch.zeros((), dtype=x.dtype, device=x.device)
        for i in range(len(model.layers)):
            d = dilations[i + 1]
            queues[i + 1][d + t] = h
            pre = torch.addmm(biases[i + 1], torch.cat([queues[i + 1][t], h], 1), weights[i + 1])  # (B, 2R)
            z = torch.tanh(pre[:, :r]) * torch.sigmoid(pre[:, r:])  # (B, R)
            out = torch.addmm(outs[i][1], z, outs[i][0])  # (B, R + S)
            h, skips = h + out[:, :r], skips + out[:, r:]
        step = model.head(skips.unsqueeze(-1)).squeeze(-1)  # (B, 256)
        q = sample_from(step, uniforms[:, t])
        samples.append(q)
        logits.append(step)
    return torch.stack(samples, 1), torch.stack(logits, 2)


@register_model("wavenet", config=WaveNetConfig, topic="generative", example={"digits": 10, "speakers": 7})
def wavenet(cfg: WaveNetConfig) -> WaveNet:
    """van den Oord et al.'s WaveNet: μ-law classes, dilated causal convolutions, gated residual and skip connections, global conditioning."""
    return WaveNet(cfg)


def marginal_bits(train: list[Tensor], test: list[Tensor]) -> float:
    """Bits per sample of the test classes under the training classes' histogram (add-one smoothed): the μ-law marginal baseline."""
    counts = torch.bincount(torch.cat(train), minlength=MU + 1).double() + 1
    log_p = (counts / counts.sum()).log2()
    return float(-log_p[torch.cat(test)].mean())


def fit_linear_predictor(train: list[Tensor], order: int) -> tuple[Tensor, float]:
    """Least squares s_t ≈ c + Σ_k a_k s_(t-k) on the decoded training classes (zeros before a
    recording's start, as WaveNet's silence): the coefficients (c, a_1..a_order) float64 and the
    residuals' standard deviation."""
    rows, targets = [], []
    for q in train:
        s = F.pad(mu_law_decode(q).double(), (order, 0))
        rows.append(torch.stack([s[order - k : len(s) - k] for k in range(1, order + 1)], 1))  # (T, order): s_(t-1), ..., s_(t-order)
        targets.append(s[order:])
    x = torch.cat(rows)
    x = torch.cat([torch.ones(len(x), 1, dtype=torch.float64, device="cpu"), x], 1)
    y = torch.cat(targets)
    coef = torch.linalg.lstsq(x, y.unsqueeze(1)).solution.squeeze(1)
    sigma = float((y - x @ coef).pow(2).mean().sqrt())
    return coef, sigma


def linear_predictive_bits(coef: Tensor, sigma: float, test: list[Tensor]) -> float:
    """Bits per sample of the test classes when s_t ~ N(prediction, sigma²), each class's probability
    the Gaussian's mass over its bin (the outer bins reach ±∞), floored at 1e-12."""
    order = len(coef) - 1
    edges = mu_law_edges()
    edges[0], edges[-1] = -math.inf, math.inf
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64, device="cpu"), torch.tensor(1.0, dtype=torch.float64, device="cpu"))
    total, count = 0.0, 0
    for q in test:
        s = F.pad(mu_law_decode(q).double(), (order, 0))
        x = torch.stack([s[order - k : len(s) - k] for k in range(1, order + 1)], 1)
        pred = coef[0] + x @ coef[1:]  # (T,)
        mass = normal.cdf((edges[q + 1] - pred) / sigma) - normal.cdf((edges[q] - pred) / sigma)
        total += float(-mass.clamp_min(1e-12).log2().sum())
        count += len(q)
    return total / count
