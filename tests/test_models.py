"""EfficientNet-B0 and kEffNet-B0: structure, shapes, training, compile, memory format, fuse, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from igpw_viz.nn.counting import count_macs
from igpw_viz.nn.layer import InterleavedGroupedPointwise
from igpw_viz.nn.models import StochasticDepth, efficientnet_b0, keffnet_b0, keras_pad


def _randomize_bn(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics and affine parameters, so that fusing is really tested."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return model


@pytest.fixture(scope="module")
def small_keff():
    torch.manual_seed(0)
    return _randomize_bn(keffnet_b0(10, 16, "v2", skip_strides=3)).eval()


def test_torchvision_layout():
    sd = efficientnet_b0(1000).state_dict()
    expected = {  # names and shapes of torchvision's efficientnet_b0
        "features.0.0.weight": (32, 3, 3, 3), "features.1.0.block.0.0.weight": (32, 1, 3, 3),
        "features.1.0.block.1.fc1.weight": (8, 32, 1, 1), "features.1.0.block.1.fc2.bias": (32,),
        "features.1.0.block.2.0.weight": (16, 32, 1, 1), "features.2.0.block.0.0.weight": (96, 16, 1, 1),
        "features.2.0.block.1.0.weight": (96, 1, 3, 3), "features.2.0.block.2.fc1.weight": (4, 96, 1, 1),
        "features.2.0.block.3.1.running_var": (24,), "features.6.3.block.1.0.weight": (1152, 1, 5, 5),
        "features.7.0.block.3.0.weight": (320, 1152, 1, 1), "features.8.0.weight": (1280, 320, 1, 1),
        "features.8.1.weight": (1280,), "classifier.1.weight": (1000, 1280), "classifier.1.bias": (1000,),
    }
    assert {k: tuple(sd[k].shape) for k in expected} == expected
    assert len(efficientnet_b0().features) == 9 and [len(s) for s in efficientnet_b0().features[1:8]] == [
        1, 2, 2, 3, 3, 4, 1]


def test_keffnet_roles_and_head():
    m = keffnet_b0(10, 16, "v2")
    pw = m.pointwise_layers()
    assert len(pw) == 64 and all(isinstance(layer, InterleavedGroupedPointwise) for _, _, layer in pw)
    acts = {role: type(layer.act).__name__ if layer.act is not None else None for _, role, layer in pw}
    assert acts == {"expand": "SiLU", "se_reduce": "SiLU", "se_expand": "Sigmoid", "project": None,
                    "head": None}  # the head has no swish in kEffNet
    assert isinstance(efficientnet_b0().features[-1][2], nn.SiLU)  # the baseline's head keeps it
    for _, role, layer in pw:
        assert (layer.k_norm is not None) == (role in ("expand", "project", "head"))
        assert (layer.k.bias is not None) == role.startswith("se")
        assert layer.k_norm is None or (layer.k_norm.eps, layer.k_norm.momentum) == (1e-3, 0.01)


def test_stochastic_depth_rates():
    m = keffnet_b0(10)
    rates = {blk.name: blk.stochastic_depth.p for stage in m.features[1:-1] for blk in stage}
    assert rates["1a"] == 0.0 and rates["2a"] == 0.0  # no identity shortcut
    assert rates["2b"] == pytest.approx(0.2 * 2 / 16) and rates["7a"] == 0.0
    assert rates["6d"] == pytest.approx(0.2 * 14 / 16)
    sd = StochasticDepth(0.5).train()
    y = sd(torch.ones(64, 2, 3, 3))
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0} and (per_sample.std(1) == 0).all()
    assert torch.equal(sd.eval()(torch.ones(4, 2, 3, 3)), torch.ones(4, 2, 3, 3))


def test_keras_padding_rule():
    assert keras_pad(32, 3) == (0, 1) and keras_pad(31, 3) == (1, 1)
    assert keras_pad(16, 5) == (1, 2) and keras_pad(15, 5) == (2, 2)


def _map_sizes(model: nn.Module, size: int) -> list[int]:
    sizes = []
    hooks = [stage.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1]))
             for stage in model.features]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return sizes


def test_spatial_sizes():
    # after: stem, stages 1..7, head
    assert _map_sizes(keffnet_b0(10, 16, skip_strides=3), 32) == [31, 31, 31, 31, 16, 16, 8, 8, 8]
    assert _map_sizes(keffnet_b0(10, 16), 224) == [112, 112, 56, 28, 14, 14, 7, 7, 7]
    assert _map_sizes(efficientnet_b0(10), 224) == [112, 112, 56, 28, 14, 14, 7, 7, 7]
    assert _map_sizes(efficientnet_b0(10), 32) == [16, 16, 8, 4, 2, 2, 1, 1, 1]


@pytest.mark.parametrize(("build", "size"), [
    (lambda: efficientnet_b0(10), 32), (lambda: efficientnet_b0(10), 224),
    (lambda: keffnet_b0(10, 32, "v1"), 224), (lambda: keffnet_b0(7, 16, "v2", skip_strides=3), 32)])
def test_output_shapes(build, size):
    m = build().eval()
    with torch.no_grad():
        y = m(torch.randn(2, 3, size, size))
    assert y.shape == (2, m.num_classes) and torch.isfinite(y).all()


# Both at 32x32 with three strides skipped (the CIFAR-10 setting): maps stay 4x4, not 1x1, so BN's batch
# statistics over 8 images are meaningful and one SGD step must lower the loss.
@pytest.mark.parametrize("build", [lambda: efficientnet_b0(10, 3, dropout=0.0, stochastic_depth=0.0),
                                   lambda: keffnet_b0(10, 16, "v2", 3, dropout=0.0, stochastic_depth=0.0)])
def test_one_training_step_decreases_the_loss(build):
    torch.manual_seed(0)
    m = build().train()
    x, t = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    loss = nn.functional.cross_entropy(m(x), t)
    loss.backward()
    opt.step()
    opt.zero_grad()
    assert nn.functional.cross_entropy(m(x), t).item() < loss.item()


def test_stochastic_depth_is_active_in_training_only():
    torch.manual_seed(0)
    m = keffnet_b0(10, 16, "v2", 3, dropout=0.0, stochastic_depth=0.9)
    x = torch.randn(4, 3, 32, 32)
    m.train()
    a, b = m(x), m(x)
    assert not torch.allclose(a, b)  # different residual branches dropped (BN is deterministic)
    m.eval()
    assert torch.equal(m(x), m(x))


def test_channels_last_and_compile_match_eager(small_keff):
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = small_keff(x)
        cl = small_keff.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
        small_keff.to(memory_format=torch.contiguous_format)
        torch._dynamo.reset()
        compiled = torch.compile(small_keff, backend="aot_eager", fullgraph=True)(x)  # no graph break
    torch.testing.assert_close(cl, ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(compiled, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_inductor_compile_training_step_matches_eager():
    torch.manual_seed(0)
    m = keffnet_b0(10, 16, "v2", 3, dropout=0.0, stochastic_depth=0.0).train()
    x = torch.randn(4, 3, 32, 32)
    torch._dynamo.reset()
    compiled = torch.compile(m, fullgraph=True)
    ref, out = m(x), compiled(x)
    torch.testing.assert_close(out, ref, rtol=1e-3, atol=1e-4)
    out.sum().backward()


def test_bf16_autocast():
    m = keffnet_b0(10, 16, "v2", 3).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(torch.randn(2, 3, 32, 32).to(memory_format=torch.channels_last))
    assert y.dtype == torch.bfloat16 and torch.isfinite(y.float()).all()
    y.float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in m.parameters())


def test_state_dict_round_trip(small_keff):
    other = keffnet_b0(10, 16, "v2", skip_strides=3).eval()
    other.load_state_dict(small_keff.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(other(x), small_keff(x))


@pytest.mark.parametrize("dense_pointwise", [False, True])
@pytest.mark.parametrize("build", [lambda: efficientnet_b0(10), lambda: keffnet_b0(10, 16, "v2", 3),
                                   lambda: keffnet_b0(10, 32, "v1", 3)])
def test_fuse_matches_eval(build, dense_pointwise):
    torch.manual_seed(0)
    m = _randomize_bn(build()).eval()
    fused = m.fuse(dense_pointwise=dense_pointwise)
    assert not fused.training and m.training is False
    assert not any(isinstance(x, nn.BatchNorm2d) for x in fused.modules())
    assert any(isinstance(x, nn.BatchNorm2d) for x in m.modules())  # the original is untouched
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), m(x), rtol=1e-4, atol=1e-4)
    if not dense_pointwise:
        assert count_macs(fused, 32) == count_macs(m, 32)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: keffnet_b0(scheme="v3"), "scheme"),
    (lambda: keffnet_b0(channels_per_group=0), "channels_per_group"),
    (lambda: keffnet_b0(channels_per_group=-4), "channels_per_group"),
    (lambda: keffnet_b0(num_classes=0), "num_classes"),
    (lambda: efficientnet_b0(num_classes=0), "num_classes"),
    (lambda: keffnet_b0(skip_strides=6), "skip_strides"),
    (lambda: keffnet_b0(stochastic_depth=1.0), "stochastic_depth"),
])
def test_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize(("build", "shape", "name"), [
    (lambda: efficientnet_b0(10), (1, 1, 64, 64), "in_channels"),
    (lambda: keffnet_b0(10), (1, 4, 64, 64), "in_channels"),
    (lambda: efficientnet_b0(10), (1, 3, 16, 64), "at least 32x32"),
    (lambda: keffnet_b0(10, skip_strides=3), (1, 3, 3, 3), "at least 4x4"),
    (lambda: keffnet_b0(10), (3, 32, 32), "N x C x H x W"),
])
def test_bad_input(build, shape, name):
    with pytest.raises(ValueError, match=name):
        build()(torch.zeros(shape))


def _skeleton(model: nn.Module) -> tuple[list[tuple[float, float]], list[bool]]:
    """Every BatchNorm's (eps, momentum) and, for every strided or stem conv, whether it pads the Keras way."""
    norms = [(m.eps, m.momentum) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    from igpw_viz.nn.models import DepthwiseConv2d, KerasPadConv2d
    pads = [m.keras_padding if isinstance(m, DepthwiseConv2d) else isinstance(m, KerasPadConv2d)
            for m in model.modules() if isinstance(m, nn.Conv2d) and (m.stride != (1, 1) or m.in_channels == 3)]
    return norms, pads


@pytest.mark.parametrize("name,eps,momentum,keras", [("keras", 1e-3, 0.01, True), ("torchvision", 1e-5, 0.1, False)])
def test_both_models_use_one_set_of_conventions(name, eps, momentum, keras):
    """Keras by default for the baseline and kEffNet alike; the torchvision setting for both on request."""
    kw = {} if name == "keras" else {"conventions": name}
    for model in (efficientnet_b0(10, **kw), keffnet_b0(10, 16, "v2", **kw)):
        norms, pads = _skeleton(model)
        assert norms and set(norms) == {(eps, momentum)}
        assert len(pads) == 5 and set(pads) == {keras}  # the stem and the four strided depthwise convs


@pytest.mark.parametrize("name,pad", [("keras", (0, 1, 0, 1)), ("torchvision", (1, 1, 1, 1))])
def test_stem_padding_against_the_formula(name, pad):
    """At an even size Keras' correct_pad puts the odd pixel on the bottom/right; torchvision pads 1 all
    round. The oracle is F.conv2d on an explicitly padded input."""
    torch.manual_seed(0)
    model = efficientnet_b0(10, conventions=name).eval()
    stem = model.features[0][0]
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = nn.functional.conv2d(nn.functional.pad(x, pad), stem.weight, stride=2)
        torch.testing.assert_close(stem(x), expected)


def test_baseline_and_keffnet_share_the_skeleton():
    """Same map sizes at even and odd inputs, and the same smallest accepted image for every skip."""
    from igpw_viz.core.architecture import MAX_SKIP_STRIDES, min_image_size
    for size in (224, 225, 64):
        assert _map_sizes(efficientnet_b0(10), size) == _map_sizes(keffnet_b0(10, 16), size)
    for skip in range(MAX_SKIP_STRIDES + 1):
        side = min_image_size(skip)
        for build in (efficientnet_b0(10, skip), keffnet_b0(10, 16, skip_strides=skip)):
            assert build.min_image_size == side
            with torch.no_grad():
                assert build.eval()(torch.zeros(1, 3, side, side)).shape == (1, 10)
            if side > 1:
                with pytest.raises(ValueError, match=f"{side}x{side}"):
                    build(torch.zeros(1, 3, side - 1, side - 1))


def test_bad_conventions_are_named():
    with pytest.raises(ValueError, match="conventions must be one of"):
        efficientnet_b0(10, conventions="tensorflow")
    with pytest.raises(ValueError, match="conventions must be one of"):
        keffnet_b0(10, 16, conventions=None)
