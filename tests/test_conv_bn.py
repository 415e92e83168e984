"""The CPU fast paths of a dense 1x1 conv (+BN) against the plain nn.Conv2d + nn.BatchNorm2d they replace."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from igpw_viz import InterleavedGroupedPointwise
from igpw_viz.nn.fast.conv_bn import BMM_MIN_PIXELS, conv1x1, conv1x1_bn, fold_pays, foldable
from igpw_viz.nn.oracle import oracle_forward

DOUBLE = dict(dtype=torch.float64)


def _grads(*tensors):
    return [t.grad.clone() for t in tensors]


@pytest.mark.parametrize("size,channels_last,bias", [(32, False, False), (33, False, True), (8, False, True),
                                                      (32, True, False)])
def test_conv1x1_equals_conv2d_values_and_gradients(size, channels_last, bias):
    torch.manual_seed(0)
    x = torch.randn(3, 5, size, size, **DOUBLE)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(7, 5, **DOUBLE, requires_grad=True)
    b = torch.randn(7, **DOUBLE, requires_grad=True) if bias else None
    g = torch.randn(3, 7, size, size, **DOUBLE)
    results = []
    for fn in (lambda t: conv1x1(t, w, b), lambda t: F.conv2d(t, w[:, :, None, None], b)):
        xi = x.detach().clone().requires_grad_()
        y = fn(xi)
        y.backward(g)
        results.append((y.detach(), xi.grad, *_grads(w, *([b] if bias else []))))
        w.grad = None
        if bias:
            b.grad = None
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def _pair(ic, fc, momentum):
    conv = nn.Conv2d(ic, fc, 1, bias=False).double()
    norm = nn.BatchNorm2d(fc, eps=1e-3, momentum=momentum).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    return conv, norm


@pytest.mark.parametrize("size", [32, 5])  # the batched-matmul conv and oneDNN's conv
@pytest.mark.parametrize("momentum", [0.01, None])  # exponential and cumulative running averages
def test_folded_training_bn_equals_conv_then_batchnorm(size, momentum):
    """Values, every gradient and the running statistics over three training steps, in float64."""
    torch.manual_seed(0)
    conv, norm = _pair(6, 20, momentum)
    conv2, norm2 = copy.deepcopy(conv), copy.deepcopy(norm)
    for step in range(3):
        x = (torch.randn(4, 6, size, size, **DOUBLE) * (1 + step) + 3.0).requires_grad_()  # mean far from 0
        x2 = x.detach().clone().requires_grad_()
        g = torch.randn(4, 20, size, size, **DOUBLE)
        y = conv1x1_bn(x, conv.weight.flatten(1), norm)
        y2 = norm2(conv2(x2))
        y.backward(g)
        y2.backward(g)
        torch.testing.assert_close(y, y2, rtol=1e-9, atol=1e-9)
        for a, b in [(x.grad, x2.grad), (conv.weight.grad, conv2.weight.grad), (norm.weight.grad, norm2.weight.grad),
                     (norm.bias.grad, norm2.bias.grad)]:
            torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-9)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            torch.testing.assert_close(getattr(norm, name), getattr(norm2, name), rtol=1e-10, atol=1e-12)


def test_folded_eval_bn_uses_running_statistics():
    torch.manual_seed(0)
    conv, norm = _pair(6, 20, 0.5)
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    norm.eval()
    x = torch.randn(2, 6, 4, 4, **DOUBLE)
    torch.testing.assert_close(conv1x1_bn(x, conv.weight.flatten(1), norm), norm(conv(x)), rtol=1e-10, atol=1e-10)
    assert norm.num_batches_tracked.item() == 0  # eval never updates


def test_training_fold_refuses_one_value_per_channel_like_batchnorm():
    conv, norm = _pair(4, 16, 0.1)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        conv1x1_bn(torch.randn(1, 4, 1, 1, **DOUBLE), conv.weight.flatten(1), norm)


def test_foldable_and_fold_pays_rules():
    assert foldable(nn.BatchNorm2d(4))
    assert not foldable(nn.BatchNorm2d(4, affine=False))
    assert not foldable(nn.BatchNorm2d(4, track_running_stats=False))
    assert not foldable(nn.SyncBatchNorm(4)) and not foldable(None)
    assert fold_pays(16, 96) and fold_pays(24, 144) and fold_pays(40, 240)  # B0 expansions
    assert not fold_pays(32, 16) and not fold_pays(96, 24)  # projections keep BN on their output


@pytest.mark.parametrize("ic,fc", [(16, 96), (32, 16)])  # folded in training / BN kept
def test_dense_plan_layer_equals_conv_bn_silu_in_training_and_eval(ic, fc):
    torch.manual_seed(0)
    layer = InterleavedGroupedPointwise(ic, fc, 16, activation="silu").double()
    assert layer.plan.is_dense and layer.fast.k.folds(torch.zeros(1, ic, 4, 4), layer.k_norm, None) == fold_pays(ic, fc)
    plain = nn.Sequential(nn.Conv2d(ic, fc, 1, bias=False), nn.BatchNorm2d(fc, eps=1e-3, momentum=0.01),
                          nn.SiLU()).double()
    plain[0].weight.data.copy_(layer.k.weight)
    size = int(BMM_MIN_PIXELS**0.5)
    for _ in range(2):
        x = torch.randn(2, ic, size, size, **DOUBLE, requires_grad=True)
        x2 = x.detach().clone().requires_grad_()
        g = torch.randn(2, fc, size, size, **DOUBLE)
        layer(x).backward(g)
        plain(x2).backward(g)
        torch.testing.assert_close(x.grad, x2.grad, rtol=1e-8, atol=1e-9)
        torch.testing.assert_close(layer.k.weight.grad, plain[0].weight.grad, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(layer.k_norm.running_var, plain[1].running_var, rtol=1e-10, atol=1e-12)
    x = torch.randn(2, ic, 6, 6, **DOUBLE)
    torch.testing.assert_close(layer.eval()(x), plain.eval()(x), rtol=1e-10, atol=1e-10)


def test_folded_path_under_bf16_autocast_keeps_fp32_statistics():
    torch.manual_seed(0)
    layer = InterleavedGroupedPointwise(16, 96, 16, activation="silu")
    ref = copy.deepcopy(layer)
    x = torch.randn(2, 16, 32, 32, requires_grad=True)
    want = ref(x).detach()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert layer.k.weight.grad.dtype == torch.float32
    assert (y.float() - want).abs().max() < 0.05 * want.abs().max()
    torch.testing.assert_close(layer.k_norm.running_var, ref.k_norm.running_var, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ic,fc", [(16, 96), (40, 240)])  # dense plan, grouped K with uneven replication
def test_folded_path_compiles_without_graph_breaks(ic, fc):
    torch.manual_seed(0)
    layer = InterleavedGroupedPointwise(ic, fc, 16, activation="silu")
    twin = copy.deepcopy(layer)
    compiled = torch.compile(twin, fullgraph=True)
    x = torch.randn(2, ic, 32, 32, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    g = torch.randn(2, fc, 32, 32)
    layer(x).backward(g)
    y = compiled(x2)
    y.backward(g)
    torch.testing.assert_close(x2.grad, x.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(twin.k_norm.running_mean, layer.k_norm.running_mean, rtol=1e-5, atol=1e-6)


def _unfolded_twin(layer):
    twin = copy.deepcopy(layer)
    for conv in (twin.k, twin.l):
        if conv is not None:
            conv.folds = lambda x, norm: False  # BN on the output, the ordinary way
    return twin


# expansions whose K folds (even and uneven groups, replication), projections whose L folds or not, V1
FOLD_CASES = [(40, 240, 16, "v2"), (80, 480, 16, "v2"), (37, 100, 5, "v2"), (60, 45, 4, "v1"),
              (240, 40, 16, "v2"), (672, 112, 16, "v2"), (100, 3, 16, "v2"), (33, 70, 16, "v1")]


@pytest.mark.parametrize("ic,fc,ch,scheme", FOLD_CASES)
def test_folded_grouped_stages_equal_batchnorm_on_the_output(ic, fc, ch, scheme):
    """Training (values, every gradient, running statistics over two steps) and eval, in float64."""
    torch.manual_seed(0)
    layer = InterleavedGroupedPointwise(ic, fc, ch, scheme, activation="silu").double()
    for norm in (layer.k_norm, layer.l_norm):
        if norm is not None:
            with torch.no_grad():
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)
    twin = _unfolded_twin(layer)
    for _ in range(2):
        x = (torch.randn(3, ic, 5, 5, **DOUBLE) + 1.0).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        g = torch.randn(3, fc, 5, 5, **DOUBLE)
        y, y2 = layer(x), twin(x2)
        torch.testing.assert_close(y, y2, rtol=1e-9, atol=1e-9)
        y.backward(g)
        y2.backward(g)
        torch.testing.assert_close(x.grad, x2.grad, rtol=1e-8, atol=1e-9)
        for (name, p), p2 in zip(layer.named_parameters(), twin.parameters(), strict=True):
            torch.testing.assert_close(p.grad, p2.grad, rtol=1e-8, atol=1e-9, msg=name)
    for b, b2 in zip(layer.buffers(), twin.buffers(), strict=True):
        torch.testing.assert_close(b, b2, rtol=1e-10, atol=1e-12)
    layer.eval()
    x = torch.randn(2, ic, 4, 4, **DOUBLE)
    torch.testing.assert_close(layer(x), oracle_forward(layer, x), rtol=1e-10, atol=1e-10)


def test_which_stages_fold_in_training():
    def folding(ic, fc, ch=16, scheme="v2"):
        layer = InterleavedGroupedPointwise(ic, fc, ch, scheme)
        k = layer.fast.k.folds(torch.zeros(1, ic, 3, 3), layer.k_norm, None)
        return k, layer.l is not None and layer.fast.l.folds(torch.zeros(1, fc, 3, 3), layer.l_norm, None)
    assert folding(40, 240) == (True, False)  # K of an expansion: 16 inputs, 80 filters per group
    assert folding(16, 96) == (True, False)  # a dense plan
    assert folding(672, 112) == (False, False)  # 3 and 16 filters per group: BN on the output is cheaper
    assert folding(120, 90, 4, "v1") == (True, True)  # narrow groups: 4 inputs per group in K and L
    assert folding(60, 45, 4, "v1") == (True, False)  # L is 45 x 45: small enough to run dense, unfolded
    layer = InterleavedGroupedPointwise(672, 112, 16).eval()  # eval: every matmul stage folds
    assert layer.fast.k.folds(torch.zeros(1, 672, 3, 3), layer.k_norm, None)
    assert layer.fast.l.folds(torch.zeros(1, 112, 3, 3), layer.l_norm, None)
