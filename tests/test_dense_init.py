"""init="dense": a block fitted to a trained dense conv. Oracles: a dense weight that already has the block's
structure is reproduced exactly (outputs too, BatchNorm shift included); for any weight the error is the
norm of what the fit leaves, never above the K-only fit that copies each group's weights."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from igpw_viz.nn.convert import convert
from igpw_viz.nn.dense_init import fit_dense
from igpw_viz.nn.layer import InterleavedGroupedPointwise

SHAPES = [(240, 40, 16, "v2"), (40, 240, 16, "v2"), (37, 23, 5, "v2"), (96, 4, 16, "v1"), (60, 45, 4, "v1"),
          (24, 144, 16, "v2"), (120, 90, 4, "v1")]
rng = random.Random(3)
SHAPES += [(rng.randint(8, 80), rng.randint(4, 80), rng.choice([2, 4, 8]), rng.choice(["v1", "v2"])) for _ in range(8)]
DOUBLE = dict(dtype=torch.float64)


def _block(ic, fc, ch, scheme, **kw):
    return InterleavedGroupedPointwise(ic, fc, ch, scheme, activation=None, **kw).double()


def _structured(ic, fc, ch, scheme):
    """A dense matrix the block can represent exactly: K's structure, random values (L = 0)."""
    donor = _block(ic, fc, ch, scheme, batch_norm=False)
    with torch.no_grad():
        donor.k.weight.normal_()
        weight = donor.k.dense_weight(donor.plan.k.sources, ic)
    if donor.l is None:  # V1 without L outputs K's channels interleaved
        weight = weight[donor.output_order]
    return weight


@pytest.mark.parametrize("ic,fc,ch,scheme", SHAPES)
@pytest.mark.parametrize("batch_norm", [True, False])
def test_a_structured_dense_weight_is_reproduced_exactly(ic, fc, ch, scheme, batch_norm):
    torch.manual_seed(ic + fc)
    weight, shift = _structured(ic, fc, ch, scheme), torch.randn(fc, **DOUBLE)
    block = _block(ic, fc, ch, scheme, batch_norm=batch_norm, bias=not batch_norm)
    if block.plan.is_dense:
        pytest.skip("dense plan")
    error = fit_dense(block, weight, shift)
    assert error < 1e-12
    x = torch.randn(3, ic, 2, 2, **DOUBLE)
    with torch.no_grad():
        want = torch.einsum("oi,nihw->nohw", weight, x) + shift[:, None, None]
        torch.testing.assert_close(block.eval()(x), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ic,fc,ch,scheme", SHAPES)
def test_any_weight_fits_no_worse_than_copying_k(ic, fc, ch, scheme):
    torch.manual_seed(fc)
    block = _block(ic, fc, ch, scheme)
    if block.plan.is_dense:
        pytest.skip("dense plan")
    weight = torch.randn(fc, ic, **DOUBLE)
    error = fit_dense(block, weight)
    fused = block.eval().fuse().weight.flatten(1)
    assert error == pytest.approx(float(torch.linalg.norm(fused - weight) / torch.linalg.norm(weight)), rel=1e-9)
    # the K-only fit keeps, for each output, the dense weights of the inputs its K group reads
    mask = torch.zeros(fc, ic, **DOUBLE)
    k = block.plan.k
    reads_of = [{k.sources[e] for e in k.group_positions(g)} for g in range(k.groups)]
    order = block.output_order.tolist() if block.l is None else list(range(fc))
    for o in range(fc):
        mask[o, list(reads_of[k.output_groups[order[o]]])] = 1.0
    k_only = float(torch.linalg.norm(weight * (1 - mask)) / torch.linalg.norm(weight))
    assert error <= k_only + 1e-12
    if block.plan.mixing().min_inputs > max(len(r) for r in reads_of):
        assert error < k_only  # every output reads beyond its K group: L fits part of the residual


def test_convert_with_dense_init_keeps_a_structured_network_exactly():
    """A network whose 1x1 convs already have the V2 structure: after convert(init="dense") it computes
    the same function in eval mode (BatchNorm statistics and shifts included)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
                        nn.Conv2d(64, 256, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
                        nn.Conv2d(256, 40, 1, bias=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()).double()
    with torch.no_grad():
        for i, (ic, fc) in ((3, (64, 256)), (6, (256, 40))):
            net[i].weight.copy_(_structured(ic, fc, 16, "v2")[:, :, None, None])
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    net.eval()
    converted, report = convert(net, 16, init="dense")
    assert len(report.grouped) == 2 and all(c.fit_error < 1e-12 for c in report.grouped)
    assert "fit error" in str(report)
    x = torch.randn(2, 3, 8, 8, **DOUBLE)
    with torch.no_grad():
        torch.testing.assert_close(converted.eval()(x), net(x), rtol=1e-9, atol=1e-9)


def test_init_is_checked():
    with pytest.raises(ValueError, match="init must be 'random' or 'dense'"):
        convert(nn.Sequential(nn.Conv2d(64, 64, 1)), 16, init="svd")
