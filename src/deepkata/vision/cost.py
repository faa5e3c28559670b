"""The cost of a network: multiply-accumulates counted by PyTorch, their closed forms, and latency.

MobileNet (Howard et al. 2017, "MobileNets: Efficient Convolutional Neural Networks for Mobile
Vision Applications", arXiv:1704.04861, section 3.1; the notes' Day 4 MobileNet chapter) counts
the multiply-accumulates (MACs, the paper's "mult-adds") of a convolution with output
H x W (stride 1, "same" padding), C input and M output channels and a K x K kernel:

    standard   H·W·K·K·C·M
    depthwise  H·W·C·K·K      (one K x K filter per channel: groups = C, M = C)
    pointwise  H·W·C·M        (1 x 1)

so the depthwise-separable pair costs (H·W·C·K² + H·W·C·M) / (H·W·K²·C·M) = 1/M + 1/K² of the
standard convolution, exactly (:func:`separable_ratio`, a Fraction). H and W are always the
*output's* height and width: a stride-s convolution of an n x n input with "same" padding has
ceil(n/s) x ceil(n/s) outputs.

:func:`count_cost` counts one forward pass with :class:`torch.utils.flop_counter.FlopCounterMode`.
What that counter counts, and so what ``Cost.macs`` is:

- convolutions (``aten.convolution``): batch · output positions · M · (C/groups) · K² multiplies,
  2 FLOPs each; the bias is *not* counted, so a convolution with or without a bias costs the same;
- matrix products (``aten.mm``, ``addmm``, ``bmm``, ``baddbmm``: ``nn.Linear``, ``@``): 2·n·k·m
  FLOPs, again without the bias that ``addmm`` adds; and scaled dot-product attention;
- nothing else: batch norm, ReLU, pooling, additions, softmax are free here (as in the paper's
  mult-adds, which count the convolutions and the fully connected layer).

FLOPs are 2 per multiply-accumulate, so MACs = FLOPs / 2 exactly. The count depends only on
shapes, so a model on the ``meta`` device is counted without computing anything.

:func:`measure_latency` times forward passes (eval mode, ``torch.inference_mode``) and keeps
every sample, so a report can give the median with its spread (the interquartile range), and
the page faults per pass; :func:`measure_latencies` times several models interleaved, so that
their ratios survive a machine whose load changes. MACs predict latency badly: a convolution
with few MACs per byte it moves (a depthwise one: :func:`arithmetic_intensity`) waits on memory
rather than on arithmetic (the roofline model, with :func:`measure_bandwidth`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from deepkata.models import count_parameters

try:
    import resource  # Unix only: page-fault counts
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

# --- closed forms (the notes' formulas; h, w: the output's height and width) -------------------------


def standard_conv_macs(h: int, w: int, c: int, m: int, k: int) -> int:
    """MACs of a K x K convolution from C to M channels with an h x w output: H·W·K·K·C·M."""
    # each of the H·W·M outputs sums K·K·C products
    return h * w * k * k * c * m


def depthwise_conv_macs(h: int, w: int, c: int, k: int) -> int:
    """MACs of a depthwise K x K convolution of C channels (groups = C) with an h x w output: H·W·C·K·K."""
    # each of the H·W·C outputs sums the K·K products of its own channel
    return h * w * c * k * k


def pointwise_conv_macs(h: int, w: int, c: int, m: int) -> int:
    """MACs of a 1 x 1 convolution from C to M channels with an h x w output: H·W·C·M."""
    # each of the H·W·M outputs sums C products, one per input channel
    return h * w * c * m


def separable_ratio(m: int, k: int) -> Fraction:
    """Depthwise + pointwise over standard, exactly (Howard et al., eq. 5)."""
    # (H·W·C·K² + H·W·C·M) / (H·W·K²·C·M) = 1/M + 1/K²
    return Fraction(1, m) + Fraction(1, k * k)


def same_output_size(n: int, stride: int) -> int:
    """Output length of a "same"-padded convolution (odd K, padding K // 2) of stride s on n inputs: ceil(n / s)."""
    return -(-n // stride)


# --- counting one forward pass -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """One forward pass: its MACs, where they are spent, and the model's parameters.

    ``by_module`` maps a module's qualified name (as in ``model.named_modules()``; ``""`` is the
    model itself) to the MACs of the operations it runs *itself*, not inside a child module; only
    modules that spend some appear, in the model's order, and their values sum to ``macs``.
    ``by_op`` splits ``macs`` by ATen operator (``aten.convolution``, ``aten.addmm``...).
    ``params`` counts the trainable parameters (BN's γ and β included, its running statistics,
    which are buffers, not), as the papers' parameter counts do.
    """

    macs: int
    by_module: dict[str, int]
    params: int
    by_op: dict[str, int]

    @property
    def flops(self) -> int:
        return 2 * self.macs


def count_cost(model: nn.Module, x: torch.Tensor | Sequence[int]) -> Cost:
    """Count one forward pass of ``model`` on ``x`` (a tensor, or a shape for zeros on the model's
    device and dtype), in eval mode without gradients; the model's mode is restored after."""
    if not isinstance(x, torch.Tensor):
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
        dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
        x = torch.zeros(tuple(x), device=device, dtype=dtype)
    training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(training)
    counts = counter.get_flop_counts()
    root = type(model).__name__
    totals: dict[str, int] = {}  # module's qualified name -> FLOPs inside it, children included
    for name, ops in counts.items():
        if name == root:
            totals[""] = sum(ops.values())
        elif name.startswith(root + "."):
            totals[name[len(root) + 1 :]] = sum(ops.values())
    flops = sum(counts.get("Global", {}).values())
    own = dict(totals)  # FLOPs a module runs itself: its total less its direct children's
    for name, total in totals.items():
        if name:
            parent = name.rpartition(".")[0]
            own[parent] = own.get(parent, 0) - total
    outside = flops - totals.get("", 0)  # operations the counter saw outside the model's modules
    if outside:
        own["(outside modules)"] = outside
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    by_module = {name: _macs(f, name) for name, f in sorted(own.items(), key=lambda kv: order.get(kv[0], len(order))) if f}
    by_op = {str(op): _macs(f, str(op)) for op, f in counts.get("Global", {}).items() if f}
    return Cost(macs=_macs(flops, "the model"), by_module=by_module, params=count_parameters(model), by_op=by_op)


def _macs(flops: int, what: str) -> int:
    """MACs from the counter's FLOPs (2 per multiply-accumulate)."""
    if flops % 2:
        raise ValueError(f"{what}: an odd FLOP count ({flops}) is not 2 per multiply-accumulate")
    return flops // 2


# --- bytes moved ---------------------------------------------------------------------------------------


def conv_bytes(conv: nn.Conv2d, input_shape: Sequence[int], bytes_per_element: int = 4) -> int:
    """Bytes a convolution must move at the least: its input, its output and its weights (and
    bias), each read or written once, at ``bytes_per_element`` (4: float32)."""
    b, c, h, w = input_shape  # (B, C, H, W)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation  # type: ignore[misc]
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    elements = b * c * h * w + b * conv.out_channels * ho * wo + sum(p.numel() for p in conv.parameters())
    return elements * bytes_per_element


def arithmetic_intensity(macs: int, nbytes: int) -> float:
    """MACs per byte moved: below the machine's balance (peak MAC/s over memory bytes/s) the
    memory, not the arithmetic, bounds the speed (the roofline model, Williams et al. 2009)."""
    return macs / nbytes


# --- time ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Seconds per forward pass: every timed repeat, in order, and the threads it ran on.

    ``page_faults``: the process's minor page faults per timed pass (None where the platform does
    not count them): memory touched for the first time, which the kernel maps page by page. A
    pass that allocates large fresh buffers can spend more time there than computing.
    """

    samples: tuple[float, ...]
    threads: int
    page_faults: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def quartiles(self) -> tuple[float, float]:
        """The first and third quartiles (inclusive method; the one sample twice for a single repeat)."""
        if len(self.samples) < 2:
            return self.samples[0], self.samples[0]
        q1, _, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q1, q3

    @property
    def iqr(self) -> float:
        q1, q3 = self.quartiles
        return q3 - q1

    @property
    def min(self) -> float:
        return min(self.samples)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_latency(model: nn.Module, x: torch.Tensor, *, repeats: int, warmup: int, threads: int | None = None) -> Latency:
    """Time ``repeats`` forward passes of ``model`` on ``x`` after ``warmup`` untimed ones, in eval
    mode under ``torch.inference_mode``, on ``threads`` PyTorch threads (None: the current count).
    The model's mode and the thread count are restored after."""
    return measure_latencies({"model": (model, x)}, repeats=repeats, warmup=warmup, threads=threads)["model"]


def measure_latencies(
    cases: Mapping[str, tuple[nn.Module, torch.Tensor]], *, repeats: int, warmup: int, threads: int | None = None
) -> dict[str, Latency]:
    """:func:`measure_latency` for several (model, input) cases at once, interleaved: each round
    times one pass of every case in turn, so that a change in the machine's load during the
    measurement falls on all of them alike and their ratios stay fair."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    previous = torch.get_num_threads()
    modes = {name: model.training for name, (model, _) in cases.items()}
    if threads is not None:
        torch.set_num_threads(threads)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    faults: dict[str, int] = dict.fromkeys(cases, 0)
    try:
        for model, _ in cases.values():
            model.eval()
        with torch.inference_mode():
            for _ in range(warmup):
                for model, x in cases.values():
                    model(x)
            for _ in range(repeats):
                for name, (model, x) in cases.items():
                    _sync(x.device)
                    before = _minor_faults()
                    start = time.perf_counter()
                    model(x)
                    _sync(x.device)
                    samples[name].append(time.perf_counter() - start)
                    faults[name] += _minor_faults() - before
        used = torch.get_num_threads()
    finally:
        for name, (model, _) in cases.items():
            model.train(modes[name])
        torch.set_num_threads(previous)
    counted = _minor_faults() >= 0
    return {name: Latency(tuple(s), used, faults[name] / repeats if counted else None) for name, s in samples.items()}


def _minor_faults() -> int:
    """The process's minor page faults so far; -1 where the platform does not count them."""
    if resource is None:
        return -1
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure_bandwidth(nbytes: int, *, device: torch.device, repeats: int, warmup: int = 1, threads: int | None = None) -> float:
    """Memory bandwidth in bytes per second: copies of an ``nbytes`` float32 buffer into another
    (read once, written once: 2·nbytes moved a copy), the median of ``repeats``. Take ``nbytes``
    well above the last-level cache to measure memory rather than cache."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        src = torch.ones(nbytes // 4, device=device)
        dst = torch.empty_like(src)
        samples = []
        for i in range(warmup + repeats):
            _sync(device)
            start = time.perf_counter()
            dst.copy_(src)
            _sync(device)
            if i >= warmup:
                samples.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return 2 * src.numel() * 4 / statistics.median(samples)
