"""The segmentation networks: shapes, parameter counts, the papers' initializations, SegNet's
switches, the dilated net's receptive field, and that each can overfit one small batch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepkata.core.errors import ConfigError
from deepkata.detection import segnets  # imported directly: the import registers the models
from deepkata.detection.segnets import DilatedConfig, DilatedNet, FCN, FCNConfig, SegNet, SegNetConfig
from deepkata.detection.upsampling import bilinear_kernel, measured_receptive_field, receptive_field
from deepkata.models.registry import count_parameters, get_model

NETS: list[tuple[str, type[nn.Module], type]] = [
    ("fcn-small", FCN, FCNConfig),
    ("segnet-small", SegNet, SegNetConfig),
    ("dilated-small", DilatedNet, DilatedConfig),
]
PARAMETERS = {"fcn-small": 613_276, "segnet-small": 123_220, "dilated-small": 80_372}


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    return get_model(name).build()


def images(*shape: int, seed: int = 0) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name, cls, config", NETS, ids=[n[0] for n in NETS])
def test_registered_with_the_pinned_parameter_count(name: str, cls: type[nn.Module], config: type) -> None:
    entry = get_model(name)
    assert entry.topic == "detection" and entry.config is config
    model = entry.build(**entry.example)
    assert isinstance(model, cls)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters()) == PARAMETERS[name]


@pytest.mark.parametrize("name", [n[0] for n in NETS])
def test_logits_have_the_input_size_even_and_odd(name: str) -> None:
    model = build(name).eval()
    with torch.no_grad():
        assert model(images(2, 3, 128, 128)).shape == (2, 4, 128, 128)
        assert model(images(1, 3, 45, 67)).shape == (1, 4, 45, 67)
    assert get_model(name).build(classes=7, in_channels=1)(images(2, 1, 32, 32)).shape == (2, 7, 32, 32)


def test_segnet_refuses_images_smaller_than_its_poolings_and_fcn_needs_five_blocks() -> None:
    with pytest.raises(ValueError, match="at least 16x16"):
        build("segnet-small")(images(1, 3, 15, 40))
    with pytest.raises(ConfigError, match="five blocks"):
        FCNConfig(blocks=(8, 16, 32, 64))


def test_fcn_starts_as_bilinear_up_sampling_and_zero_skips() -> None:
    model = build("fcn-small")
    assert isinstance(model, FCN)
    scores = images(2, 4, 4, 5, seed=1)
    for layer, factor in ((model.upscore2, 2), (model.upscore_pool4, 2), (model.upscore8, 8)):
        k = bilinear_kernel(factor).float()
        # the paper's surgery: the bilinear kernel from each class to itself, zero across classes
        want = torch.zeros(4, 4, *k.shape)
        want[range(4), range(4)] = k
        assert layer.bias is None and torch.equal(layer.weight.detach(), want)
        # FCN's kernel: it equals interpolate except within f // 2 pixels of the border
        with torch.no_grad():
            up = layer(scores)
        ref = F.interpolate(scores, scale_factor=factor, mode="bilinear", align_corners=False)
        e = factor // 2
        torch.testing.assert_close(up[..., e:-e, e:-e], ref[..., e:-e, e:-e], atol=1e-5, rtol=0)
        assert (up[..., 0, :] - ref[..., 0, :]).abs().max() > 1e-2
    assert all(p.abs().sum() == 0 for m in (model.score_pool4, model.score_pool3) for p in m.parameters())


def test_segnet_decodes_exactly_at_its_switches() -> None:
    model = build("segnet-small").eval()
    assert isinstance(model, SegNet)
    x = images(2, 3, 64, 48, seed=2)
    with torch.no_grad():
        deepest, switches = model.encode(x)
        indices, size = switches[-1]
        # the switches are where the last stage's pre-pool features had their maxima
        feats = x
        for stage in model.encoder[:-1]:
            feats = stage(feats)[0]
        pre = model.encoder[-1].layers(feats)
        values, where = F.max_pool2d(pre, 2, return_indices=True)
        assert torch.equal(indices, where) and torch.equal(deepest, values) and size == (8, 6)
        # the first decoder stage un-pools: each value at its switch, zero everywhere else
        up = model.decoder[0].unpool(deepest, indices, size).flatten(2)  # (B, C, 8 * 6)
        at = torch.zeros_like(up, dtype=torch.bool).scatter(2, indices.flatten(2), True)
        assert torch.equal(up.gather(2, indices.flatten(2)), deepest.flatten(2))
        assert (up[~at] == 0).all() and at.sum() == deepest.numel()  # 2x2 windows: one switch each
        # and the forward pass is the encoder, the decoder stages with the mirrored switches, the classifier
        y = deepest
        for stage, (idx, sz) in zip(model.decoder, reversed(switches), strict=True):
            y = stage(y, idx, sz)
        torch.testing.assert_close(model.classifier(y), model(x), atol=0, rtol=0)


def test_the_dilated_nets_field_covers_the_image_and_its_context_starts_as_the_identity() -> None:
    model = build("dilated-small")
    assert isinstance(model, DilatedNet)
    layers = model.layers()
    assert [d for _, _, d in layers[-8:-1]] == [1, 1, 2, 4, 8, 16, 1]
    # front: 1 + 2 + 1 + 2*2 + 1*2 + 2*4; context at jump 4: 2*4*(1+1+2+4+8+16+1) = 264
    assert receptive_field(layers) == 282 >= 2 * 128 - 1  # every output pixel sees all of a 128 x 128 image
    # the context module alone, at 1/4 resolution: 1 + 2 * 33 = 67, as measured by back-propagation
    assert measured_receptive_field(model.context, 75) == (67, 67)
    # Yu & Koltun's identity initialization: non-negative features pass through unchanged
    feats = images(2, 32, 9, 11, seed=3).relu()
    with torch.no_grad():
        assert torch.equal(model.context(feats), feats)


def shapes_batch(n: int, size: int, seed: int) -> tuple[Tensor, Tensor]:
    """n noisy images with one filled shape each (circle 1, square 2, triangle 3) and their masks."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        cy, cx = torch.randint(10, size - 10, (2,), generator=g).tolist()
        r = int(torch.randint(5, 9, (1,), generator=g))
        kind = i % 3 + 1
        if kind == 1:
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        elif kind == 2:
            inside = ((yy - cy).abs() <= r) & ((xx - cx).abs() <= r)
        else:
            inside = (yy >= cy - r) & (yy <= cy + r) & (2 * (xx - cx).abs() <= yy - cy + r)
        masks[i][inside] = kind
    colours = torch.rand(n, 3, 1, 1, generator=g)
    return 0.1 * torch.randn(n, 3, size, size, generator=g) + (masks > 0).unsqueeze(1) * colours, masks


@pytest.mark.parametrize("name", [n[0] for n in NETS])
def test_each_net_overfits_one_small_batch(name: str) -> None:
    x, y = shapes_batch(4, 32, seed=4)
    model = build(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, losses[::10]
    # the registry builds the same class as the module's builder
    assert type(model) is type(getattr(segnets, name.replace("-", "_"))(get_model(name).make_config()))
