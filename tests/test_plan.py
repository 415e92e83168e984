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


# ----------------------------------------------------------------------------------------------- mixing
# The oracle rebuilds the block from the rules of docs/algorithm.md alone (not from the plan's tables):
# 0/1 matrices for K, the interleave P and L, composed as block = [L P K + K > 0] (or P K, or K).
def _compose(a, b):
    """Boolean matrix product of two 0/1 matrices stored as one set of column indices per row."""
    return [set().union(*(b[j] for j in row)) for row in a]


def _grouped_oracle(ic, fc, groups, width):
    """A grouped conv: extended input (copies of the first channels appended), group g reads positions
    [g*width, (g+1)*width); the filter split and output order of the reference (path 1, then path 2)."""
    extended = list(range(ic)) + list(range(groups * width - ic))
    reads = [set(extended[g * width:(g + 1) * width]) for g in range(groups)]
    base, extra = divmod(fc, groups)
    return [reads[g] for g in range(groups) for _ in range(base)] + [reads[g] for g in range(extra)]


def _v2_stage_oracle(ic, fc, ch):
    groups = min(math.ceil(ic / ch), fc)
    if groups == 1:
        return [set(range(ic))] * fc, 1
    return _grouped_oracle(ic, fc, groups, ch if groups * ch >= ic else math.ceil(ic / groups)), groups


def _interleave_oracle(fc, step):
    order = [i for t in range(step) for i in range(t, fc, step)]
    return [{order[j]} for j in range(fc)]  # row j of P: the interleaved position j reads k[order[j]]


def _block_oracle(ic, fc, ch, scheme):
    """For each block output, the set of inputs it depends on, by composing K, P and L."""
    dense = [set(range(ic))] * fc
    if scheme == "dense":
        return dense
    if scheme == "v2":
        if not (ic > 2 * ch or (fc > ic and ic > ch)):
            return dense
        k, groups = _v2_stage_oracle(ic, fc, ch)
        if groups == 1 or ic < fc:
            return k
        step = fc // ch
        p = _interleave_oracle(fc, step) if step >= 2 else [{j} for j in range(fc)]
        l, _ = _v2_stage_oracle(fc, fc, ch)
    else:
        groups = _v1_groups_oracle(ic, fc, ch)
        if groups == 1:
            return dense
        k = _grouped_oracle(ic, fc, groups, ic // groups)
        step = fc // groups
        p = _interleave_oracle(fc, step) if step > 1 else [{j} for j in range(fc)]
        if ic < fc:
            return _compose(p, k)
        l = _grouped_oracle(fc, fc, groups, fc // groups)
    lpk = _compose(_compose(l, p), k)
    return [a | b for a, b in zip(lpk, k, strict=True)]


def _oracle_mixing(ic, fc, ch, scheme):
    counts = [len(s) for s in _block_oracle(ic, fc, ch, scheme)]
    return min(counts), max(counts), sum(n == ic for n in counts)


def _small_shapes(n, seed=1):
    rng = random.Random(seed)
    return [(rng.randint(1, 70), rng.randint(1, 70), rng.choice([1, 2, 3, 4, 5, 8, 16]),
             rng.choice(["v1", "v2", "v2", "dense"])) for _ in range(n)]


@pytest.mark.parametrize("ic,fc,ch,scheme", _small_shapes(200))
def test_connectivity_and_mixing_match_the_composed_matrices(ic, fc, ch, scheme):
    plan = plan_pointwise(ic, fc, ch, scheme)
    oracle = _block_oracle(ic, fc, ch, scheme)
    assert [set(deps) for deps in plan.connectivity()] == oracle
    m = plan.mixing()
    assert (m.min_inputs, m.max_inputs, m.full_outputs) == _oracle_mixing(ic, fc, ch, scheme)
    assert (m.in_channels, m.out_channels) == (ic, fc)
    assert m.is_full == (m.min_inputs == ic) and (m.full_fraction == 1) == m.is_full


@pytest.mark.parametrize("ic,fc,ch,scheme,reads", [
    (240, 40, 1, "v2", (6, 6)),           # K capped at 40 groups of 6; L one channel wide
    (1280, 1280, 1, "v2", (1, 1)),        # every group one channel wide: nothing is mixed
    (240, 40, 16, "v2", (192, 240)),      # L's groups reach 12-15 of K's 15 groups
    (40, 240, 16, "v2", (16, 16)),        # an expansion: K alone
    (96, 4, 16, "v2", (96, 96)),          # dense L joins K's groups again
    (240, 40, 16, "v1", (96, 120)),       # V1: L (4 wide) reaches 4-5 of K's 10 groups
])
def test_mixing_of_the_teaching_cases(ic, fc, ch, scheme, reads):
    assert _oracle_mixing(ic, fc, ch, scheme)[:2] == reads  # the oracle first, then the plan
    m = plan_pointwise(ic, fc, ch, scheme).mixing()
    assert (m.min_inputs, m.max_inputs) == reads
    assert m.min_fraction == reads[0] / ic and m.max_fraction == reads[1] / ic


def test_mixing_text_and_cache():
    p = plan_pointwise(240, 40, 16)
    assert p.mixing() is p.mixing()  # computed once per plan
    assert str(p.mixing()) == "each output reads 192-240 of 240 inputs (80-100%)"
    assert p.mixing().full_outputs == 14
    assert str(plan_pointwise(240, 40, 1).mixing()) == "each output reads 6 of 240 inputs (2.5%)"
    assert str(plan_pointwise(1280, 1280, 1).mixing()) == "each output reads 1 of 1280 inputs (0.078%)"
    assert str(plan_pointwise(96, 4, 16).mixing()) == "each output reads all 96 inputs (100%)"
    with pytest.raises(AttributeError):
        p.mixing().min_inputs = 3  # frozen


def test_describe_puts_mixing_next_to_savings():
    text = plan_pointwise(240, 40, 16).describe()
    assert "Weights: 1,280 instead of 9,600 (86.7% saved).\nMixing: each output reads 192-240 of 240" in text
    assert "14 of 40 outputs read every input" in text
    assert "Mixing: each output reads 16 of 40 inputs (40%)" in plan_pointwise(40, 240, 16).describe()


def test_describe_explains_degenerate_settings():
    ch1 = plan_pointwise(240, 40, 1).describe()
    assert "Ch = 1 channel per group" in ch1 and "1 channels" not in ch1
    assert "40 groups of 6 channels" in ch1 and "L: 40 groups of 1 channel " in ch1
    assert "step 40 on 40 channels" in ch1 and "moves nothing" in ch1
    assert "only the 6 inputs of its K group" in ch1 and "97.1%" in ch1
    one = plan_pointwise(1280, 1280, 1).describe()
    assert "each output reads 1 input and nothing is mixed" in one and "1280, 2560" not in one
    wide = plan_pointwise(40, 40, 64).describe()
    assert "Ch = 64 >= Ic = 40" in wide and "no grouping" in wide
    assert "Mixing: each output reads all 40 inputs (100%), as in the dense conv." in wide
    no_step = plan_pointwise(40, 24, 16).describe()  # Fc // Ch = 1: L exists, no interleave
    assert "Sum: output = L(K) + K." in no_step and "interleaved K" not in no_step
    assert "No interleave (Fc // Ch = 24 // 16 = 1 < 2)" in no_step
    assert "K's channels 0-7 are replicated" in no_step
    assert "group 0 gets 14 filters" in plan_pointwise(240, 40, 16).describe()
    assert "groups 0-1 get 13 filters" in plan_pointwise(300, 50, 16).describe()
    assert "0, 3, 6, ... then 1, 4, 7, ... and so on (3 runs)" in plan_pointwise(300, 50, 16).describe()
