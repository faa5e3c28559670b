"""The from-scratch normalization layers equal torch.nn's in float64, to 1e-10.

Each case builds three twins with the same random parameters: torch's module, our module (weights
copied by ``load_state_dict``) and our NumPy layer. The loss L = sum(y * G) with a random G makes
every output matter; outputs, dL/dx, dL/dgamma and dL/dbeta, and the running statistics after
several training steps on different batches, must agree, then the same again in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from deepkata.core.errors import UserError
from deepkata.core.gradcheck import check_gradients
from deepkata.vision.norms import (
    NORM_KINDS,
    BatchNorm2d,
    BatchNorm2dNumpy,
    GroupNorm,
    GroupNormNumpy,
    InstanceNorm2d,
    InstanceNorm2dNumpy,
    LayerNorm,
    LayerNormNumpy,
    group_count,
    make_norm,
)

ATOL = 1e-10
SHAPE = (4, 6, 5, 3)  # N, C, H, W
BATCH_SIZES = (4, 2, 5, 3, 4)  # five training steps on batches of different sizes

CLASSES: dict[str, tuple[type[nn.Module], type[nn.Module], type]] = {  # torch's, ours, NumPy
    "batch": (nn.BatchNorm2d, BatchNorm2d, BatchNorm2dNumpy),
    "instance": (nn.InstanceNorm2d, InstanceNorm2d, InstanceNorm2dNumpy),
    "group": (nn.GroupNorm, GroupNorm, GroupNormNumpy),
    "layer": (nn.LayerNorm, LayerNorm, LayerNormNumpy),
}


def twins(kind: str, *args: Any, seed: int = 0, **kwargs: Any) -> tuple[nn.Module, nn.Module, Any]:
    """torch's module, ours and the NumPy layer, with the same random weight and bias."""
    ref_cls, ours_cls, numpy_cls = CLASSES[kind]
    ref, ours, layer = ref_cls(*args, **kwargs).double(), ours_cls(*args, **kwargs).double(), numpy_cls(*args, **kwargs)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    ours.load_state_dict(ref.state_dict())
    if ref.weight is not None:
        layer.gamma, layer.beta = ref.weight.detach().numpy().copy(), ref.bias.detach().numpy().copy()
    return ref, ours, layer


def module_step(module: nn.Module, x: np.ndarray, g: np.ndarray) -> dict[str, np.ndarray]:
    """y and the gradients of L = sum(y * g)."""
    module.zero_grad(set_to_none=True)
    xt = torch.tensor(x, requires_grad=True)
    y = module(xt)
    (y * torch.tensor(g)).sum().backward()
    out = {"y": y.detach().numpy(), "dx": xt.grad.numpy()}
    if module.weight is not None:
        out["dgamma"], out["dbeta"] = module.weight.grad.numpy(), module.bias.grad.numpy()
    return out


def numpy_step(layer: Any, x: np.ndarray, g: np.ndarray) -> dict[str, np.ndarray]:
    out = {"y": layer.forward(x), "dx": layer.backward(g)}
    if layer.gamma is not None:
        out["dgamma"], out["dbeta"] = layer.dgamma, layer.dbeta
    return out


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=ATOL, err_msg=name)


def assert_same_running_stats(ref: nn.Module, ours: nn.Module, layer: Any) -> None:
    assert ours.state_dict().keys() == ref.state_dict().keys()
    for name in ("running_mean", "running_var"):
        want = getattr(ref, name)
        if want is None:
            assert getattr(ours, name) is None and getattr(layer, name) is None
            continue
        np.testing.assert_allclose(getattr(ours, name).numpy(), want.numpy(), rtol=0, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(getattr(layer, name), want.numpy(), rtol=0, atol=ATOL, err_msg=name)
    if ref.num_batches_tracked is not None:
        assert int(ours.num_batches_tracked) == int(ref.num_batches_tracked) == layer.num_batches_tracked


def run_steps(ref: nn.Module, ours: nn.Module, layer: Any, shapes: Iterator[tuple[int, ...]], rng: np.random.Generator) -> None:
    """One forward/backward per shape, on fresh random data, compared at every step."""
    for shape in shapes:
        x = rng.normal(1.5, 2.0, size=shape)  # mean and scale away from 0 and 1: the statistics matter
        g = rng.normal(size=shape)
        want = module_step(ref, x, g)
        assert_same(module_step(ours, x, g), want)
        assert_same(numpy_step(layer, x, g), want)


def set_mode(training: bool, *layers: Any) -> None:
    for layer in layers:
        layer.train(training)


# --------------------------------------------------------------------------------------------
# BatchNorm
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_training_steps_running_stats_and_eval(momentum, affine):
    rng = np.random.default_rng(1)
    ref, ours, layer = twins("batch", 6, momentum=momentum, affine=affine)
    run_steps(ref, ours, layer, ((n, 6, 5, 3) for n in BATCH_SIZES), rng)
    assert_same_running_stats(ref, ours, layer)
    assert int(ref.num_batches_tracked) == len(BATCH_SIZES)
    assert not np.allclose(layer.running_var, 1.0)  # the statistics moved
    set_mode(False, ref, ours, layer)
    run_steps(ref, ours, layer, iter([SHAPE, (1, 6, 1, 1)]), rng)  # one value per channel is fine in eval
    assert_same_running_stats(ref, ours, layer)  # eval leaves them alone


def test_batchnorm_running_stats_by_hand():
    """torch's conventions: biased variance to normalize, unbiased into running_var, momentum 0.1."""
    rng = np.random.default_rng(2)
    layer = BatchNorm2dNumpy(6)
    x = rng.normal(size=SHAPE)
    y = layer.forward(x)
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    m = SHAPE[0] * SHAPE[2] * SHAPE[3]
    np.testing.assert_allclose(y, (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5), rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.running_mean, 0.1 * mean, rtol=0, atol=1e-15)
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * var * m / (m - 1), rtol=0, atol=1e-15)


def test_batchnorm_cumulative_average_with_momentum_none():
    rng = np.random.default_rng(3)
    layer = BatchNorm2dNumpy(6, momentum=None)
    batches = [rng.normal(k, 1.0, size=SHAPE) for k in range(3)]
    for x in batches:
        layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, np.mean([x.mean(axis=(0, 2, 3)) for x in batches], axis=0), rtol=0, atol=1e-14)


def test_batchnorm_without_running_stats_uses_batch_statistics_in_eval():
    rng = np.random.default_rng(4)
    ref, ours, layer = twins("batch", 6, track_running_stats=False)
    run_steps(ref, ours, layer, iter([SHAPE, (2, 6, 2, 3)]), rng)
    set_mode(False, ref, ours, layer)
    run_steps(ref, ours, layer, iter([SHAPE]), rng)
    assert_same_running_stats(ref, ours, layer)
    assert set(ours.state_dict()) == {"weight", "bias"}


@pytest.mark.parametrize("track", [True, False])
def test_batchnorm_one_value_per_channel_raises_like_torch(track):
    x = torch.randn(1, 6, 1, 1, dtype=torch.float64)
    ref, ours, layer = twins("batch", 6, track_running_stats=track)
    modes = [True] if track else [True, False]  # without running statistics eval uses the batch's too
    for training in modes:
        set_mode(training, ref, ours, layer)
        for call in (ref, ours, lambda t: layer.forward(t.numpy())):
            with pytest.raises(ValueError, match="Expected more than 1 value per channel when training, got input size"):
                call(x)
    set_mode(True, ref, ours, layer)
    run_steps(ref, ours, layer, iter([(1, 6, 2, 1), (2, 6, 1, 1)]), np.random.default_rng(5))  # two values: fine


def test_batchnorm_rejects_other_ranks():
    with pytest.raises(ValueError, match="expected 4D input"):
        BatchNorm2d(6)(torch.randn(4, 6, 5))
    with pytest.raises(ValueError, match="expected 4D input"):
        BatchNorm2dNumpy(6).forward(np.zeros((4, 6, 5)))


# --------------------------------------------------------------------------------------------
# InstanceNorm
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("momentum", [0.1, 0.7])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track", [True, False])
def test_instancenorm_training_steps_running_stats_and_eval(momentum, affine, track):
    rng = np.random.default_rng(6)
    ref, ours, layer = twins("instance", 6, momentum=momentum, affine=affine, track_running_stats=track)
    run_steps(ref, ours, layer, ((n, 6, 5, 3) for n in BATCH_SIZES), rng)
    assert_same_running_stats(ref, ours, layer)
    if track:
        assert not np.allclose(layer.running_var, 1.0)
    set_mode(False, ref, ours, layer)
    run_steps(ref, ours, layer, iter([SHAPE]), rng)


def test_instancenorm_momentum_none_keeps_running_stats_like_torch():
    """torch hands InstanceNorm's kernel momentum 0 for None: the running statistics stay put."""
    rng = np.random.default_rng(7)
    ref, ours, layer = twins("instance", 6, momentum=None, track_running_stats=True, affine=True)
    run_steps(ref, ours, layer, ((n, 6, 5, 3) for n in BATCH_SIZES[:3]), rng)
    assert_same_running_stats(ref, ours, layer)
    assert np.array_equal(layer.running_mean, np.zeros(6)) and np.array_equal(layer.running_var, np.ones(6))
    assert int(ref.num_batches_tracked) == 0


def test_instancenorm_one_spatial_element_raises_and_unbatched_input():
    x = torch.randn(3, 6, 1, 1, dtype=torch.float64)
    ref, ours, layer = twins("instance", 6, affine=True)
    for call in (ref, ours, lambda t: layer.forward(t.numpy())):
        with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
            call(x)
    x3 = torch.randn(6, 5, 3, dtype=torch.float64)  # (C, H, W)
    torch.testing.assert_close(ours(x3), ref(x3), rtol=0, atol=ATOL)


# --------------------------------------------------------------------------------------------
# GroupNorm and LayerNorm
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_equals_torch(groups, affine):
    ref, ours, layer = twins("group", groups, 6, affine=affine, seed=groups)
    run_steps(ref, ours, layer, iter([SHAPE, (2, 6, 7), (3, 6)]), np.random.default_rng(groups))  # (N, C, *) of any rank
    set_mode(False, ref, ours, layer)  # no running statistics: eval is the same computation
    run_steps(ref, ours, layer, iter([SHAPE]), np.random.default_rng(10 + groups))


def test_groupnorm_needs_groups_dividing_channels():
    for cls in (GroupNorm, GroupNormNumpy, nn.GroupNorm):
        with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
            cls(4, 6)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_equals_torch(dims, affine):
    normalized = list(SHAPE[-dims:])
    ref, ours, layer = twins("layer", normalized, elementwise_affine=affine, seed=dims)
    run_steps(ref, ours, layer, iter([SHAPE, (2, 3, *SHAPE[-dims:]), tuple(normalized)]), np.random.default_rng(dims))


def test_layernorm_without_bias_and_int_shape():
    ref, ours = nn.LayerNorm(3, bias=False).double(), LayerNorm(3, bias=False).double()
    with torch.no_grad():
        ref.weight.normal_()
    ours.load_state_dict(ref.state_dict())
    assert set(ours.state_dict()) == {"weight"}
    x = torch.randn(*SHAPE, dtype=torch.float64, requires_grad=True)
    y_ref, y_ours = ref(x), ours(x)
    g = torch.randn(SHAPE, dtype=torch.float64)
    grads_ref = torch.autograd.grad((y_ref * g).sum(), (x, ref.weight))
    grads_ours = torch.autograd.grad((y_ours * g).sum(), (x, ours.weight))
    torch.testing.assert_close(y_ours, y_ref, rtol=0, atol=ATOL)
    for a, b in zip(grads_ours, grads_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=ATOL)
    with pytest.raises(ValueError, match=r"expected input \(\*, 3\)"):
        ours(torch.randn(2, 4))


# --------------------------------------------------------------------------------------------
# state dicts, finite differences, no functional shortcuts
# --------------------------------------------------------------------------------------------

CONFIGS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("batch", (6,), {}),
    ("batch", (6,), {"affine": False, "momentum": None}),
    ("batch", (6,), {"track_running_stats": False}),
    ("instance", (6,), {}),
    ("instance", (6,), {"affine": True, "track_running_stats": True}),
    ("group", (3, 6), {}),
    ("layer", ([5, 3],), {}),
    ("layer", ([3],), {"elementwise_affine": False}),
]


@pytest.mark.parametrize("kind, args, kwargs", CONFIGS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CONFIGS)])
def test_state_dict_round_trip(kind, args, kwargs):
    ref_cls, ours_cls, _ = CLASSES[kind]
    fresh_ref, fresh_ours = ref_cls(*args, **kwargs).double(), ours_cls(*args, **kwargs).double()
    for name, value in fresh_ref.state_dict().items():  # the same initial weights and buffers
        torch.testing.assert_close(fresh_ours.state_dict()[name], value, rtol=0, atol=0)
    ref, ours, layer = twins(kind, *args, **kwargs)
    rng = np.random.default_rng(8)
    run_steps(ref, ours, layer, iter([SHAPE, (3, 6, 5, 3)]), rng)
    # ours -> torch and torch -> ours, strictly: the same names, shapes and values
    fresh_ref.load_state_dict(ours.state_dict())
    fresh_ours.load_state_dict(ref.state_dict())
    for model in (fresh_ref, fresh_ours, ref, ours):
        model.eval()
    x = torch.tensor(rng.normal(size=SHAPE))
    want = ref(x)
    for model in (fresh_ref, fresh_ours, ours):
        torch.testing.assert_close(model(x), want, rtol=0, atol=ATOL)
        assert model.state_dict().keys() == ref.state_dict().keys()


FD_CASES: list[tuple[str, Callable[[], Any], bool]] = [  # name, layer, training
    ("batch-train", lambda: BatchNorm2dNumpy(3), True),
    ("batch-eval", lambda: BatchNorm2dNumpy(3), False),
    ("instance-train", lambda: InstanceNorm2dNumpy(3, affine=True), True),
    ("group-train", lambda: GroupNormNumpy(2, 4), True),
    ("layer-train", lambda: LayerNormNumpy([2, 3]), True),
]


@pytest.mark.parametrize("name, build, training", FD_CASES, ids=[c[0] for c in FD_CASES])
def test_numpy_backward_matches_finite_differences(name, build, training):
    rng = np.random.default_rng(9)
    layer = build()
    channels = layer.gamma.shape[0]
    x = rng.normal(size=(2, channels, 2, 3))
    g = rng.normal(size=x.shape)
    layer.gamma, layer.beta = rng.normal(size=layer.gamma.shape), rng.normal(size=layer.beta.shape)
    if hasattr(layer, "running_mean"):
        layer.running_mean, layer.running_var = rng.normal(size=channels), rng.uniform(0.5, 2.0, size=channels)
    layer.train(training)
    layer.forward(x)
    dx = layer.backward(g)

    def loss() -> float:
        return float((layer.forward(x) * g).sum())

    params = {"x": x, "gamma": layer.gamma, "beta": layer.beta}
    errors = check_gradients(loss, params, {"x": dx, "gamma": layer.dgamma, "beta": layer.dbeta})
    assert max(errors.values()) < 1e-8, errors


def test_modules_do_not_call_torch_normalization(monkeypatch):
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("called torch's own normalization")

    for owner, names in (
        (torch.nn.functional, ("batch_norm", "layer_norm", "group_norm", "instance_norm")),
        (torch, ("batch_norm", "layer_norm", "group_norm", "instance_norm", "native_batch_norm", "native_layer_norm")),
    ):
        for name in names:
            monkeypatch.setattr(owner, name, forbidden)
    x = torch.randn(*SHAPE, requires_grad=True)
    for module in (BatchNorm2d(6), InstanceNorm2d(6, affine=True, track_running_stats=True), GroupNorm(2, 6), LayerNorm([6, 5, 3])):
        module(x).square().sum().backward()
    with pytest.raises(AssertionError, match="torch's own"):
        nn.BatchNorm2d(6)(x)


# --------------------------------------------------------------------------------------------
# make_norm
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NORM_KINDS)
def test_make_norm_ours_equals_torch(kind):
    ours, ref = make_norm(kind, 6, groups=4).double(), make_norm(kind, 6, groups=4, implementation="torch").double()
    assert type(ours).__module__ == ("torch.nn.modules.linear" if kind == "none" else "deepkata.vision.norms")
    assert type(ref).__module__.startswith("torch.nn.modules")
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(*SHAPE, dtype=torch.float64)
    y = ours(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, ref(x), rtol=0, atol=ATOL)


def test_make_norm_layer_is_layernorm_over_chw_with_per_channel_affine():
    c, h, w = SHAPE[1:]
    norm = make_norm("layer", c).double()
    assert isinstance(norm, GroupNorm) and norm.num_groups == 1
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
    group1 = nn.GroupNorm(1, c).double()
    group1.load_state_dict(norm.state_dict())
    layer = nn.LayerNorm([c, h, w]).double()
    with torch.no_grad():
        layer.weight.copy_(norm.weight[:, None, None].expand(c, h, w))
        layer.bias.copy_(norm.bias[:, None, None].expand(c, h, w))
    x = torch.randn(*SHAPE, dtype=torch.float64)
    y = norm(x)
    torch.testing.assert_close(y, group1(x), rtol=0, atol=ATOL)
    torch.testing.assert_close(y, layer(x), rtol=0, atol=ATOL)
    assert norm(torch.randn(2, c, 9, 11, dtype=torch.float64)).shape == (2, c, 9, 11)  # any image size


def test_make_norm_instance_is_groupnorm_with_one_channel_per_group():
    norm = make_norm("instance", 6).double()
    assert isinstance(norm, InstanceNorm2d) and norm.affine and not norm.track_running_stats
    assert set(norm.state_dict()) == {"weight", "bias"}
    group = GroupNorm(6, 6).double()
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
    group.load_state_dict(norm.state_dict())
    x = torch.randn(*SHAPE, dtype=torch.float64)
    torch.testing.assert_close(norm(x), group(x), rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    "channels, groups, expected",
    [(6, 8, 6), (16, 8, 8), (32, 8, 8), (12, 8, 6), (10, 8, 5), (7, 8, 7), (13, 8, 1), (9, 4, 3), (1, 8, 1), (64, 32, 32)],
)
def test_group_count(channels, groups, expected):
    assert group_count(channels, groups) == expected
    assert make_norm("group", channels, groups=groups).num_groups == expected
    assert make_norm("group", channels, groups=groups, implementation="torch").num_groups == expected


def test_make_norm_rejects_unknown_names():
    with pytest.raises(UserError, match="unknown norm kind 'grup'.*did you mean 'group'"):
        make_norm("grup", 6)
    with pytest.raises(UserError, match="unknown norm implementation 'torh'"):
        make_norm("batch", 6, implementation="torh")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channels and groups must be positive"):
        group_count(6, 0)
