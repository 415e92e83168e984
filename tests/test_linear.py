"""The block for nn.Linear: the same plan on the last dimension. Oracles: the plan's connectivity (probed
with unit inputs), the oracle loop of the conv block, and its fused nn.Linear; convert on a
transformer-style MLP."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from igpw_viz import plan_pointwise
from igpw_viz.nn.convert import convert
from igpw_viz.nn.linear import InterleavedGroupedLinear
from igpw_viz.nn.oracle import oracle_forward

SHAPES = [(256, 1024, 16, "v2"), (1024, 256, 16, "v2"), (96, 40, 8, "v1"), (37, 23, 5, "v2")]


@pytest.mark.parametrize("ic,fc,ch,scheme", SHAPES)
def test_linear_block_has_the_plans_connectivity(ic, fc, ch, scheme):
    layer = InterleavedGroupedLinear(ic, fc, ch, scheme, bias=False).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.uniform_(0.5, 1.5)
        matrix = layer(torch.eye(ic, dtype=torch.float64)).T  # Fc x Ic
    deps = tuple(tuple(torch.nonzero(row).flatten().tolist()) for row in matrix)
    assert deps == plan_pointwise(ic, fc, ch, scheme).connectivity()


@pytest.mark.parametrize("ic,fc,ch,scheme", SHAPES)
def test_linear_block_equals_the_oracle_and_its_fused_linear(ic, fc, ch, scheme):
    torch.manual_seed(0)
    layer = InterleavedGroupedLinear(ic, fc, ch, scheme).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_()
    x = torch.randn(2, 5, ic, dtype=torch.float64)  # batch, tokens, features
    y = layer(x)
    assert y.shape == (2, 5, fc)
    want = oracle_forward(layer.block, x.reshape(-1, ic, 1, 1)).reshape(2, 5, fc)
    torch.testing.assert_close(y, want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(layer.fuse()(x), y, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match=f"in_features={ic}"):
        layer(torch.randn(3, ic + 1, dtype=torch.float64))


class MLP(nn.Module):
    """A transformer block's feed-forward part."""

    def __init__(self, d: int = 256, hidden: int = 1024):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_convert_replaces_linear_layers_when_asked():
    torch.manual_seed(0)
    net = nn.Sequential(MLP(), nn.LayerNorm(256), nn.Linear(256, 10)).double()
    converted, report = convert(net, 16, layers=("conv1x1", "linear"))
    kinds = {c.name: (c.kind, c.action) for c in report.layers}
    assert kinds["0.fc1"] == ("linear", "grouped") and kinds["0.fc2"] == ("linear", "grouped")
    assert isinstance(converted[0].fc1, InterleavedGroupedLinear) and isinstance(net[0].fc1, nn.Linear)
    assert "(linear)" in str(report)
    x = torch.randn(4, 7, 256, dtype=torch.float64)
    assert converted(x).shape == (4, 7, 10)
    # dense init: exact when the weight has the structure
    donor = InterleavedGroupedLinear(256, 1024, 16).double()
    with torch.no_grad():
        assert donor.block.l is None  # an expansion: K alone, so its fused weight has K's structure
        net[0].fc1.weight.copy_(donor.fuse().weight)
    _, fitted = convert(net, 16, layers="linear", init="dense")
    errors = {c.name: c.fit_error for c in fitted.grouped}
    assert errors["0.fc1"] < 1e-12 and errors["0.fc2"] > 0.1


def test_linear_layers_are_left_alone_by_default():
    with pytest.raises(ValueError, match="has no conv1x1 layer to convert"):
        convert(MLP(), 16)
    with pytest.raises(ValueError, match="layers must name"):
        convert(MLP(), 16, layers=("dense",))
