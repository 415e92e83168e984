"""Every published count of the spec, exactly: parameters, analytic MACs, pointwise weights, the table."""

from __future__ import annotations

import pytest

from igpw_viz.core.architecture import b0_pointwise_shapes
from igpw_viz.core.plan import plan_pointwise
from igpw_viz.nn.counting import count_macs, count_parameters, format_pointwise_table, pointwise_table
from igpw_viz.nn.models import efficientnet_b0, keffnet_b0


@pytest.mark.parametrize(("classes", "expected"), [(1000, 5_288_548), (10, 4_020_358), (8, 4_017_796),
                                                   (2, 4_010_110)])
def test_baseline_parameters(classes, expected):
    assert count_parameters(efficientnet_b0(classes)) == expected


@pytest.mark.parametrize(("scheme", "ch", "expected"), [("v1", 16, 639_702), ("v2", 16, 623_226),
                                                        ("v1", 32, 1_059_202), ("v2", 32, 950_650)])
def test_keffnet_parameters(scheme, ch, expected):
    assert count_parameters(keffnet_b0(10, ch, scheme, skip_strides=3)) == expected


def test_dense_skeleton_has_the_baseline_count():
    assert count_parameters(keffnet_b0(10, scheme="dense", skip_strides=3)) == 4_020_358


@pytest.mark.parametrize(("build", "size", "expected"), [
    (lambda: efficientnet_b0(10), 224, 384_547_552),
    (lambda: keffnet_b0(10, 16, "v2", skip_strides=3), 32, 79_124_080),
    (lambda: keffnet_b0(10, 32, "v2", skip_strides=3), 32, 119_528_816),
    (lambda: keffnet_b0(10, scheme="dense"), 224, 384_547_552),  # same strides, same MACs
])
def test_analytic_macs(build, size, expected):
    assert count_macs(build(), size) == expected


@pytest.mark.parametrize(("build", "expected"), [
    (lambda: efficientnet_b0(10), 3_773_312),
    (lambda: keffnet_b0(10, 16, "v2", skip_strides=3), 372_224),
    (lambda: keffnet_b0(10, 32, "v2", skip_strides=3), 699_648),
])
def test_pointwise_weight_sums(build, expected):
    assert sum(r.weights for r in pointwise_table(build(), 32)) == expected


def test_table_rows_follow_the_architecture_and_the_plans():
    rows = pointwise_table(keffnet_b0(10, 16, "v2", skip_strides=3), 32)
    shapes = b0_pointwise_shapes()
    assert [(r.block, r.role, r.in_channels, r.out_channels) for r in rows] == [
        (s.block, s.role, s.in_channels, s.out_channels) for s in shapes]
    for r, s in zip(rows, shapes, strict=True):
        plan = plan_pointwise(s.in_channels, s.out_channels, 16, "v2")
        assert r.parameters == plan.parameters(s.batch_norm, s.bias)
        assert r.dense_parameters == plan.dense_parameters(s.batch_norm, s.bias)
        assert r.grouped == (not plan.is_dense) and r.k_groups == plan.k.groups
        assert r.macs == plan.macs_per_pixel * r.height * r.width
        assert (r.height, r.width) == ((1, 1) if r.role.startswith("se") else (r.height, r.width))
    by_name = {(r.block, r.role): r for r in rows}
    r = by_name[("3b", "project")]  # 240 -> 40, the spec's worked example: K 15 groups, L 3 groups
    assert (r.weights, r.k_groups, r.l_groups, r.replicated, r.height) == (1_280, 15, 3, 8, 31)
    assert by_name[("6a", "project")].height == 8 and by_name[("4a", "project")].height == 16


def test_table_of_the_baseline_is_dense_and_formats():
    rows = pointwise_table(efficientnet_b0(10), 224)
    assert len(rows) == 64 and not any(r.grouped for r in rows)
    assert all(r.parameters == r.dense_parameters and r.macs == r.dense_macs for r in rows)
    assert rows[-1].block == "head" and (rows[-1].height, rows[-1].width) == (7, 7)
    text = format_pointwise_table(rows)
    assert "head" in text and "3,773,312" not in text and len(text.splitlines()) == 64 + 4
    assert set(rows[0].as_dict()) >= {"block", "role", "in_channels", "out_channels", "grouped", "k_groups",
                                      "l_groups", "replicated", "parameters", "dense_parameters", "macs",
                                      "dense_macs"}


def test_rectangular_image_size():
    m = efficientnet_b0(10)
    assert count_macs(m, (224, 224)) == count_macs(m, 224)
    assert count_macs(m, (64, 32)) == count_macs(m, (32, 64))
