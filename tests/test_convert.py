"""`convert`: the block put into other networks. Oracles: the paper's pointwise weight counts for B0, and
the original network carrying each block's folded dense weights, which must compute what the converted
network computes (so every block sits where its conv was, with that conv's BatchNorm inside it)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from igpw_viz import efficientnet_b0
from igpw_viz.core.paper import POINTWISE_WEIGHTS
from igpw_viz.nn.convert import convert
from igpw_viz.nn.layer import InterleavedGroupedPointwise


class Bottleneck(nn.Module):
    """ResNet-style: attribute convs and BNs, a strided 1x1 downsample in an nn.Sequential."""

    def __init__(self, cin: int, width: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


def resnet_like(classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         Bottleneck(64, 64, 256), Bottleneck(256, 64, 256), Bottleneck(256, 128, 512, stride=2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes))


class InvertedResidual(nn.Module):
    """MobileNetV2-style: expand 1x1 (+BN+ReLU6), depthwise 3x3, project 1x1 (+BN), all in one Sequential."""

    def __init__(self, cin: int, cout: int, expand: int, stride: int):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


def mobilenet_like(classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()),
                         InvertedResidual(32, 48, 6, 1), InvertedResidual(48, 48, 6, 1), InvertedResidual(48, 96, 6, 2),
                         nn.Sequential(nn.Conv2d(96, 320, 1, bias=True), nn.ReLU6()),  # a 1x1 with bias, no BN
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(320, classes))


def _randomise_bn(model: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


def _dense_equivalent(original: nn.Module, converted: nn.Module, report) -> nn.Module:
    """The original network with each converted conv set to its block's folded weights (eval mode) and
    the BatchNorm that went into the block replaced by the identity."""
    twin = copy.deepcopy(original).eval()
    for change in report.grouped:
        block = converted.get_submodule(change.name)
        fused = block.fuse()
        conv = nn.Conv2d(change.in_channels, change.out_channels, 1, bias=True).double()
        conv.load_state_dict(fused.state_dict())
        parent, _, child = change.name.rpartition(".")
        setattr(twin.get_submodule(parent) if parent else twin, child, conv)
        if change.batch_norm:
            parent, _, child = change.batch_norm.rpartition(".")
            setattr(twin.get_submodule(parent) if parent else twin, child, nn.Identity())
    return twin


@pytest.mark.parametrize("build,size", [(resnet_like, 16), (mobilenet_like, 16), (lambda: efficientnet_b0(10), 64)])
@pytest.mark.parametrize("scheme", ["v2", "v1"])
def test_blocks_sit_where_the_convs_were(build, size, scheme):
    torch.manual_seed(0)
    original = _randomise_bn(build()).double().eval()
    converted, report = convert(original, 16, scheme)
    for block in converted.modules():  # the blocks' own BatchNorms; the others came from the original
        if isinstance(block, InterleavedGroupedPointwise):
            _randomise_bn(block)
    converted.eval()
    assert report.grouped, report
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(converted(x), _dense_equivalent(original, converted, report)(x),
                                   rtol=1e-9, atol=1e-9)


def test_efficientnet_b0_gets_the_papers_pointwise_weights():
    for ch in (16, 32):
        converted, report = convert(efficientnet_b0(10), ch)
        assert report.weights_before == POINTWISE_WEIGHTS[("dense", None)]
        assert report.weights_after == POINTWISE_WEIGHTS[("v2", ch)]
        blocks = [m for m in converted.modules() if isinstance(m, InterleavedGroupedPointwise)]
        assert len(blocks) == len(report.grouped) and sum(b.plan.weights for b in blocks) == sum(
            c.weights_after for c in report.grouped)


def test_the_report_lists_what_was_left_alone_and_why():
    net = resnet_like()
    net[3].shared = net[3].conv1  # the same conv reachable under two names
    converted, report = convert(net, 16)
    by_name = {c.name: c for c in report.layers}
    assert by_name["5.downsample.0"].action == "skipped" and by_name["5.downsample.0"].reason == "stride 2"
    assert by_name["3.conv1"].action == "skipped" and "shared with 3.shared" in by_name["3.conv1"].reason
    assert by_name["4.conv1"].action == "grouped" and by_name["4.conv1"].batch_norm == "4.bn1"
    assert isinstance(converted.get_submodule("4.bn1"), nn.Identity)
    assert isinstance(converted.get_submodule("5.downsample.0"), nn.Conv2d)
    assert "4.conv1" in str(report) and "1x1 convs grouped" in str(report).splitlines()[-1]
    mixing = converted.get_submodule("4.conv1").plan.mixing()
    assert (by_name["4.conv1"].min_inputs, by_name["4.conv1"].max_inputs) == (mixing.min_inputs, mixing.max_inputs)


def test_convert_never_changes_the_model_it_is_given():
    net = mobilenet_like()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    types = [type(m) for m in net.modules()]
    converted, _ = convert(net, 8)
    assert [type(m) for m in net.modules()] == types
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert converted is not net


def test_keep_and_min_channels():
    _, report = convert(mobilenet_like(), 16, keep=["4.*"], min_channels=64)
    by_name = {c.name: c for c in report.layers}
    assert by_name["4.0"].action == "kept" and by_name["4.0"].reason == "keep="
    assert by_name["1.conv.0"].action == "kept" and "min_channels=64" in by_name["1.conv.0"].reason  # 32 -> 192


def test_a_converted_network_trains_and_is_smaller():
    torch.manual_seed(0)
    net = resnet_like()
    converted, report = convert(net, 16)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(converted) < count(net)
    x, t = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    opt = torch.optim.SGD(converted.parameters(), lr=0.05)
    loss = nn.functional.cross_entropy(converted(x), t)
    loss.backward()
    opt.step()
    assert nn.functional.cross_entropy(converted(x), t).item() < loss.item()


def test_eval_mode_models_give_eval_mode_blocks():
    """Documented behaviour: new blocks take the mode of the conv they replace; their BatchNorms start
    with fresh statistics (the originals' statistics describe a different layer)."""
    net = resnet_like().eval()
    for p in net.parameters():
        p.requires_grad_(False)  # a frozen backbone
    converted, report = convert(net, 16)
    block = converted.get_submodule(report.grouped[0].name)
    assert not block.training and torch.equal(block.k_norm.running_var, torch.ones_like(block.k_norm.running_var))
    assert all(p.requires_grad for p in block.parameters())  # new layers are trainable


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="channels_per_group must be a positive int"):
        convert(resnet_like(), 0)
    with pytest.raises(ValueError, match="scheme must be one of"):
        convert(resnet_like(), 16, "v3")
    with pytest.raises(TypeError, match="nn.Module"):
        convert("resnet", 16)
    with pytest.raises(ValueError, match="has no conv1x1 layer to convert"):
        convert(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), 16)
    with pytest.warns(UserWarning, match="no layer of Sequential was grouped"):
        _, report = convert(mobilenet_like(), 1000)
    assert not report.grouped and all(c.action == "dense" for c in report.layers)
