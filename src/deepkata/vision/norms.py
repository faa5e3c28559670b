"""Normalization layers from scratch: BatchNorm, LayerNorm, InstanceNorm and GroupNorm.

Each layer exists twice: in NumPy, with the backward pass written out by hand (``*Numpy``
classes: ``forward(x) -> y`` caches, ``backward(dy) -> dx`` sets ``.dgamma`` and ``.dbeta``), and
as an ``nn.Module`` written with tensor ops (mean and variance over axes, never ``F.batch_norm``
and friends), whose backward autograd derives. Both equal ``torch.nn.BatchNorm2d`` /
``LayerNorm`` / ``InstanceNorm2d`` / ``GroupNorm`` in float64, forward, every gradient and the
running statistics (tests/vision/test_norms.py); the modules carry torch's parameter and buffer
names, so ``load_state_dict`` works in both directions.

Papers:
    Ioffe & Szegedy, "Batch normalization: accelerating deep network training by reducing
        internal covariate shift", ICML 2015 (Algorithm 1 and the backward in Section 3).
    Ba, Kiros & Hinton, "Layer normalization", arXiv:1607.06450, 2016.
    Ulyanov, Vedaldi & Lempitsky, "Instance normalization: the missing ingredient for fast
        stylization", arXiv:1607.08022, 2016.
    Wu & He, "Group normalization", ECCV 2018 (Figure 2 draws all four as sets of axes; Section 3.1:
        GroupNorm with G = 1 is LayerNorm over (C, H, W), with G = C it is InstanceNorm).

All four are one operation: normalize x over a set of axes S, then an affine map,

    mu      = mean_S(x)                               one mean per index outside S
    sigma^2 = mean_S((x - mu)^2)                      biased variance (divide by m = |S|)
    x_hat   = (x - mu) / sqrt(sigma^2 + eps)
    y       = gamma * x_hat + beta                    gamma, beta per channel or per element

and differ only in S:

    layer                 input          S (statistics over)   one (mu, sigma^2) per   gamma, beta          running stats
    BatchNorm2d(C)        (N, C, H, W)   N, H, W               channel c               (C,)                 yes (default)
    LayerNorm(D dims)     (..., *D)      the last D axes       leading index           D (per element)      no
    InstanceNorm2d(C)     (N, C, H, W)   H, W                  sample n, channel c     (C,) if affine       if track_running_stats
    GroupNorm(G, C)       (N, C, *)      C/G, *  (one group)   sample n, group g       (C,)                 no

so one forward/backward core (:func:`normalize_forward`, :func:`normalize_backward`,
:func:`affine_forward`, :func:`affine_backward`) serves all four NumPy layers, and one
:func:`normalize` all four modules. GroupNorm reshapes (N, C, *) to (N, G, C/G * prod(*)) and
normalizes the last axis.

PyTorch's conventions, followed exactly:

- normalization uses the biased variance (divide by m); the running variance is updated with the
  unbiased one, m / (m - 1) * sigma^2, where m is the number of values behind each statistic
  (N*H*W for BatchNorm, H*W for InstanceNorm);
- running = (1 - momentum) * running + momentum * batch_stat, momentum 0.1 and eps 1e-5 by
  default; running_mean starts at 0, running_var at 1;
- momentum=None: BatchNorm keeps the cumulative average, momentum_t = 1 / t with t =
  num_batches_tracked after the step's increment. InstanceNorm passes momentum 0 to its kernel
  instead, so its running statistics then never move, and it never counts batches; both are
  copied as they are;
- InstanceNorm with track_running_stats updates the running statistics with the per-instance
  statistics averaged over the batch, and normalizes with them in eval mode;
- batch statistics are used in training, and in eval mode when no running statistics are
  tracked; using them with one value per statistic raises ValueError, with torch's message.

Notation: x (N, C, H, W) input, m values per statistic, x_hat normalized input, gamma/beta the
affine weight and bias (torch's ``weight``/``bias``), dy = dL/dy the upstream gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from deepkata.core.errors import unknown

__all__ = [
    "NORM_KINDS",
    "BatchNorm2d",
    "BatchNorm2dNumpy",
    "GroupNorm",
    "GroupNormNumpy",
    "InstanceNorm2d",
    "InstanceNorm2dNumpy",
    "LayerNorm",
    "LayerNormNumpy",
    "NormKind",
    "affine_backward",
    "affine_forward",
    "group_count",
    "make_norm",
    "normalize",
    "normalize_backward",
    "normalize_forward",
]

NormKind = Literal["batch", "layer", "instance", "group", "none"]
NORM_KINDS: tuple[NormKind, ...] = ("batch", "layer", "instance", "group", "none")

BATCH_SIZE_MESSAGE = "Expected more than 1 value per channel when training, got input size {size}"
SPATIAL_SIZE_MESSAGE = "Expected more than 1 spatial element when training, got input size {size}"


# --------------------------------------------------------------------------------------------
# NumPy: the shared core
# --------------------------------------------------------------------------------------------


def normalize_forward(x: np.ndarray, mean: np.ndarray, var: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """x_hat and 1 / sqrt(var + eps), for statistics ``mean``, ``var`` that broadcast against x."""
    # 1 / sigma = 1 / sqrt(sigma^2 + eps)
    inv_std = 1.0 / np.sqrt(var + eps)
    # x_hat = (x - mu) / sigma
    return (x - mean) * inv_std, inv_std


def normalize_backward(dx_hat: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
    """dL/dx from dL/dx_hat, when mu and sigma^2 were taken over ``axes`` of x (None: constants).

    With m values per statistic, sigma = sqrt(sigma^2 + eps) and sums over the axes S:

        dL/dsigma^2 = sum_S dx_hat * (x - mu) * (-1/2) sigma^-3 = -1/(2 sigma^2) sum_S dx_hat * x_hat
        dL/dmu      = -1/sigma sum_S dx_hat  +  dL/dsigma^2 * (-2/m) sum_S (x - mu)      (the last sum is 0)
        dL/dx       = dx_hat / sigma  +  dL/dsigma^2 * 2 (x - mu) / m  +  dL/dmu / m
                    = 1/sigma * (dx_hat - mean_S(dx_hat) - x_hat * mean_S(dx_hat * x_hat))

    Running statistics (eval mode) do not depend on x, so then dL/dx = dx_hat / sigma.
    """
    if axes is None:
        # dL/dx = dL/dx_hat / sigma: mu and sigma are the running statistics, constants
        return dx_hat * inv_std
    # dL/dx = 1/sigma * (dx_hat - mean_S(dx_hat) - x_hat * mean_S(dx_hat * x_hat))
    return inv_std * (dx_hat - dx_hat.mean(axis=axes, keepdims=True) - x_hat * (dx_hat * x_hat).mean(axis=axes, keepdims=True))


def affine_forward(x_hat: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None) -> np.ndarray:
    """y = gamma * x_hat + beta, gamma and beta already shaped to broadcast (None: left out)."""
    y = x_hat if gamma is None else gamma * x_hat
    return y if beta is None else y + beta


def affine_backward(
    dy: np.ndarray, x_hat: np.ndarray, gamma: np.ndarray | None, reduce_axes: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dL/dx_hat, dL/dgamma, dL/dbeta) of y = gamma * x_hat + beta; the parameter gradients summed
    over ``reduce_axes`` (every axis the parameters are broadcast along)."""
    # dL/dgamma = sum over the broadcast axes of dy * x_hat
    dgamma = (dy * x_hat).sum(axis=reduce_axes)
    # dL/dbeta = sum over the broadcast axes of dy
    dbeta = dy.sum(axis=reduce_axes)
    # dL/dx_hat = dy * gamma
    dx_hat = dy if gamma is None else dy * gamma
    return dx_hat, dgamma, dbeta


class _Cache(NamedTuple):
    x_shape: tuple[int, ...]
    x_hat: np.ndarray  # in the statistics' view of x: (N, G, C/G * H * W) for GroupNorm, x's shape otherwise
    inv_std: np.ndarray  # 1 / sigma, broadcasting against x_hat
    axes: tuple[int, ...] | None  # the axes S of the statistics; None for running (constant) statistics


_Layer = TypeVar("_Layer", bound="_NormNumpy")


class _NormNumpy:
    """Normalize over axes, then a per-channel affine map; subclasses choose the axes.

    The hooks: ``_check`` (the input's shape), ``_view`` (the array the statistics are taken on),
    ``_stat_axes`` (S, axes of the view), ``_fixed_stats`` (running statistics to use instead of
    the batch's, or None) and ``_record`` (update running statistics). gamma and beta are per
    channel (axis 1 of x) unless ``_param_shape``/``_reduce_axes`` say otherwise (LayerNorm).
    """

    def __init__(self, param_shape: tuple[int, ...], eps: float, affine: bool) -> None:
        self.eps = eps
        self.affine = affine
        self.gamma: np.ndarray | None = np.ones(param_shape) if affine else None
        self.beta: np.ndarray | None = np.zeros(param_shape) if affine else None
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None
        self.training = True
        self._cache: _Cache | None = None

    def train(self: _Layer, mode: bool = True) -> _Layer:
        self.training = mode
        return self

    def eval(self: _Layer) -> _Layer:
        return self.train(False)

    # hooks -----------------------------------------------------------------------------------
    def _check(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def _view(self, x: np.ndarray) -> np.ndarray:
        return x

    def _stat_axes(self, v: np.ndarray) -> tuple[int, ...]:
        raise NotImplementedError

    def _fixed_stats(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        return None

    def _record(self, mean: np.ndarray, var: np.ndarray, count: int, x_shape: tuple[int, ...]) -> None:
        return None

    def _param_shape(self, ndim: int) -> tuple[int, ...]:
        """gamma's shape to broadcast against x: (1, C, 1, ..., 1)."""
        return (1, -1) + (1,) * (ndim - 2)

    def _reduce_axes(self, ndim: int) -> tuple[int, ...]:
        """The axes of x that gamma is broadcast along: all but the channel axis."""
        return (0,) + tuple(range(2, ndim))

    # forward and backward --------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        v = self._view(x)
        fixed = self._fixed_stats(v)
        if fixed is None:
            axes: tuple[int, ...] | None = self._stat_axes(v)
            # mu = mean_S(x), sigma^2 = mean_S((x - mu)^2)          (biased)
            mean = v.mean(axis=axes, keepdims=True)
            var = ((v - mean) ** 2).mean(axis=axes, keepdims=True)
            self._record(mean, var, v.size // mean.size, x.shape)
        else:
            axes, (mean, var) = None, fixed
        x_hat, inv_std = normalize_forward(v, mean, var, self.eps)
        self._cache = _Cache(x.shape, x_hat, inv_std, axes)
        shape = self._param_shape(x.ndim)
        gamma = None if self.gamma is None else self.gamma.reshape(shape)
        beta = None if self.beta is None else self.beta.reshape(shape)
        # y = gamma * x_hat + beta
        return affine_forward(x_hat.reshape(x.shape), gamma, beta)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dL/dx for the last forward; sets ``dgamma`` and ``dbeta`` (None without affine)."""
        if self._cache is None:
            raise RuntimeError("backward before forward")
        c = self._cache
        if dy.shape != c.x_shape:
            raise ValueError(f"dy has shape {dy.shape}, the last input {c.x_shape}")
        gamma = None if self.gamma is None else self.gamma.reshape(self._param_shape(dy.ndim))
        dx_hat, dgamma, dbeta = affine_backward(dy, c.x_hat.reshape(dy.shape), gamma, self._reduce_axes(dy.ndim))
        if self.affine:
            self.dgamma, self.dbeta = dgamma.reshape(np.shape(self.gamma)), dbeta.reshape(np.shape(self.beta))
        dx = normalize_backward(dx_hat.reshape(c.x_hat.shape), c.x_hat, c.inv_std, c.axes)
        return dx.reshape(c.x_shape)


class _RunningStatsNumpy(_NormNumpy):
    """Per-channel statistics with optional running averages: BatchNorm and InstanceNorm."""

    counts_batches = True  # BatchNorm increments num_batches_tracked; torch's InstanceNorm does not
    size_message = BATCH_SIZE_MESSAGE

    def __init__(self, channels: int, eps: float, momentum: float | None, affine: bool, track_running_stats: bool) -> None:
        super().__init__((channels,), eps, affine)
        self.channels = channels
        self.momentum = momentum
        self.track_running_stats = track_running_stats
        self.running_mean: np.ndarray | None = np.zeros(channels) if track_running_stats else None
        self.running_var: np.ndarray | None = np.ones(channels) if track_running_stats else None
        self.num_batches_tracked = 0

    def _check(self, x: np.ndarray) -> None:
        if x.ndim != 4:
            raise ValueError(f"expected 4D input (got {x.ndim}D input)")
        if x.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channels at axis 1, got input of shape {x.shape}")

    def _fixed_stats(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        if self.training or self.running_mean is None or self.running_var is None:
            return None
        shape = self._param_shape(v.ndim)
        return self.running_mean.reshape(shape), self.running_var.reshape(shape)

    def _factor(self) -> float:
        """The momentum of this step; num_batches_tracked has been incremented already."""
        if self.momentum is not None:
            return self.momentum
        return 1.0 / self.num_batches_tracked if self.counts_batches else 0.0

    def _record(self, mean: np.ndarray, var: np.ndarray, count: int, x_shape: tuple[int, ...]) -> None:
        if count == 1:
            raise ValueError(self.size_message.format(size=list(x_shape)))
        if not (self.training and self.running_mean is not None and self.running_var is not None):
            return
        if self.counts_batches:
            self.num_batches_tracked += 1
        momentum = self._factor()
        # per channel: (1, C, 1, 1) for BatchNorm, (N, C, 1, 1) averaged over N for InstanceNorm
        batch_mean = mean.reshape(-1, self.channels).mean(axis=0)
        # unbiased variance m / (m - 1) * sigma^2, with m values per statistic
        batch_var = (var * (count / (count - 1))).reshape(-1, self.channels).mean(axis=0)
        # running = (1 - momentum) * running + momentum * batch statistic
        self.running_mean = (1.0 - momentum) * self.running_mean + momentum * batch_mean
        self.running_var = (1.0 - momentum) * self.running_var + momentum * batch_var


class BatchNorm2dNumpy(_RunningStatsNumpy):
    """BatchNorm over (N, H, W) per channel (Ioffe & Szegedy 2015); running statistics for eval."""

    def __init__(
        self, channels: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True, track_running_stats: bool = True
    ) -> None:
        super().__init__(channels, eps, momentum, affine, track_running_stats)

    def _stat_axes(self, v: np.ndarray) -> tuple[int, ...]:
        return (0, 2, 3)


class InstanceNorm2dNumpy(_RunningStatsNumpy):
    """InstanceNorm over (H, W) per sample and channel (Ulyanov et al. 2016); torch's defaults:
    no affine map, no running statistics."""

    counts_batches = False
    size_message = SPATIAL_SIZE_MESSAGE

    def __init__(
        self, channels: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False, track_running_stats: bool = False
    ) -> None:
        super().__init__(channels, eps, momentum, affine, track_running_stats)

    def _stat_axes(self, v: np.ndarray) -> tuple[int, ...]:
        return (2, 3)


class GroupNormNumpy(_NormNumpy):
    """GroupNorm over (C/G, *) per sample and group of channels (Wu & He 2018); x is (N, C, *)."""

    def __init__(self, groups: int, channels: int, eps: float = 1e-5, affine: bool = True) -> None:
        if groups < 1 or channels % groups != 0:
            raise ValueError(f"num_channels ({channels}) must be divisible by num_groups ({groups})")
        super().__init__((channels,), eps, affine)
        self.groups = groups
        self.channels = channels

    def _check(self, x: np.ndarray) -> None:
        if x.ndim < 2 or x.shape[1] != self.channels:
            raise ValueError(f"expected input (N, {self.channels}, *), got shape {x.shape}")

    def _view(self, x: np.ndarray) -> np.ndarray:
        # (N, C, *) -> (N, G, C/G * prod(*)): one group's values along the last axis
        return x.reshape(x.shape[0], self.groups, -1)

    def _stat_axes(self, v: np.ndarray) -> tuple[int, ...]:
        return (2,)


class LayerNormNumpy(_NormNumpy):
    """LayerNorm over the trailing ``normalized_shape`` axes per leading index (Ba et al. 2016),
    with an elementwise gamma and beta of that shape."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True) -> None:
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        super().__init__(shape, eps, elementwise_affine)
        self.normalized_shape = shape

    def _check(self, x: np.ndarray) -> None:
        d = len(self.normalized_shape)
        if x.ndim < d or tuple(x.shape[x.ndim - d :]) != self.normalized_shape:
            raise ValueError(f"expected input (*, {', '.join(map(str, self.normalized_shape))}), got shape {x.shape}")

    def _stat_axes(self, v: np.ndarray) -> tuple[int, ...]:
        return tuple(range(v.ndim - len(self.normalized_shape), v.ndim))

    def _param_shape(self, ndim: int) -> tuple[int, ...]:
        return self.normalized_shape  # broadcasts along the leading axes

    def _reduce_axes(self, ndim: int) -> tuple[int, ...]:
        return tuple(range(ndim - len(self.normalized_shape)))


# --------------------------------------------------------------------------------------------
# PyTorch modules: the same, with tensor ops; autograd does the backward
# --------------------------------------------------------------------------------------------


def normalize(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(x_hat, mu, sigma^2) with mu, sigma^2 (biased) over ``dims``, kept as size-1 axes."""
    # mu = mean_S(x), sigma^2 = mean_S((x - mu)^2)
    var, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=True)
    # x_hat = (x - mu) / sqrt(sigma^2 + eps)
    return (x - mean) * torch.rsqrt(var + eps), mean, var


def _per_channel(p: Tensor, ndim: int) -> Tensor:
    """A (C,) vector shaped (1, C, 1, ..., 1) to broadcast against an ndim-D input."""
    return p.view((1, -1) + (1,) * (ndim - 2))


def _channel_affine(x_hat: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    # y = gamma_c * x_hat + beta_c
    y = x_hat if weight is None else x_hat * _per_channel(weight, x_hat.ndim)
    return y if bias is None else y + _per_channel(bias, x_hat.ndim)


def _device(device: torch.device | str | None) -> torch.device | str:
    """``device``, or PyTorch's default device when None (what torch's own layers do, said explicitly)."""
    return device if device is not None else torch.get_default_device()


class _RunningNorm(nn.Module):
    """The base of BatchNorm2d and InstanceNorm2d, with torch's ``_NormBase`` names and buffers."""

    counts_batches = True
    size_message = BATCH_SIZE_MESSAGE
    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(
        self,
        num_features: int,
        eps: float,
        momentum: float | None,
        affine: bool,
        track_running_stats: bool,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        kw = {"device": _device(device), "dtype": dtype}
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = nn.Parameter(torch.ones(num_features, **kw)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features, **kw)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **kw))
            self.register_buffer("running_var", torch.ones(num_features, **kw))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=_device(device)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.running_mean is not None and self.running_var is not None and self.num_batches_tracked is not None:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )

    def _stat_dims(self, x: Tensor) -> tuple[int, ...]:
        raise NotImplementedError

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"expected 4D input (got {x.dim()}D input)")
        if x.shape[1] != self.num_features:
            raise ValueError(f"expected {self.num_features} channels at dim 1, got input of size {tuple(x.shape)}")

    def _update_running(self, mean: Tensor, var: Tensor, count: int) -> None:
        assert self.running_mean is not None and self.running_var is not None and self.num_batches_tracked is not None
        if self.counts_batches:
            self.num_batches_tracked += 1
        if self.momentum is not None:
            momentum = self.momentum
        else:  # cumulative average (BatchNorm); InstanceNorm's kernel gets momentum 0
            momentum = 1.0 / float(self.num_batches_tracked) if self.counts_batches else 0.0
        with torch.no_grad():
            # per channel, averaged over the samples for InstanceNorm; unbiased: m / (m - 1) * sigma^2
            batch_mean = mean.reshape(-1, self.num_features).mean(dim=0)
            batch_var = (var * (count / (count - 1))).reshape(-1, self.num_features).mean(dim=0)
            # running = (1 - momentum) * running + momentum * batch statistic
            self.running_mean.mul_(1.0 - momentum).add_(momentum * batch_mean)
            self.running_var.mul_(1.0 - momentum).add_(momentum * batch_var)

    def _normalize(self, x: Tensor) -> Tensor:
        """x_hat for a 4D input, with the batch's or the running statistics."""
        if self.training or self.running_mean is None or self.running_var is None:
            dims = self._stat_dims(x)
            count = math.prod(x.shape[d] for d in dims)
            if count == 1:
                raise ValueError(self.size_message.format(size=x.size()))
            x_hat, mean, var = normalize(x, dims, self.eps)
            if self.training and self.track_running_stats:
                self._update_running(mean.detach(), var.detach(), count)
            return x_hat
        # eval mode: x_hat = (x - running_mean) / sqrt(running_var + eps)
        mean, var = _per_channel(self.running_mean, x.ndim), _per_channel(self.running_var, x.ndim)
        return (x - mean) * torch.rsqrt(var + self.eps)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return _channel_affine(self._normalize(x), self.weight, self.bias)


class BatchNorm2d(_RunningNorm):
    """BatchNorm over (N, H, W) per channel; ``torch.nn.BatchNorm2d``'s arguments and names."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def _stat_dims(self, x: Tensor) -> tuple[int, ...]:
        return (0, 2, 3)


class InstanceNorm2d(_RunningNorm):
    """InstanceNorm over (H, W) per sample and channel; ``torch.nn.InstanceNorm2d``'s arguments,
    defaults (no affine, no running statistics) and names. Takes (N, C, H, W) or (C, H, W)."""

    counts_batches = False
    size_message = SPATIAL_SIZE_MESSAGE

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def _stat_dims(self, x: Tensor) -> tuple[int, ...]:
        return (2, 3)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 3:  # unbatched (C, H, W)
            return self.forward(x.unsqueeze(0)).squeeze(0)
        return super().forward(x)


class GroupNorm(nn.Module):
    """GroupNorm over (C/G, *) per sample and group; ``torch.nn.GroupNorm``'s arguments and names."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_groups < 1 or num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        kw = {"device": _device(device), "dtype": dtype}
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight = nn.Parameter(torch.ones(num_channels, **kw)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels, **kw)) if affine and bias else None

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"expected input (N, {self.num_channels}, *), got size {tuple(x.shape)}")
        # (N, C, *) -> (N, G, C/G * prod(*)), normalized along the last axis
        x_hat, _, _ = normalize(x.reshape(x.shape[0], self.num_groups, -1), (2,), self.eps)
        return _channel_affine(x_hat.reshape(x.shape), self.weight, self.bias)


class LayerNorm(nn.Module):
    """LayerNorm over the trailing ``normalized_shape`` axes, elementwise affine;
    ``torch.nn.LayerNorm``'s arguments and names."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        kw = {"device": _device(device), "dtype": dtype}
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = nn.Parameter(torch.ones(shape, **kw)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(shape, **kw)) if elementwise_affine and bias else None

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def forward(self, x: Tensor) -> Tensor:
        d = len(self.normalized_shape)
        if x.dim() < d or tuple(x.shape[x.dim() - d :]) != self.normalized_shape:
            raise ValueError(f"expected input (*, {', '.join(map(str, self.normalized_shape))}), got size {tuple(x.shape)}")
        x_hat, _, _ = normalize(x, tuple(range(x.dim() - d, x.dim())), self.eps)
        # y = gamma * x_hat + beta, gamma and beta elementwise over the normalized shape
        y = x_hat if self.weight is None else x_hat * self.weight
        return y if self.bias is None else y + self.bias


# --------------------------------------------------------------------------------------------
# The factory the katas use
# --------------------------------------------------------------------------------------------


class _Layers(NamedTuple):
    batch: type[nn.Module]
    instance: type[nn.Module]
    group: type[nn.Module]


_IMPLEMENTATIONS = {
    "ours": _Layers(batch=BatchNorm2d, instance=InstanceNorm2d, group=GroupNorm),
    "torch": _Layers(batch=nn.BatchNorm2d, instance=nn.InstanceNorm2d, group=nn.GroupNorm),
}


def group_count(channels: int, groups: int) -> int:
    """The number of groups GroupNorm gets: the largest divisor of ``channels`` that is at most
    ``groups`` (so min(groups, channels) when that divides channels; 1 for a prime number of
    channels above ``groups``)."""
    if channels < 1 or groups < 1:
        raise ValueError(f"channels and groups must be positive, got {channels} and {groups}")
    return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


# kind -> its layer, built from one implementation's classes, for C channels and at most G groups
_BUILDERS: dict[str, Callable[[_Layers, int, int], nn.Module]] = {
    "batch": lambda layers, c, g: layers.batch(c),
    "layer": lambda layers, c, g: layers.group(1, c),
    "instance": lambda layers, c, g: layers.instance(c, affine=True),
    "group": lambda layers, c, g: layers.group(group_count(c, g), c),
    "none": lambda layers, c, g: nn.Identity(),
}
assert tuple(_BUILDERS) == NORM_KINDS


def make_norm(kind: str, channels: int, *, groups: int = 8, implementation: Literal["ours", "torch"] = "ours") -> nn.Module:
    """A normalization layer for (N, C, H, W) feature maps with ``channels`` channels.

        kind        layer                                   statistics over
        "batch"     BatchNorm2d(C)                          (N, H, W) per channel; running statistics
        "layer"     GroupNorm(1, C)                         (C, H, W) per sample
        "instance"  InstanceNorm2d(C, affine=True)          (H, W) per sample and channel; no running statistics
        "group"     GroupNorm(group_count(C, groups), C)    (C/G, H, W) per sample and group
        "none"      nn.Identity()                           -

    ``"layer"`` is layer normalization of a feature map: the statistics of LayerNorm([C, H, W])
    with a per-channel gamma and beta, which is GroupNorm with one group (Wu & He 2018, 3.1).
    ``nn.LayerNorm([C, H, W])`` would instead carry a gamma of shape (C, H, W), tying the layer to
    one image size and giving every pixel its own scale; GroupNorm(1, C) does not depend on H, W.
    ``"group"`` takes the largest divisor of C at most ``groups`` (:func:`group_count`), as
    GroupNorm needs G to divide C.

    ``implementation="torch"`` gives torch's own module for the same kind (to compare speed).
    """
    if kind not in _BUILDERS:
        raise unknown("norm kind", kind, NORM_KINDS)
    if implementation not in _IMPLEMENTATIONS:
        raise unknown("norm implementation", implementation, _IMPLEMENTATIONS)
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    return _BUILDERS[kind](_IMPLEMENTATIONS[implementation], channels, groups)
