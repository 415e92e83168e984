"""The plan against the spec's worked examples and against brute-force oracles of the V1/V2 rules."""

from __future__ import annotations

import math
import random

import pytest

from igpw_viz.core.architecture import b0_pointwise_shapes
from igpw_viz.core.plan import plan_pointwise

# (Ic, Fc, Ch): dense weights, V1 weights, V2 weights  -- algorithm.md, "Worked examples"
WORKED = {
    (16, 96, 16): (1536, 1536, 1536),
    (40, 240, 16): (9600, 4800, 3840),
    (240, 40, 16): (9600, 1120, 1280),
    (320, 1280, 16): (409600, 20480, 20480),
    (24, 144, 16): (3456, 3456, 2304),
    (96, 4, 16): (384, 100, 112),
}


@pytest.mark.parametrize("shape", WORKED)
def test_worked_examples_weights(shape):
    dense, v1, v2 = WORKED[shape]
    assert plan_pointwise(*shape, "v1").weights == v1
    assert plan_pointwise(*shape, "v2").weights == v2
    assert plan_pointwise(*shape).dense_weights == dense


def test_40_240_replicates_first_eight_channels():
    p = plan_pointwise(40, 240, 16)
    assert (p.k.groups, p.k.inputs_per_group) == (3, 16)
    assert p.k.replicated == tuple(range(8))
    assert p.k.group_inputs(2) == tuple(range(32, 40)) + tuple(range(8))
    assert p.k.filters_per_group == (80, 80, 80)
    assert p.l is None and p.interleave is None
    assert "channels 0-7 are replicated to fill group 2" in p.describe()
    assert "80 filters per group" in p.describe()


def test_240_40_uneven_split_interleave_and_l():
    p = plan_pointwise(240, 40, 16)
    assert (p.k.groups, p.k.inputs_per_group, p.k.replicated) == (15, 16, ())
    assert p.k.filters_per_group == (3,) * 10 + (2,) * 5
    # reference order: 2 filters of every group (group-major), then the 10 extra filters
    assert p.k.output_groups[:4] == (0, 0, 1, 1) and p.k.output_groups[30:] == tuple(range(10))
    assert p.interleave_step == 2
    assert p.interleave == tuple(range(0, 40, 2)) + tuple(range(1, 40, 2))
    assert (p.l.groups, p.l.inputs_per_group, p.l.replicated) == (3, 16, tuple(range(8)))
    assert p.l.filters_per_group == (14, 13, 13)
    # L's last group reads interleaved positions 32..39 and copies of 0..7 = K channels 24..38 even, 0..14 even
    assert p.l_sources[32:] == tuple(p.interleave[32:40]) + tuple(p.interleave[:8])
    assert (p.k.weights, p.l.weights) == (640, 640)


def test_96_4_groups_capped_by_filters():
    p = plan_pointwise(96, 4, 16)
    assert (p.k.groups, p.k.inputs_per_group) == (4, 24)
    assert p.interleave is None and p.l.is_dense and p.l.weights == 16


def test_interleave_is_transpose_when_step_divides():
    p = plan_pointwise(480, 80, 16)  # step 5 divides 80
    rows, step = 80 // 5, 5
    transpose = [r * step + t for t in range(step) for r in range(rows)]
    assert list(p.interleave) == transpose


def test_interleave_is_a_permutation_when_step_does_not_divide():
    p = plan_pointwise(672, 112, 16)  # step 7 divides; 1152->320: step 20 divides; use 240->40 with Ch 12
    for plan in (p, plan_pointwise(240, 40, 12), plan_pointwise(300, 50, 16)):
        assert sorted(plan.interleave) == list(range(plan.out_channels))
    assert plan_pointwise(300, 50, 16).interleave_step == 3  # 50 % 3 != 0


def _v1_groups_oracle(ic, fc, ch):
    candidates = [g for g in range(1, ic + 1) if ic % g == 0 and fc % g == 0 and g <= ic // ch]
    return max(candidates, default=1)


def _v2_dense_oracle(ic, fc, ch):
    replaced = ic > 2 * ch or (fc > ic and ic > ch)
    return not replaced or min(math.ceil(ic / ch), fc) == 1


def _random_shapes(n, seed=0):
    rng = random.Random(seed)
    return [(rng.randint(1, 300), rng.randint(1, 300), rng.choice([1, 2, 3, 4, 7, 8, 16, 32, 64]))
            for _ in range(n)]


@pytest.mark.parametrize("ic,fc,ch", _random_shapes(300))
def test_rules_match_brute_force(ic, fc, ch):
    v1 = plan_pointwise(ic, fc, ch, "v1")
    assert v1.k.groups == _v1_groups_oracle(ic, fc, ch)
    assert v1.is_dense == (_v1_groups_oracle(ic, fc, ch) == 1)
    if not v1.is_dense:
        g = v1.k.groups
        assert v1.weights == ic // g * fc + (fc // g * fc if ic >= fc else 0)
        assert (v1.interleave_step or 1) == fc // g
    v2 = plan_pointwise(ic, fc, ch, "v2")
    assert v2.is_dense == _v2_dense_oracle(ic, fc, ch)
    for stage in (v2.k, v2.l):
        if stage is None:
            continue
        # every input read at least once, groups equal-width, copies are the first channels
        assert set(stage.sources) == set(range(stage.in_channels))
        assert len(stage.sources) == stage.groups * stage.inputs_per_group
        assert stage.replicated == tuple(range(len(stage.replicated)))
        assert sum(stage.filters_per_group) == stage.out_channels
        assert max(stage.filters_per_group) - min(stage.filters_per_group) <= 1
        assert stage.groups <= stage.out_channels
    if not v2.is_dense:
        assert v2.k.groups == min(math.ceil(ic / ch), fc)
        assert (v2.l is not None) == (ic >= fc)
        if v2.l is not None and not v2.l.is_dense:
            assert v2.l.weights == ch * fc
        expected_k = (ch if v2.k.groups * ch >= ic else math.ceil(ic / v2.k.groups)) * fc
        assert v2.k.weights == expected_k


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_parameter_formula(scheme):
    p = plan_pointwise(240, 40, 16, scheme)
    assert p.parameters() == p.weights
    assert p.parameters(batch_norm=True) == p.weights + 2 * 2 * 40
    assert p.parameters(bias=True) == p.weights + 2 * 40
    e = plan_pointwise(40, 240, 16, scheme)
    assert e.parameters(batch_norm=True, bias=True) == e.weights + 3 * 240


@pytest.mark.parametrize("ch,scheme,total", [(16, "v2", 372_224), (32, "v2", 699_648), (16, "dense", 3_773_312)])
def test_b0_pointwise_weight_sums(ch, scheme, total):
    shapes = b0_pointwise_shapes()
    if scheme == "dense":
        assert sum(s.in_channels * s.out_channels for s in shapes) == total
    else:
        assert sum(plan_pointwise(s.in_channels, s.out_channels, ch, scheme).weights for s in shapes) == total


def test_connectivity_by_hand_for_expansion():
    p = plan_pointwise(40, 240, 16)
    conn = p.connectivity()
    assert conn[0] == tuple(range(16))
    assert conn[80] == tuple(range(16, 32))
    assert conn[239] == tuple(range(8)) + tuple(range(32, 40))


def test_dense_reason_is_explained():
    assert "16 > 32 is false" in plan_pointwise(16, 96, 16).describe()
    assert "no common divisor" in plan_pointwise(24, 144, 16, "v1").describe()


@pytest.mark.parametrize("kwargs,exc,needle", [
    (dict(in_channels=0), ValueError, "in_channels"),
    (dict(in_channels=-3), ValueError, "in_channels"),
    (dict(out_channels=2.0), TypeError, "out_channels"),
    (dict(out_channels=True), TypeError, "out_channels"),
    (dict(channels_per_group="16"), TypeError, "channels_per_group"),
    (dict(channels_per_group=0), ValueError, "channels_per_group"),
    (dict(scheme="v3"), ValueError, "scheme"),
    (dict(scheme=None), ValueError, "scheme"),
])
def test_bad_input_names_the_argument(kwargs, exc, needle):
    args = dict(in_channels=240, out_channels=40, channels_per_group=16, scheme="v2") | kwargs
    with pytest.raises(exc, match=needle) as info:
        plan_pointwise(**args)
    assert repr(kwargs[next(iter(kwargs))]) in str(info.value)
