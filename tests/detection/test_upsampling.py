"""Transposed convolution, max-unpooling and the receptive field, against PyTorch in float64.

- :func:`conv_transpose2d` (insert zeros, pad, convolve with the flipped kernel),
  :func:`conv_transpose2d_scatter` (the definition) and, at dilation 1,
  :func:`conv_transpose2d_subpixel` (one convolution per output phase) equal ``F.conv_transpose2d`` to 1e-10,
  forward and the gradients of x, weight and bias, over a grid of strides, paddings, output
  paddings, dilations and groups with a non-square kernel and input, with pair arguments, and
  over random shapes (hypothesis); it is the adjoint of ``F.conv2d``; a hand-computed case.
- :class:`ConvTranspose2d` draws the same parameters as ``nn.ConvTranspose2d`` from one seed.
- :func:`max_pool2d_with_switches` / :func:`max_unpool2d` equal ``F.max_pool2d(return_indices=True)``
  / ``F.max_unpool2d``, indices, values and gradients, ties included.
- :func:`receptive_field` against hand values and :func:`measured_receptive_field`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from deepkata.detection.upsampling import (
    ConvTranspose2d,
    bilinear_kernel,
    conv_transpose2d,
    conv_transpose2d_scatter,
    conv_transpose2d_size,
    conv_transpose2d_subpixel,
    jump,
    max_pool2d_with_switches,
    max_unpool2d,
    measured_receptive_field,
    receptive_field,
)

ATOL = 1e-10
F64 = torch.float64


def randn(*shape: int, seed: int) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def value_and_grads(fn: Callable[..., Tensor], x: Tensor, weight: Tensor, bias: Tensor, **kwargs: object) -> list[Tensor]:
    """fn's output and the gradients of L = sum(y * G), G fixed and random, for x, weight and bias."""
    leaves = [t.clone().requires_grad_(True) for t in (x, weight, bias)]
    y = fn(*leaves, **kwargs)
    loss = (y * randn(*y.shape, seed=99)).sum()
    return [y.detach(), *torch.autograd.grad(loss, leaves)]


def assert_all_close(got: list[Tensor], want: list[Tensor]) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        torch.testing.assert_close(g, w, atol=ATOL, rtol=0)


def check_transposed(x: Tensor, weight: Tensor, bias: Tensor, **kwargs: object) -> None:
    want = value_and_grads(F.conv_transpose2d, x, weight, bias, **kwargs)
    assert_all_close(value_and_grads(conv_transpose2d, x, weight, bias, **kwargs), want)
    assert_all_close(value_and_grads(conv_transpose2d_scatter, x, weight, bias, **kwargs), want)
    if kwargs.get("dilation", 1) in (1, (1, 1)):
        assert_all_close(value_and_grads(conv_transpose2d_subpixel, x, weight, bias, **kwargs), want)


# --------------------------------------------------------------------------------------------
# transposed convolution
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_transposed_convolution_equals_torch_over_a_grid(stride: int, dilation: int, groups: int) -> None:
    # a non-square kernel (3 x 2) on a non-square input (4 x 5); 4 input and 6 output channels
    x, weight, bias = randn(2, 4, 4, 5, seed=1), randn(4, 6 // groups, 3, 2, seed=2), randn(6, seed=3)
    cases = 0
    for padding in (0, 1, 2):
        for output_padding in range(max(stride, dilation)):  # torch allows op < stride or < dilation
            kwargs = {"stride": stride, "padding": padding, "output_padding": output_padding, "dilation": dilation, "groups": groups}
            check_transposed(x, weight, bias, **kwargs)
            # H_out = (H - 1) s - 2p + d (k - 1) + op + 1
            size = conv_transpose2d(x, weight, **kwargs).shape[2:]
            want = [conv_transpose2d_size(n, k, stride, padding, output_padding, dilation) for n, k in ((4, 3), (5, 2))]
            assert list(size) == want
            cases += 1
    assert cases == 3 * max(stride, dilation)


def test_pair_arguments_differ_per_axis() -> None:
    x, weight, bias = randn(1, 2, 3, 4, seed=4), randn(2, 3, 2, 3, seed=5), randn(3, seed=6)
    kwargs = {"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2), "dilation": (1, 2)}
    check_transposed(x, weight, bias, **kwargs)
    # H: (3 - 1) 2 - 2 + 1 (2 - 1) + 1 + 1 = 5; W: (4 - 1) 3 - 0 + 2 (3 - 1) + 2 + 1 = 16
    assert conv_transpose2d(x, weight, bias, **kwargs).shape == (1, 3, 5, 16)


def test_padding_beyond_the_kernel_crops() -> None:
    # d (k - 1) - p = 1 - 3 < 0: the zero-inserted map is cropped, not padded
    x, weight, bias = randn(1, 1, 6, 6, seed=7), randn(1, 1, 2, 2, seed=8), randn(1, seed=9)
    check_transposed(x, weight, bias, stride=2, padding=3, output_padding=1)
    # (6 - 1) 2 - 2*3 + (2 - 1) + 1 + 1 = 7
    assert conv_transpose2d(x, weight, stride=2, padding=3, output_padding=1).shape == (1, 1, 7, 7)


def test_a_hand_computed_case() -> None:
    # one row [1, 2], kernel [1, 10, 100], stride 2: pixel 0 adds 1 * [1, 10, 100] at 0..2, pixel 1
    # adds 2 * [1, 10, 100] at 2..4: [1, 10, 102, 20, 200]; padding 1 cuts one from each side
    x = torch.tensor([[[[1.0, 2.0]]]], dtype=F64)
    w = torch.tensor([[[[1.0, 10.0, 100.0]]]], dtype=F64)
    for fn in (conv_transpose2d, conv_transpose2d_scatter, conv_transpose2d_subpixel):
        assert fn(x, w, stride=(1, 2)).flatten().tolist() == [1.0, 10.0, 102.0, 20.0, 200.0]
        assert fn(x, w, stride=(1, 2), padding=(0, 1)).flatten().tolist() == [10.0, 102.0, 20.0]
        # output padding 1 adds a column of zeros at the right edge of the un-padded output
        assert fn(x, w, stride=(1, 2), output_padding=(0, 1)).flatten().tolist() == [1.0, 10.0, 102.0, 20.0, 200.0, 0.0]


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (3, 2, 2), (2, 0, 3)])
def test_it_is_the_adjoint_of_convolution(stride: int, padding: int, dilation: int) -> None:
    # <conv2d(u, w), v> = <u, conv_transpose2d(v, w)> for every u, v: the transposed matrix
    u, w = randn(2, 3, 9, 8, seed=10), randn(4, 3, 3, 3, seed=11)
    conv = F.conv2d(u, w, stride=stride, padding=padding, dilation=dilation)
    v = randn(*conv.shape, seed=12)
    # op recovers the sizes that floor division lost: (H + 2p - d (k - 1) - 1) mod s
    op = tuple((n + 2 * padding - dilation * 2 - 1) % stride for n in u.shape[2:])
    back = conv_transpose2d(v, w, stride=stride, padding=padding, output_padding=op, dilation=dilation)
    assert back.shape == u.shape
    torch.testing.assert_close((conv * v).sum(), (u * back).sum(), atol=ATOL, rtol=0)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    batch=st.integers(1, 2),
    groups=st.integers(1, 3),
    size=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
)
def test_random_shapes_equal_torch(
    data: st.DataObject, batch: int, groups: int, size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> None:
    padding = tuple(data.draw(st.integers(0, 3)) for _ in range(2))
    output_padding = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True))
    axes = zip(size, kernel, stride, padding, output_padding, dilation, strict=True)
    out = [conv_transpose2d_size(n, k, s, p, op, d) for n, k, s, p, op, d in axes]
    c_in, c_out = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    x, weight, bias = randn(batch, c_in, *size, seed=13), randn(c_in, c_out // groups, *kernel, seed=14), randn(c_out, seed=15)
    kwargs = {"stride": stride, "padding": padding, "output_padding": output_padding, "dilation": dilation, "groups": groups}
    if min(out) < 1:
        with pytest.raises(RuntimeError):
            F.conv_transpose2d(x, weight, bias, **kwargs)
        with pytest.raises(ValueError, match="is not positive"):
            conv_transpose2d(x, weight, bias, **kwargs)
        return
    check_transposed(x, weight, bias, **kwargs)


def test_bad_arguments_are_refused_as_torch_refuses_them() -> None:
    x, w = randn(1, 2, 3, 3, seed=16), randn(2, 1, 3, 3, seed=17)
    with pytest.raises(RuntimeError):
        F.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="groups=3"):
        conv_transpose2d(x, w, groups=3)
    with pytest.raises(ValueError, match="first axis"):
        conv_transpose2d(x, randn(3, 1, 3, 3, seed=18))
    with pytest.raises(ValueError, match="dilation 1"):
        conv_transpose2d_subpixel(x, w, dilation=2)


@pytest.mark.parametrize("kernel, stride, padding", [(16, 8, 4), (4, 2, 1), (3, 5, 0), (7, 3, 5)])
def test_the_subpixel_form_at_fcns_sizes(kernel: int, stride: int, padding: int) -> None:
    # FCN's x8 (k 16, s 8, p 4) and x2, a kernel smaller than the stride (phases with no tap: zeros),
    # and padding beyond the kernel (the phases' map is cropped)
    x, weight, bias = randn(2, 3, 5, 4, seed=20), randn(3, 2, kernel, kernel, seed=21), randn(2, seed=22)
    for output_padding in (0, stride - 1):
        check_transposed(x, weight, bias, stride=stride, padding=padding, output_padding=output_padding)


def test_the_module_draws_torchs_parameters_and_computes_the_same() -> None:
    kwargs = {"stride": (2, 1), "padding": 1, "output_padding": (1, 0), "groups": 2, "dilation": (1, 2)}
    torch.manual_seed(0)
    ref = nn.ConvTranspose2d(4, 6, (3, 2), **kwargs).double()
    torch.manual_seed(0)
    ours = ConvTranspose2d(4, 6, (3, 2), **kwargs).double()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    for name, p in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[name], p, atol=0, rtol=0)
    ours.load_state_dict(ref.state_dict())  # and back: the names are torch's
    x = randn(2, 4, 5, 3, seed=19)
    torch.testing.assert_close(ours(x), ref(x), atol=ATOL, rtol=0)
    assert ours(x).shape[2:] == (10, 3)  # ((5 - 1) 2 - 2 + 2 + 1 + 1, (3 - 1) - 2 + 2 + 0 + 1)
    # output_size picks the output padding, as torch's does (here op = (0, 0) instead of (1, 0))
    torch.testing.assert_close(ours(x, output_size=(9, 3)), ref(x, output_size=[9, 3]), atol=ATOL, rtol=0)
    assert ours(x, output_size=(9, 3)).shape[2:] == (9, 3)
    with pytest.raises(ValueError, match="not reachable"):
        ours(x, output_size=(11, 3))
    assert not ConvTranspose2d(2, 2, 3, bias=False).state_dict().keys() - {"weight"}
    # at dilation 1 the module computes by the sub-pixel form; still torch's values
    torch.manual_seed(1)
    ref = nn.ConvTranspose2d(4, 6, (4, 3), stride=(2, 3), padding=1, groups=2).double()
    ours = ConvTranspose2d(4, 6, (4, 3), stride=(2, 3), padding=1, groups=2).double()
    ours.load_state_dict(ref.state_dict())
    torch.testing.assert_close(ours(x, output_size=(10, 8)), ref(x, output_size=[10, 8]), atol=ATOL, rtol=0)


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 8])
def test_the_bilinear_kernel_interpolates_away_from_the_borders(factor: int) -> None:
    x = randn(2, 3, 5, 6, seed=20)
    k = bilinear_kernel(factor)
    assert k.shape == (2 * factor - factor % 2,) * 2
    # the same kernel for every channel, no mixing: weight[c, c] = k
    weight = torch.zeros(3, 3, *k.shape, dtype=F64)
    weight[range(3), range(3)] = k
    up = conv_transpose2d(x, weight, stride=factor, padding=(k.shape[0] - factor) // 2)
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert up.shape == ref.shape == (2, 3, 5 * factor, 6 * factor)
    # interpolate clamps its sampling position to the image, the convolution sees zeros there:
    # they agree wherever (o + 1/2) / f - 1/2 lies within [0, H - 1], i.e. f // 2 pixels from the edge
    edge = factor // 2
    inner = (slice(None), slice(None), slice(edge, up.shape[2] - edge), slice(edge, up.shape[3] - edge))
    torch.testing.assert_close(up[inner], ref[inner], atol=ATOL, rtol=0)
    if factor > 1:
        assert (up[..., 0, :] - ref[..., 0, :]).abs().max() > 1e-3  # and differ on the border


# --------------------------------------------------------------------------------------------
# max-pooling with switches, max-unpooling
# --------------------------------------------------------------------------------------------

POOLS = [((2, 2), None, 0), (3, 2, 1), ((3, 2), (2, 1), (1, 0)), (3, 1, 1), (2, 3, 0)]


def distinct(*shape: int, seed: int) -> Tensor:
    """Values without ties, so every maximum is unique."""
    n = torch.Size(shape).numel()
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(F64).view(*shape) / n


@pytest.mark.parametrize("kernel, stride, padding", POOLS)
def test_pooling_with_switches_equals_torch(kernel: object, stride: object, padding: object) -> None:
    x = distinct(2, 3, 7, 8, seed=21)
    ref_x, our_x = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ref_v, ref_i = F.max_pool2d(ref_x, kernel, stride, padding, return_indices=True)
    our_v, our_i = max_pool2d_with_switches(our_x, kernel, stride, padding)
    assert torch.equal(our_i, ref_i) and torch.equal(our_v, ref_v)
    g = randn(*ref_v.shape, seed=22)
    (ref_v * g).sum().backward()
    (our_v * g).sum().backward()
    torch.testing.assert_close(our_x.grad, ref_x.grad, atol=ATOL, rtol=0)


@pytest.mark.parametrize("kernel, stride, padding", POOLS)
def test_unpooling_equals_torch(kernel: object, stride: object, padding: object) -> None:
    x = distinct(2, 3, 7, 8, seed=23)
    pooled, indices = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    for size in (None, (7, 8)):
        ref_in, our_in = pooled.clone().requires_grad_(True), pooled.clone().requires_grad_(True)
        try:
            ref = F.max_unpool2d(ref_in, indices, kernel, stride, padding, output_size=size)
        except RuntimeError:  # the default size is smaller than the pooled image, an index falls outside
            with pytest.raises(ValueError, match="outside"):
                max_unpool2d(our_in, indices, kernel, stride, padding, output_size=size)
            continue
        ours = max_unpool2d(our_in, indices, kernel, stride, padding, output_size=size)
        assert torch.equal(ours, ref)
        g = randn(*ref.shape, seed=24)
        (ref * g).sum().backward()
        (ours * g).sum().backward()
        torch.testing.assert_close(our_in.grad, ref_in.grad, atol=ATOL, rtol=0)
    # every pooled value back where it came from: the unpooled map agrees with x at the switches
    up = max_unpool2d(pooled, indices, kernel, stride, padding, output_size=x.shape)
    assert torch.equal(up.flatten(2).gather(2, indices.flatten(2)), x.flatten(2).gather(2, indices.flatten(2)))


def test_ties_go_to_the_first_maximum_in_row_major_order_as_in_torch() -> None:
    # a constant image: every window's first pixel; a 2x2 window [[1, 5], [5, 0]]: the top-right 5
    flat = torch.ones(1, 1, 4, 4, dtype=F64)
    tie = torch.tensor([[[[1.0, 5.0], [5.0, 0.0]]]], dtype=F64)
    for x, kernel, stride, padding in ((flat, 2, 2, 0), (flat, 3, 1, 1), (tie, 2, 1, 0)):
        _, ref = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
        _, ours = max_pool2d_with_switches(x, kernel, stride, padding)
        assert torch.equal(ours, ref)
    assert max_pool2d_with_switches(flat, 2)[1].flatten().tolist() == [0, 2, 8, 10]
    assert max_pool2d_with_switches(tie, 2)[1].item() == 1


def test_bad_pooling_arguments_are_refused() -> None:
    x = randn(1, 1, 4, 4, seed=25)
    with pytest.raises(ValueError, match="at most half"):
        max_pool2d_with_switches(x, 2, padding=2)
    pooled, indices = max_pool2d_with_switches(x, 2)
    with pytest.raises(ValueError, match="outside"):
        max_unpool2d(pooled, indices + 16, 2)
    with pytest.raises(ValueError, match="strictly between"):
        max_unpool2d(pooled, indices, 2, output_size=(6, 4))


# --------------------------------------------------------------------------------------------
# receptive field
# --------------------------------------------------------------------------------------------


def conv(dilation: int = 1, stride: int = 1, kernel: int = 3) -> nn.Conv2d:
    return nn.Conv2d(2, 2, kernel, stride=stride, padding=dilation * (kernel - 1) // 2, dilation=dilation)


STACKS: list[tuple[str, list[nn.Module], list[tuple[int, int, int]], int, int]] = [
    # name, layers, (k, s, d) each, r, jump
    ("3x3 dilations 1, 2, 4", [conv(1), nn.ReLU(), conv(2), nn.ReLU(), conv(4)], [(3, 1, 1), (3, 1, 2), (3, 1, 4)], 15, 1),
    # 1 + 2 + 2*2 + 2*2 + 2*4 = 19
    (
        "strides 2, 1, 2, 1",
        [conv(stride=2), conv(), conv(stride=2), nn.BatchNorm2d(2), nn.ReLU(), conv()],
        [(3, 2, 1), (3, 1, 1), (3, 2, 1), (3, 1, 1)],
        19,
        4,
    ),
    # 1 + 1 + 2*2 + 1*2 + 2*2*4 = 24
    ("avg-pool, conv, dilated", [nn.AvgPool2d(2), conv(), nn.AvgPool2d(2), conv(2)], [(2, 2, 1), (3, 1, 1), (2, 2, 1), (3, 1, 2)], 24, 4),
    # a 1x1 stride-2 conv then 3x3: pixels 0, 2, 4 (gaps), extent 5
    ("1x1/2 then 3x3", [conv(stride=2, kernel=1), conv()], [(1, 2, 1), (3, 1, 1)], 5, 2),
    # 1 + 4*3 + 2 + 2*2 = 19
    ("5x5 dilation 3 then 3x3/2", [conv(3, kernel=5), conv(stride=2), conv()], [(5, 1, 3), (3, 2, 1), (3, 1, 1)], 19, 2),
]


@pytest.mark.parametrize("name, layers, spec, r, step", STACKS, ids=[s[0] for s in STACKS])
def test_the_receptive_field_formula_is_what_the_gradient_reaches(
    name: str, layers: list[nn.Module], spec: list[tuple[int, int, int]], r: int, step: int
) -> None:
    assert receptive_field(spec) == r and jump(spec) == step
    # the input large enough that the central output's field fits inside it
    assert measured_receptive_field(nn.Sequential(*layers), 4 * r + 1) == (r, r)


def test_the_yu_koltun_context_module_grows_exponentially() -> None:
    # 3x3 with dilations 1, 1, 2, 4, 8, 16, 1: 1 + 2 (1 + 1 + 2 + 4 + 8 + 16 + 1) = 67
    dilations = (1, 1, 2, 4, 8, 16, 1)
    assert receptive_field([(3, 1, d) for d in dilations]) == 67
    # dilations 2^i: r = 2^(i+2) - 1 after layer i, the paper's (2^(i+2) - 1)^2 fields
    assert [receptive_field([(3, 1, 2**j) for j in range(i + 1)]) for i in range(5)] == [3, 7, 15, 31, 63]
    stack = nn.Sequential(*[conv(d) for d in dilations])
    assert measured_receptive_field(stack, (71, 69)) == (67, 67)
    # an input smaller than the field: the measurement stops at the image's border
    assert measured_receptive_field(stack, (21, 21)) == (21, 21)
