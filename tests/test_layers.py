"""The fast layer against the oracle loop, the port, its plan's connectivity and the parameter formula."""

from __future__ import annotations

import random

import pytest
import torch

from igpw_viz import InterleavedGroupedPointwise, plan_pointwise
from igpw_viz.nn.oracle import StraightforwardPort, oracle_forward

# Shapes that exercise every branch: uneven splits, replication in K and L, groups capped by Fc,
# a step that does not divide Fc, Fc <= Ch (dense L), expansions, dense plans, V1 with and without L.
EDGE = [
    (240, 40, 16, "v2"), (40, 240, 16, "v2"), (96, 4, 16, "v2"), (24, 144, 16, "v2"),
    (300, 50, 16, "v2"), (100, 3, 16, "v2"), (37, 23, 5, "v2"), (33, 16, 16, "v2"), (16, 96, 16, "v2"),
    (240, 40, 16, "v1"), (40, 240, 16, "v1"), (96, 4, 16, "v1"), (24, 144, 16, "v1"), (60, 45, 4, "v1"),
]


def _random_cases(n, seed):
    rng = random.Random(seed)
    return [(rng.randint(2, 90), rng.randint(1, 90), rng.choice([2, 3, 4, 5, 8, 16]), rng.choice(["v1", "v2"]))
            for _ in range(n)]


CASES = EDGE + _random_cases(40, seed=1)


def _layer(ic, fc, ch, scheme, implementation="auto", **kw):
    kw = dict(batch_norm=True, activation="silu", bias=True) | kw
    return InterleavedGroupedPointwise(ic, fc, ch, scheme, implementation=implementation, **kw)


FORMS = ["matmul", "grouped", "dense"]


@pytest.mark.parametrize("ic,fc,ch,scheme", CASES)
@pytest.mark.parametrize("implementation", FORMS)
def test_connectivity_equals_real_dependencies(ic, fc, ch, scheme, implementation):
    """Probe the linear block (no BN, no activation) with unit inputs: y = M x, and M's nonzeros must
    be exactly the plan's connectivity."""
    torch.manual_seed(0)
    layer = _layer(ic, fc, ch, scheme, implementation, batch_norm=False, activation=None, bias=False).double()
    with torch.no_grad():
        for p in layer.parameters():  # strictly positive weights: no accidental cancellation
            p.uniform_(0.5, 1.5)
        basis = torch.eye(ic, dtype=torch.float64)[:, :, None, None]  # Ic unit inputs
        matrix = layer(basis)[:, :, 0, 0].T  # Fc x Ic
    deps = tuple(tuple(torch.nonzero(row).flatten().tolist()) for row in matrix)
    assert deps == plan_pointwise(ic, fc, ch, scheme).connectivity()


@pytest.mark.parametrize("ic,fc,ch,scheme", CASES)
@pytest.mark.parametrize("implementation,size", [(form, 3) for form in FORMS] + [("auto", 1)])
def test_fast_equals_oracle_outputs_and_gradients(ic, fc, ch, scheme, implementation, size):
    """size 1 (squeeze-excitation maps) takes the matmul-on-flattened-input path whatever the form."""
    torch.manual_seed(ic * 1000 + fc)
    layer = _layer(ic, fc, ch, scheme, implementation)
    with torch.no_grad():
        for norm in (layer.k_norm, layer.l_norm):
            if norm is not None:
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(4, ic, size, size, requires_grad=True)
    grad = None
    results = []
    for forward in (layer, lambda t: oracle_forward(layer, t)):
        y = forward(x)
        grad = torch.randn_like(y) if grad is None else grad
        y.backward(grad)
        results.append((y.detach(), x.grad.clone(), [p.grad.clone() for p in layer.parameters()]))
        x.grad = None
        layer.zero_grad()
    (y1, gx1, gp1), (y2, gx2, gp2) = results
    torch.testing.assert_close(y1, y2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx1, gx2, rtol=1e-4, atol=1e-5)
    for a, b in zip(gp1, gp2, strict=True):  # a conv bias before BN has a gradient of ~0: rounding only
        torch.testing.assert_close(a, b, rtol=1e-4, atol=5e-5)


@pytest.mark.parametrize("ic,fc,ch,scheme", EDGE)
def test_straightforward_port_matches(ic, fc, ch, scheme):
    torch.manual_seed(0)
    layer = _layer(ic, fc, ch, scheme).double()
    x = torch.randn(3, ic, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(StraightforwardPort(layer)(x), layer(x))


@pytest.mark.parametrize("ic,fc,ch,scheme", CASES)
@pytest.mark.parametrize("batch_norm,bias", [(True, False), (False, True), (False, False)])
def test_parameter_count_equals_formula(ic, fc, ch, scheme, batch_norm, bias):
    plan = plan_pointwise(ic, fc, ch, scheme)
    layer = _layer(ic, fc, ch, scheme, batch_norm=batch_norm, bias=bias)
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    convs = 1 + (plan.l is not None)
    assert trainable == plan.weights + convs * fc * (int(bias) + 2 * int(batch_norm))
    assert trainable == plan.parameters(batch_norm=batch_norm, bias=bias)


def test_dense_plan_is_a_plain_conv():
    layer = _layer(16, 96, 16, "v2", bias=False)
    assert layer.plan.is_dense and layer.l is None and layer.fast.k.plain
    assert sum(p.numel() for p in layer.parameters()) == 16 * 96 + 2 * 96


def _trained(layer, ic, steps=3):
    """A few training steps so BN running statistics are not the defaults."""
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        layer(torch.randn(8, ic, 5, 5) * 2 + 1).square().mean().backward()
        opt.step()
    return layer.eval()


@pytest.mark.parametrize("ic,fc,ch,scheme,activation", [
    (240, 40, 16, "v2", None), (300, 50, 16, "v2", None), (96, 4, 16, "v2", None), (40, 240, 16, "v2", "silu"),
    (24, 144, 16, "v2", None), (240, 40, 16, "v1", None), (40, 240, 16, "v1", "silu"), (16, 96, 16, "v2", "silu"),
])
def test_fuse_equals_block_in_eval_mode(ic, fc, ch, scheme, activation):
    torch.manual_seed(0)
    layer = _trained(_layer(ic, fc, ch, scheme, activation=activation, bias=False), ic)
    fused = layer.fuse()
    x = torch.randn(4, ic, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), layer(x), rtol=1e-4, atol=1e-5)


def test_fuse_refuses_activation_between_k_and_l_and_training_mode():
    with pytest.raises(ValueError, match="activation"):
        _layer(96, 4, 16, "v2", activation="silu").eval().fuse()
    with pytest.raises(ValueError, match="eval"):
        _layer(240, 40, 16, "v2", activation=None).fuse()


@pytest.mark.parametrize("ic,fc,ch,scheme", [(240, 40, 16, "v2"), (40, 240, 16, "v2"), (240, 40, 16, "v1")])
def test_channels_last_gives_the_same_numbers(ic, fc, ch, scheme):
    torch.manual_seed(0)
    layer = _layer(ic, fc, ch, scheme)
    x = torch.randn(4, ic, 5, 5)
    xc = x.clone().to(memory_format=torch.channels_last).requires_grad_(True)
    x.requires_grad_(True)
    y, yc = layer(x), layer(xc)
    torch.testing.assert_close(yc, y, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(y)
    y.backward(g)
    yc.backward(g)
    torch.testing.assert_close(xc.grad, x.grad, rtol=1e-4, atol=1e-5)


def test_compile_fullgraph_matches_eager():
    torch.manual_seed(0)
    layer = _layer(240, 40, 16, "v2")
    x = torch.randn(4, 240, 6, 6, requires_grad=True)
    compiled = torch.compile(layer, fullgraph=True)  # fullgraph: any graph break is an error
    y_eager = layer(x)
    g = torch.randn_like(y_eager)
    y_eager.backward(g)
    gx_eager = x.grad.clone()
    x.grad = None
    y_comp = compiled(x)
    y_comp.backward(g)
    torch.testing.assert_close(y_comp, y_eager, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(x.grad, gx_eager, rtol=1e-4, atol=1e-5)


def test_bf16_autocast_forward_and_backward_on_cpu():
    torch.manual_seed(0)
    layer = _layer(240, 40, 16, "v2")
    x = torch.randn(4, 240, 6, 6, requires_grad=True)
    ref = layer(x).detach()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    y.float().sum().backward()
    assert layer.k.weight.grad.dtype == torch.float32  # weights stay fp32
    assert (y.float() - ref).abs().max() < 0.1 * ref.abs().max()


def test_state_dict_round_trip_and_no_padded_parameters():
    torch.manual_seed(0)
    a = _trained(_layer(240, 40, 16, "v2"), 240)
    torch.manual_seed(1)
    b = _layer(240, 40, 16, "v2").eval()
    state = a.state_dict()
    assert state["k.weight"].shape == (40, 16, 1, 1) and state["l.weight"].shape == (40, 16, 1, 1)
    assert not any("index" in key for key in state)  # index tables are not saved state
    b.load_state_dict(state)
    x = torch.randn(2, 240, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)


def test_deterministic_given_a_seed():
    def run():
        torch.manual_seed(123)
        layer = _layer(300, 50, 16, "v2")
        x = torch.randn(4, 300, 5, 5, requires_grad=True)
        layer(x).square().sum().backward()
        return [p.detach().clone() for p in layer.parameters()] + [x.grad.clone()]

    for a, b in zip(run(), run(), strict=True):
        assert torch.equal(a, b)


def test_initialisation_is_glorot_per_path():
    torch.manual_seed(0)
    layer = _layer(240, 40, 16, "v2")
    # path 1: 30 filters seeing 16 channels each; path 2: 10 extra filters
    assert layer.k.weight[:30].abs().max() <= (6 / (16 + 30)) ** 0.5
    assert layer.k.weight[30:].abs().max() <= (6 / (16 + 10)) ** 0.5
    assert layer.k.weight[30:].abs().max() > (6 / (16 + 30)) ** 0.5 * 0.9  # wider bound really used
    assert torch.count_nonzero(layer.k.bias) == 0


def test_bad_input_is_named():
    layer = _layer(240, 40, 16, "v2")
    with pytest.raises(ValueError, match="in_channels=240"):
        layer(torch.randn(2, 239, 4, 4))
    with pytest.raises(ValueError, match="4-d"):
        layer(torch.randn(2, 240, 4))
    with pytest.raises(ValueError, match="activation"):
        _layer(240, 40, 16, "v2", activation="swoosh")
    with pytest.raises(ValueError, match="implementation"):
        _layer(240, 40, 16, "v2", implementation="fastest")
    with pytest.raises(TypeError, match="channels_per_group"):
        InterleavedGroupedPointwise(240, 40, 16.0)
    with pytest.raises(ValueError, match="scheme"):
        InterleavedGroupedPointwise(240, 40, 16, "V3")
