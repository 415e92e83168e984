"""One layer, two faces: the readable forward of `nn/layer.py` and every fast form of `nn/fast/` compute the
same function with the same parameters (float64: outputs, every gradient, BN running statistics; train and
eval), on every pointwise shape of B0 and on random shapes, V1 and V2. The readable face is itself checked
against the oracle loop, which shares no code with either face."""

from __future__ import annotations

import random

import pytest
import torch

from igpw_viz import InterleavedGroupedPointwise
from igpw_viz.core.architecture import b0_pointwise_shapes
from igpw_viz.nn.layer import LAYER_IMPLEMENTATIONS
from igpw_viz.nn.oracle import oracle_forward

FAST_FORMS = [form for form in LAYER_IMPLEMENTATIONS if form != "readable"]
TIGHT = dict(rtol=1e-10, atol=1e-10)


def _b0_cases():
    """Each distinct (shape, role) of B0 once, at the paper's Ch = 16 and a narrow Ch = 4."""
    seen, cases = set(), []
    for s in b0_pointwise_shapes():
        key = (s.in_channels, s.out_channels, s.role)
        if key not in seen:
            seen.add(key)
            cases.append((s.in_channels, s.out_channels, s.activation, s.batch_norm, s.bias,
                          1 if s.role.startswith("se_") else 3))
    return cases


def _random_cases(n, seed):
    rng = random.Random(seed)
    return [(rng.randint(2, 80), rng.randint(1, 80), rng.choice([2, 3, 4, 5, 8, 16]), rng.choice(["v1", "v2"]),
             rng.choice([None, "silu"]), rng.choice([True, False]), rng.choice([True, False]), rng.choice([1, 3]))
            for _ in range(n)]


B0_CASES = [(ic, fc, ch, scheme, act, bn, bias, size)
            for ic, fc, act, bn, bias, size in _b0_cases() for ch in (16, 4) for scheme in ("v2", "v1")]
RANDOM_CASES = _random_cases(30, seed=7)


def _pair(ic, fc, ch, scheme, act, bn, bias, form):
    """A readable layer and a fast one holding the same (randomised) parameters and BN statistics."""
    kw = dict(activation=act, batch_norm=bn, bias=bias)
    readable = InterleavedGroupedPointwise(ic, fc, ch, scheme, implementation="readable", **kw).double()
    fast = InterleavedGroupedPointwise(ic, fc, ch, scheme, implementation=form, **kw).double()
    with torch.no_grad():
        for norm in (readable.k_norm, readable.l_norm):
            if norm is not None:
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)
                norm.running_mean.uniform_(-0.3, 0.3)
                norm.running_var.uniform_(0.5, 2.0)
        if readable.k.bias is not None:
            for conv in (readable.k, readable.l):
                if conv is not None:
                    conv.bias.uniform_(-0.5, 0.5)
    fast.load_state_dict(readable.state_dict())
    return readable, fast


def _run(layer, x, grad):
    """Output, input gradient, every parameter's gradient, and the BN buffers after the pass."""
    x = x.clone().requires_grad_(True)
    y = layer(x)
    y.backward(grad)
    grads = [p.grad.clone() for p in layer.parameters()]
    buffers = [b.clone() for name, b in layer.named_buffers() if "running" in name]
    layer.zero_grad()
    return y.detach(), x.grad, grads, buffers


def _assert_same(a, b):
    (ya, gxa, gpa, ba), (yb, gxb, gpb, bb) = a, b
    torch.testing.assert_close(ya, yb, **TIGHT)
    torch.testing.assert_close(gxa, gxb, **TIGHT)
    assert len(gpa) == len(gpb) and len(ba) == len(bb)
    for p, q in zip(gpa + ba, gpb + bb, strict=True):
        torch.testing.assert_close(p, q, **TIGHT)


def _check_faces(ic, fc, ch, scheme, act, bn, bias, size, form, layout=torch.contiguous_format):
    torch.manual_seed(ic * 7919 + fc)
    readable, fast = _pair(ic, fc, ch, scheme, act, bn, bias, form)
    assert list(readable.state_dict()) == list(fast.state_dict())  # one set of parameters, two faces
    x = torch.randn(4, ic, size, size, dtype=torch.float64).to(memory_format=layout)
    for training in (True, False):
        readable.train(training)
        fast.train(training)
        grad = torch.randn(4, fc, size, size, dtype=torch.float64).to(memory_format=layout)
        _assert_same(_run(readable, x, grad), _run(fast, x, grad))


@pytest.mark.parametrize("form", FAST_FORMS)
@pytest.mark.parametrize("ic,fc,ch,scheme,act,bn,bias,size", B0_CASES)
def test_readable_equals_fast_on_b0_shapes(ic, fc, ch, scheme, act, bn, bias, size, form):
    _check_faces(ic, fc, ch, scheme, act, bn, bias, size, form)


@pytest.mark.parametrize("form", FAST_FORMS)
@pytest.mark.parametrize("ic,fc,ch,scheme,act,bn,bias,size", RANDOM_CASES)
def test_readable_equals_fast_on_random_shapes(ic, fc, ch, scheme, act, bn, bias, size, form):
    _check_faces(ic, fc, ch, scheme, act, bn, bias, size, form)


@pytest.mark.parametrize("ic,fc,ch,scheme,act,bn,bias,size", B0_CASES + RANDOM_CASES)
def test_readable_equals_fast_in_channels_last(ic, fc, ch, scheme, act, bn, bias, size):
    """NHWC memory on the CPU takes its own form (one matmul with the dense weight)."""
    _check_faces(ic, fc, ch, scheme, act, bn, bias, size, "auto", torch.channels_last)


def test_both_nhwc_forms_are_covered_by_the_b0_cases():
    """Wide stages run grouped on pixel rows, narrow ones with the dense weight: the cases above hit both."""
    stages = [s for ic, fc, ch, scheme, *_ in B0_CASES
              for s in (lambda f: (f.k, f.l))(InterleavedGroupedPointwise(ic, fc, ch, scheme).fast) if s is not None]
    kinds = {s.nhwc_form for s in stages if not s.plain}
    assert kinds == {"grouped", "dense"}
    assert InterleavedGroupedPointwise(320, 1280, 16).fast.k.nhwc_form == "grouped"
    assert InterleavedGroupedPointwise(96, 24, 16).fast.k.nhwc_form == "dense"


def test_channels_last_takes_the_nhwc_form_and_keeps_the_layout():
    layer = InterleavedGroupedPointwise(240, 40, 16).train()
    x = torch.randn(2, 240, 5, 5).to(memory_format=torch.channels_last)
    y = layer(x)
    assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()


@pytest.mark.parametrize("ic,fc,ch,scheme,act,bn,bias,size", RANDOM_CASES[:15] + B0_CASES[::7])
def test_readable_equals_the_oracle(ic, fc, ch, scheme, act, bn, bias, size):
    """The oracle walks groups and filters one by one from the plan: an independent check of the
    readable face (and through the tests above, of every fast form)."""
    torch.manual_seed(fc)
    readable, _ = _pair(ic, fc, ch, scheme, act, bn, bias, "auto")
    x = torch.randn(3, ic, size, size, dtype=torch.float64)
    for training in (True, False):
        readable.train(training)
        torch.testing.assert_close(readable(x), oracle_forward(readable, x), **TIGHT)


@pytest.mark.parametrize("ic,fc,ch,scheme", [(240, 40, 16, "v2"), (40, 240, 16, "v1"), (672, 112, 16, "v2"),
                                             (96, 4, 16, "v1"), (37, 23, 5, "v2"), (16, 96, 16, "dense")])
def test_fuse_equals_both_faces_in_eval(ic, fc, ch, scheme):
    torch.manual_seed(1)
    readable, fast = _pair(ic, fc, ch, scheme, None, True, False, "auto")
    readable.eval()
    fast.eval()
    x = torch.randn(2, ic, 5, 5, dtype=torch.float64)
    fused = readable.fuse()
    assert isinstance(fused, torch.nn.Conv2d)
    torch.testing.assert_close(fused(x), readable(x), **TIGHT)
    torch.testing.assert_close(fast.fuse()(x), fast(x), **TIGHT)


def test_faces_report_themselves_and_share_a_checkpoint(tmp_path):
    readable = InterleavedGroupedPointwise(240, 40, 16, implementation="readable")
    fast = InterleavedGroupedPointwise(240, 40, 16)
    assert readable.implementation == "readable" and readable.fast is None
    assert fast.implementation == "fast" and fast.fast is not None
    torch.save(readable.state_dict(), tmp_path / "w.pt")
    fast.load_state_dict(torch.load(tmp_path / "w.pt"))  # strict: the same keys, the same shapes
    for a, b in zip(readable.parameters(), fast.parameters(), strict=True):
        assert torch.equal(a, b)


def test_printout_shows_the_parameters_not_the_backend():
    fast = InterleavedGroupedPointwise(240, 40, 16)
    text = repr(fast)
    assert "k_norm" in text and "implementation='fast'" in text and "FastStage" not in text
    assert "FastStage" in repr(fast.fast)  # still there, and still moved by .to()/.double()
    assert list(dict(fast.named_children())) == ["k", "k_norm", "l", "l_norm", "fast"]
    assert "implementation='readable'" in repr(InterleavedGroupedPointwise(240, 40, 16, implementation="readable"))
