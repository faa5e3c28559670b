"""The CNN architectures: published parameter counts and multiply-adds, shapes, and each block's arithmetic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from deepkata.core.errors import UserError
from deepkata.models import build_model, count_parameters, get_model, list_models
from deepkata.vision.densenet import DenseBlock, DenseNet, DenseNetConfig, Transition, compressed
from deepkata.vision.mobilenet import DepthwiseSeparable, InvertedResidual, MobileNetV1, MobileNetV2, make_divisible
from deepkata.vision.resnet import BasicBlock, Bottleneck, ResNet

IMAGENET = ["densenet121", "mobilenet-v1", "mobilenet-v2", "resnet18", "resnet34", "resnet50"]
SMALL = ["densenet-bc-small", "mobilenet-v1-small", "mobilenet-v2-small", "resnet-small"]

# at 1000 classes: torchvision's counts (the papers round them); MobileNet v1 is Keras' / TF-slim's
# trainable count (BN gamma and beta, FC bias), which Howard et al. round to 4.2M
PUBLISHED_PARAMETERS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "densenet121": 7_978_856,
    "mobilenet-v2": 3_504_872,
    "mobilenet-v1": 4_231_976,
}
# the small variants at 1 channel and 10 classes (what the report of issue 17 quotes)
SMALL_PARAMETERS = {"resnet-small": 272_186, "densenet-bc-small": 327_274, "mobilenet-v1-small": 823_434, "mobilenet-v2-small": 700_202}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # convs of batch 1 on two threads of a busy two-core machine spin-wait: 100x slower than on one
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def double_eval(module: nn.Module, seed: int = 0) -> nn.Module:
    """``module`` in float64, eval mode, with random BN statistics and affine parameters (so BN is no identity)."""
    g = torch.Generator().manual_seed(seed)
    module = module.double().eval()
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g, dtype=torch.float64))
            m.running_var.copy_(torch.rand(m.num_features, generator=g, dtype=torch.float64) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.num_features, generator=g, dtype=torch.float64))
                m.bias.copy_(torch.randn(m.num_features, generator=g, dtype=torch.float64))
    return module


def bn(x: torch.Tensor, m: nn.BatchNorm2d) -> torch.Tensor:
    # eval-mode BN written out: gamma (x - mu) / sqrt(var + eps) + beta
    shape = (1, -1, 1, 1)
    return (x - m.running_mean.view(shape)) / torch.sqrt(m.running_var.view(shape) + m.eps) * m.weight.view(shape) + m.bias.view(shape)


def macs(name: str, side: int = 224, **fields: object) -> float:
    """Multiply-adds of one image, counted by PyTorch's FLOP counter on the meta device (no arithmetic done)."""
    entry = get_model(name)
    with torch.device("meta"):
        model = build_model(name, **fields).eval()
        x = torch.empty(1, entry.make_config(**fields).in_channels, side, side)
    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 2


# --- the registry -------------------------------------------------------------------------------


def test_the_vision_topic_registers_the_ten_models():
    assert set(IMAGENET + SMALL) <= set(list_models("vision"))  # the topic has others (plain-cnn)
    description = "ResNet-50 (He et al. 2016, v1.5): bottleneck blocks (3, 4, 6, 3), 25.6M parameters at 1000 classes."
    assert get_model("resnet50").description == description
    model = build_model("mobilenet-v1", width=0.5, resolution=160)
    assert isinstance(model, MobileNetV1) and model.resolution == 160 and model.classifier.in_features == 512
    with pytest.raises(UserError, match="strides has 3 entries; give 14"):
        build_model("mobilenet-v1", strides=(2, 2, 2))
    with pytest.raises(UserError, match="widths has 3 stages but blocks has 2"):
        build_model("resnet-small", blocks=(1, 1))


# --- parameters, multiply-adds and shapes ---------------------------------------------------------


@pytest.mark.parametrize("name", IMAGENET)
def test_imagenet_models_have_the_published_parameter_counts_and_output_shapes(name):
    entry = get_model(name)
    model = entry.build(**entry.example).eval()
    assert count_parameters(model) == PUBLISHED_PARAMETERS[name]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)  # every network pools globally
    assert build_model(name, in_channels=1, classes=7)(torch.randn(2, 1, 64, 64)).shape == (2, 7)


@pytest.mark.parametrize(
    "name, fields, side, published",
    [
        # Howard et al. Tables 6 and 7: million mult-adds of alpha MobileNet-rho 224
        ("mobilenet-v1", {}, 224, 569e6),
        ("mobilenet-v1", {"width": 0.75}, 224, 325e6),
        ("mobilenet-v1", {"width": 0.5}, 224, 149e6),
        ("mobilenet-v1", {"width": 0.25}, 224, 41e6),
        ("mobilenet-v1", {"resolution": 192}, 192, 418e6),
        ("mobilenet-v1", {"resolution": 128}, 128, 186e6),
        # Sandler et al. Table 6: 300M
        ("mobilenet-v2", {}, 224, 300e6),
        # torchvision's table of GFLOPS (multiply-adds); He et al. Table 1 gives 1.8 and 3.6 G for ResNet-18
        # and -34, and 3.8 G for ResNet-50 v1, whose first 1x1 conv strides: v1.5's runs before the stride
        ("resnet18", {}, 224, 1.81e9),
        ("resnet34", {}, 224, 3.66e9),
        ("resnet50", {}, 224, 4.09e9),
        ("densenet121", {}, 224, 2.83e9),
    ],
)
def test_multiply_adds_are_the_published_ones(name, fields, side, published):
    # within half a percent: the papers round, and some leave out the classifier or the BN
    assert macs(name, side, **fields) == pytest.approx(published, rel=0.005)


@pytest.mark.parametrize("width, millions", [(1.0, 4.2), (0.75, 2.6), (0.5, 1.3), (0.25, 0.5)])
def test_mobilenet_v1_widths_have_the_papers_parameters(width, millions):
    # Howard et al. Table 6, in millions to one decimal
    assert round(count_parameters(build_model("mobilenet-v1", width=width)) / 1e6, 1) == millions


@pytest.mark.parametrize("name", SMALL)
def test_small_models_classify_28x28_grey_images_within_their_budget(name):
    entry = get_model(name)
    cfg = entry.make_config()
    assert (cfg.in_channels, cfg.classes) == (1, 10)
    model = entry.build(**entry.example).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert count_parameters(model) == SMALL_PARAMETERS[name]
    assert 0.1e6 < SMALL_PARAMETERS[name] < 1e6 and 10e6 <= macs(name, 28) <= 32e6  # ResNet-20 31M; the others 11M to 14M


def test_resnet_small_is_resnet_20_with_projection_shortcuts():
    def conv(cin: int, cout: int, k: int = 3) -> int:
        return cin * cout * k * k + 2 * cout  # the conv and its BN's gamma and beta

    count = conv(1, 16)  # the stem
    for cin, c in [(16, 16), (16, 32), (32, 64)]:
        count += conv(cin, c) + conv(c, c) + (conv(cin, c, 1) if cin != c else 0)  # the first block, with W_s where the shape changes
        count += 2 * (conv(c, c) + conv(c, c))  # two more
    count += 64 * 10 + 10
    model = build_model("resnet-small")
    assert count_parameters(model) == count == SMALL_PARAMETERS["resnet-small"]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == 20  # 19 3x3 convs and the linear layer


# --- ResNet ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [BasicBlock, Bottleneck])
def test_a_block_with_an_identity_shortcut_returns_relu_of_the_branch_plus_x(block):
    torch.manual_seed(0)
    m = double_eval(block(16, 16 // block.expansion, 1))
    assert m.downsample is None
    x = torch.randn(2, 16, 6, 6, dtype=torch.float64)
    # the branch F(x) alone, written out from the block's weights
    if block is BasicBlock:
        f = bn(F.conv2d(F.relu(bn(F.conv2d(x, m.conv1.weight, padding=1), m.bn1)), m.conv2.weight, padding=1), m.bn2)
    else:
        h = F.relu(bn(F.conv2d(x, m.conv1.weight), m.bn1))
        h = F.relu(bn(F.conv2d(h, m.conv2.weight, padding=1), m.bn2))
        f = bn(F.conv2d(h, m.conv3.weight), m.bn3)
    with torch.no_grad():
        torch.testing.assert_close(m(x), F.relu(f + x), rtol=1e-12, atol=1e-12)
        # the branch silenced (its last BN's gamma and beta at 0): y = relu(0 + x)
        m.last_bn.weight.zero_()
        m.last_bn.bias.zero_()
        torch.testing.assert_close(m(x), F.relu(x), rtol=0, atol=0)


def test_a_shape_change_takes_a_1x1_projection_with_bn():
    m = double_eval(BasicBlock(8, 16, stride=2))
    conv, norm = m.downsample
    assert conv.kernel_size == (1, 1) and conv.stride == (2, 2) and conv.weight.shape == (16, 8, 1, 1) and isinstance(norm, nn.BatchNorm2d)
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        m.bn2.weight.zero_()
        m.bn2.bias.zero_()
        # y = relu(W_s x)
        torch.testing.assert_close(m(x), F.relu(bn(F.conv2d(x, conv.weight, stride=2), norm)), rtol=1e-12, atol=1e-12)


def test_resnet50_strides_on_the_3x3_conv_and_widens_by_4():
    model = build_model("resnet50")
    assert isinstance(model, ResNet)
    first = model.layer2[0]
    assert first.conv1.stride == (1, 1) and first.conv2.stride == (2, 2) and first.conv3.out_channels == 512
    assert [getattr(model, f"layer{i}")[-1].conv3.out_channels for i in range(1, 5)] == [256, 512, 1024, 2048]
    assert model.fc.in_features == 2048
    # projections only where the shape changes: the first block of each stage (stage 1 widens 64 -> 256)
    assert sum(m.downsample is not None for m in model.modules() if isinstance(m, Bottleneck)) == 4


def test_zero_init_residual_starts_every_block_as_the_identity_branch():
    model = build_model("resnet-small", zero_init_residual=True)
    last = [m.last_bn.weight for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(last) == 9 and all(bool((w == 0).all()) for w in last)
    assert all(bool((m.bn1.weight == 1).all()) for m in model.modules() if isinstance(m, BasicBlock))


# --- DenseNet -------------------------------------------------------------------------------------


def test_densenet121_channels_grow_by_k_per_layer_and_transitions_halve_them():
    model = build_model("densenet121")
    # 64 + 6 * 32 = 256 -> 128; 128 + 12 * 32 = 512 -> 256; 256 + 24 * 32 = 1024 -> 512; 512 + 16 * 32 = 1024
    assert model.block_channels == [256, 128, 512, 256, 1024, 512, 1024]
    assert model.classifier.in_features == 1024
    layer = model.features.denseblock3.denselayer5  # sees the block's 256 input channels and 4 layers' 32 each
    assert layer.conv1.weight.shape == (128, 256 + 4 * 32, 1, 1) and layer.conv2.weight.shape == (32, 128, 3, 3)


def test_densenet_channel_arithmetic_on_odd_numbers_with_floor_compression():
    assert compressed(22, 0.5) == 11 and compressed(23, 0.5) == 11 and compressed(100, 0.29) == 29  # 0.29 * 100 = 28.999...
    cfg = DenseNetConfig(in_channels=1, classes=3, growth=5, blocks=(2, 3, 1), stem_width=7, stem="small", compression=0.29)
    model = DenseNet(cfg).eval()
    seen: list[tuple[int, ...]] = []
    for m in model.features:
        if isinstance(m, (DenseBlock, Transition)):
            m.register_forward_hook(lambda mod, inp, out: seen.append(tuple(out.shape[1:])))
    with torch.no_grad():
        assert model(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    # 7 + 2*5 = 17 -> floor(0.29*17) = 4 at 4x4; 4 + 3*5 = 19 -> floor(5.51) = 5 at 2x2; 5 + 1*5 = 10
    assert seen == [(17, 8, 8), (4, 4, 4), (19, 4, 4), (5, 2, 2), (10, 2, 2)]
    assert model.block_channels == [17, 4, 19, 5, 10]


def test_densenet_bc_small_starts_at_14_pixels_with_blocks_of_4_8_16():
    model = build_model("densenet-bc-small").eval()
    sides: list[tuple[int, int]] = []
    for m in model.features:
        if isinstance(m, DenseBlock):
            m.register_forward_hook(lambda mod, inp, out: sides.append((len(list(mod.children())), out.shape[-1])))
    with torch.no_grad():
        model(torch.randn(1, 1, 28, 28))
    assert sides == [(4, 14), (8, 7), (16, 3)]  # 3x3/2 stem: 28 -> 14; each transition's 2x2 average pool floors 7 -> 3
    # 24 + 4*12 = 72 -> 36; 36 + 8*12 = 132 -> 66; 66 + 16*12 = 258
    assert model.block_channels == [72, 36, 132, 66, 258]


@pytest.mark.parametrize("bottleneck", [True, False])
def test_a_dense_block_concatenates_every_earlier_layers_maps(bottleneck):
    torch.manual_seed(1)
    block = double_eval(DenseBlock(3, in_channels=6, growth=4, bn_size=2, bottleneck=bottleneck, dropout=0.0))
    x = torch.randn(2, 6, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        out = block(x)
        assert out.shape == (2, 6 + 3 * 4, 5, 5)
        torch.testing.assert_close(out[:, :6], x, rtol=0, atol=0)  # x_0 passes through
        for i, layer in enumerate(block.children()):
            m = 6 + 4 * i
            h = out[:, :m]  # [x_0, ..., x_{l-1}]
            if bottleneck:
                h = F.conv2d(F.relu(bn(h, layer.norm1)), layer.conv1.weight)  # BN-ReLU-Conv1x1 to bn_size k
                assert layer.conv1.out_channels == 2 * 4
            # x_l = BN-ReLU-Conv3x3(...)
            expected = F.conv2d(F.relu(bn(h, layer.norm2)), layer.conv2.weight, padding=1)
            torch.testing.assert_close(out[:, m : m + 4], expected, rtol=1e-12, atol=1e-12)


# --- MobileNet ------------------------------------------------------------------------------------


def test_a_depthwise_separable_block_filters_each_channel_alone_then_mixes_them():
    block = double_eval(DepthwiseSeparable(5, 7, stride=2, kernel=3))
    assert block.depthwise.groups == 5 and block.depthwise.weight.shape == (5, 1, 3, 3)
    x = torch.randn(2, 5, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        # channel c convolved with its own kernel only
        dw = torch.cat([F.conv2d(x[:, c : c + 1], block.depthwise.weight[c : c + 1], stride=2, padding=1) for c in range(5)], 1)
        h = F.relu(bn(dw, block.bn1))  # (2, 5, 5, 5)
        # the 1x1 conv: y[m] = sum_c W[m, c] h[c]
        expected = F.relu(bn(torch.einsum("mc,bchw->bmhw", block.pointwise.weight[:, :, 0, 0], h), block.bn2))
        torch.testing.assert_close(block(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["mobilenet-v1", "mobilenet-v2", "mobilenet-v1-small", "mobilenet-v2-small"])
def test_every_depthwise_conv_has_one_group_per_channel(name):
    model = build_model(name)
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and m.groups > 1]
    assert len(depthwise) == (13 if "v1" in name else 17)
    assert all(m.groups == m.in_channels == m.out_channels and m.weight.shape[1] == 1 for m in depthwise)
    # every other conv is a dense one: the stem and the 1x1 convs
    assert all(m.groups == 1 for m in model.modules() if isinstance(m, nn.Conv2d) and m not in depthwise)


def test_the_v1_width_multiplier_scales_every_layer():
    def widths(model: nn.Module) -> list[int]:
        return [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]

    full, half = build_model("mobilenet-v1"), build_model("mobilenet-v1", width=0.5)
    assert len(widths(full)) == 27 and widths(full)[:3] == [32, 32, 64] and widths(full)[-1] == 1024
    assert [2 * c for c in widths(half)] == widths(full)
    assert 2 * half.classifier.in_features == full.classifier.in_features == 1024


def test_v2_channels_round_to_multiples_of_8_and_the_last_conv_is_not_thinned():
    assert [make_divisible(v) for v in (32 * 0.35, 16 * 0.5, 24 * 0.5, 96 * 0.75, 1280 * 1.4)] == [16, 8, 16, 72, 1792]
    thin = build_model("mobilenet-v2", width=0.5)
    outs = [m.out_channels for m in thin.modules() if isinstance(m, InvertedResidual)]
    assert outs == [8, 16, 16, 16, 16, 16, 32, 32, 32, 32, 48, 48, 48, 80, 80, 80, 160]
    assert thin.classifier[1].in_features == 1280 and isinstance(thin.classifier[0], nn.Dropout) and thin.classifier[0].p == 0.2
    assert build_model("mobilenet-v2", width=1.4).classifier[1].in_features == 1792


def test_v2_adds_the_input_back_exactly_where_stride_is_1_and_channels_agree():
    model = build_model("mobilenet-v2")
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == 17
    residual = [b.use_residual for b in blocks]
    assert sum(residual) == 10
    torch.manual_seed(2)
    for b in blocks:
        dw = next(m for m in b.modules() if isinstance(m, nn.Conv2d) and m.groups > 1)
        cin = b.conv[0][0].in_channels
        assert b.use_residual == (dw.stride == (1, 1) and cin == b.out_channels)
        b = double_eval(b)
        x = torch.randn(1, cin, 4, 4, dtype=torch.float64)
        with torch.no_grad():
            b.conv[-1].weight.zero_()  # the branch silenced
            b.conv[-1].bias.zero_()
            y = b(x)
        torch.testing.assert_close(y, x if b.use_residual else torch.zeros_like(y), rtol=0, atol=0)


@pytest.mark.parametrize("stride, cin, cout", [(2, 8, 12), (1, 8, 8)])
def test_the_v2_bottleneck_is_linear_after_the_projection(stride, cin, cout):
    block = double_eval(InvertedResidual(cin, cout, stride, expansion=6), seed=3)
    expand, depthwise, project, norm = block.conv
    assert isinstance(project, nn.Conv2d) and project.kernel_size == (1, 1) and isinstance(norm, nn.BatchNorm2d)
    x = torch.randn(2, cin, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        # expand to t c_in, ReLU6; depthwise 3x3 with the stride, ReLU6; project, BN and nothing else
        h = F.relu6(bn(F.conv2d(x, expand[0].weight), expand[1]))
        assert h.shape[1] == 6 * cin
        h = F.relu6(bn(F.conv2d(h, depthwise[0].weight, stride=stride, padding=1, groups=6 * cin), depthwise[1]))
        f = bn(F.conv2d(h, project.weight), norm)
        y = block(x)
    torch.testing.assert_close(y, f + x if stride == 1 else f, rtol=1e-12, atol=1e-12)
    assert bool((f < 0).any())  # no ReLU or ReLU6 would leave these


def test_mobilenet_v2_small_halves_the_resolution_at_the_stem_and_the_24_and_64_channel_rows():
    model = MobileNetV2(get_model("mobilenet-v2-small").make_config())
    sides: list[int] = []
    for m in model.features:
        m.register_forward_hook(lambda mod, inp, out: sides.append(out.shape[-1]))
    model.eval()(torch.randn(1, 1, 28, 28))
    # the stem and the 16-channel block at 14; the 24-channel row (2) and the 32-channel row (3) at 7; then 4
    assert sides == [14] * 2 + [7] * 5 + [4] * 12
    assert model.cfg.width == 0.5
