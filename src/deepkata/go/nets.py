"""AlphaGo's (Lee) policy and value networks, scaled to small boards (Silver et al. 2016, Methods).

- **Policy network** p(a | s) (the SL policy, and the RL policy it starts): a first convolution of
  ``first_kernel`` (AlphaGo: 5 x 5), then ``layers - 2`` of 3 x 3, each with ``filters`` channels
  (AlphaGo: 192) and ReLU, zero padding keeping the board's size; a final 1 x 1 convolution gives
  one logit per point, plus a bias per point (AlphaGo's "different bias for each position").
  Our games end by passing, so one more logit, the pass, comes from a linear layer on the board's
  mean feature vector. Given the legal moves, the others get -inf before the softmax.
- **Value network** v(s) in [-1, 1], the mover's expected outcome: the same convolutions, a 1 x 1
  convolution to one plane, a fully connected layer of ``hidden`` units (AlphaGo: 256) with ReLU,
  and one tanh unit. The one plane is left linear: a ReLU on a single channel can die (go
  negative everywhere and stop every gradient), which it did here on small boards.

The input is :mod:`deepkata.go.features`' planes (``planes`` of them, ``size`` x ``size``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from deepkata.core import checkpoint
from deepkata.core.config import Config, param
from deepkata.core.errors import UserError
from deepkata.go.features import PLANES
from deepkata.models.registry import register_model

__all__ = ["GoNetConfig", "PolicyNet", "ValueNet", "load_network", "save_network"]


@dataclass(frozen=True, kw_only=True)
class GoNetConfig(Config):
    size: int = param(9, "board size", ge=2, le=25)
    planes: int = param(PLANES, "input planes", ge=1)
    filters: int = param(64, "channels of every convolution (AlphaGo: 192)", ge=1, le=1024)
    layers: int = param(6, "convolutional layers before the output, the first included (AlphaGo: 12)", ge=2, le=40)
    first_kernel: int = param(5, "the first convolution's kernel (odd; AlphaGo: 5)", ge=1, le=9)
    hidden: int = param(128, "the value network's fully connected units (AlphaGo: 256)", ge=1, le=4096)


def _body(cfg: GoNetConfig) -> nn.Sequential:
    if cfg.first_kernel % 2 == 0:
        raise ValueError(f"first_kernel: {cfg.first_kernel}; expected an odd size, so that padding keeps the board's size")
    layers: list[nn.Module] = [nn.Conv2d(cfg.planes, cfg.filters, cfg.first_kernel, padding=cfg.first_kernel // 2), nn.ReLU()]
    for _ in range(cfg.layers - 1):
        layers += [nn.Conv2d(cfg.filters, cfg.filters, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers)


class PolicyNet(nn.Module):
    """Move logits (B, size^2 + 1), the last one the pass, from planes (B, planes, size, size)."""

    def __init__(self, cfg: GoNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.body = _body(cfg)
        self.head = nn.Conv2d(cfg.filters, 1, 1, bias=False)
        self.point_bias = nn.Parameter(torch.zeros(cfg.size * cfg.size, device="cpu"))  # moved with the module
        self.pass_logit = nn.Linear(cfg.filters, 1)

    def forward(self, x: torch.Tensor, legal: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x)  # (B, F, N, N)
        board = self.head(h).flatten(1) + self.point_bias  # (B, N^2)
        logits = torch.cat([board, self.pass_logit(h.mean((2, 3)))], 1)  # (B, N^2 + 1)
        return logits if legal is None else logits.masked_fill(~legal, float("-inf"))


class ValueNet(nn.Module):
    """The mover's expected outcome in [-1, 1], (B,), from planes (B, planes, size, size)."""

    def __init__(self, cfg: GoNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.body = _body(cfg)
        self.head = nn.Sequential(
            nn.Conv2d(cfg.filters, 1, 1), nn.Flatten(), nn.Linear(cfg.size * cfg.size, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 1), nn.Tanh()
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


@register_model("go-policy", config=GoNetConfig, topic="go", example={"size": 9})
def go_policy(cfg: GoNetConfig) -> PolicyNet:
    """AlphaGo's policy network: convolutions with ReLU, a logit per point and one for the pass."""
    return PolicyNet(cfg)


@register_model("go-value", config=GoNetConfig, topic="go", example={"size": 9})
def go_value(cfg: GoNetConfig) -> ValueNet:
    """AlphaGo's value network: convolutions, a fully connected layer, one tanh unit."""
    return ValueNet(cfg)


def save_network(path: Path, net: PolicyNet | ValueNet) -> None:
    """Write a network and its config (atomically) for the search and the later katas."""
    kind = "policy" if isinstance(net, PolicyNet) else "value"
    checkpoint.save(path, {"kind": kind, "config": asdict(net.cfg), "state": net.state_dict()})


def load_network(path: Path, kind: str) -> PolicyNet | ValueNet:
    """A network :func:`save_network` wrote (``weights_only`` load); a one-line error if it is not one of ``kind``."""
    saved = checkpoint.load(path)
    if saved.get("kind") != kind or not isinstance(saved.get("config"), dict):
        raise UserError(f"{path}: not a saved {kind} network (kind {saved.get('kind')!r})")
    try:
        cfg = GoNetConfig(**saved["config"])
        net = PolicyNet(cfg) if kind == "policy" else ValueNet(cfg)
        net.load_state_dict(saved["state"])
    except (TypeError, ValueError, RuntimeError, KeyError) as e:
        raise UserError(f"{path}: its {kind} network does not load ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    return net.eval()
