"""Artist-level checks of the drawings: edges drawn = graph edges, copies styled apart, titles right."""

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure

from igpw_viz.core.paper import PUBLISHED_PARAMETERS as PUBLISHED
from igpw_viz.core.plan import plan_pointwise
from igpw_viz.viz.connectivity import dependency_matrices, draw_connectivity, draw_v1_vs_v2, layer_report
from igpw_viz.viz.graph import group_graph, wiring_graph
from igpw_viz.viz.network import (
    draw_network_layers,
    draw_network_totals,
    layer_counts,
    model_parameters,
    network_report,
    non_pointwise_parameters,
    pointwise_weights,
)
from igpw_viz.viz.samples import draw_samples
from igpw_viz.viz.summary import HEAD, TAIL, summary_graph
from igpw_viz.viz.wiring import CHANNEL_LIMIT, MAX_CHANNELS, draw_wiring, wiring_positions


def _edge_collections(ax):
    return {c.get_gid().split(":", 1)[1]: c for c in ax.collections
            if isinstance(c, LineCollection) and (c.get_gid() or "").startswith("edges:")}


def _nodes(ax, layer):
    return [c for c in ax.collections if isinstance(c, PathCollection) and c.get_gid() == f"nodes:{layer}"]


def _edge_counts(graph):
    counts = {}
    for _, _, kind in graph.edges(data="kind"):
        counts[kind] = counts.get(kind, 0) + 1
    return counts


@pytest.mark.parametrize("shape", [(60, 20, 8, "v2"), (40, 24, 16, "v2"), (48, 24, 8, "v1"),
                                   (40, 60, 16, "v2"), (24, 40, 4, "v1"), (8, 8, 16, "v2"), (1, 1, 1, "v2")])
def test_channel_level_edges_equal_graph_edges(shape):
    plan = plan_pointwise(*shape)
    ax = draw_wiring(plan)
    assert "group view" not in ax.get_title()
    drawn = {kind: len(c.get_segments()) for kind, c in _edge_collections(ax).items()}
    assert drawn == _edge_counts(wiring_graph(plan))
    assert not plt_state_used()


def plt_state_used():
    """No pyplot figure was created (drawings must not touch pyplot state)."""
    import sys
    if "matplotlib.pyplot" not in sys.modules:
        return False
    return bool(sys.modules["matplotlib.pyplot"].get_fignums())


def test_group_level_edges_equal_group_graph_edges():
    plan = plan_pointwise(1152, 320, 16, "v2")
    ax = draw_wiring(plan, level="group")
    assert "group view" in ax.get_title()
    drawn = {kind: len(c.get_segments()) for kind, c in _edge_collections(ax).items()}
    assert drawn == _edge_counts(group_graph(plan))


@pytest.mark.parametrize("shape", [(1152, 320, 8, "v2"), (1152, 320, 8, "v1"), (1280, 1280, 16, "v2"),
                                   (1280, 1280, 16, "v1")])
def test_wide_layers_get_the_summary(shape):
    """Past MAX_GROUPS groups "auto" draws the summary: boxes for the first and last groups, the group
    graph's edges added up between them (channels carried are kept), the group counts in the headers."""
    plan = plan_pointwise(*shape)
    ax = draw_wiring(plan)
    assert "summary" in ax.get_title()
    rows, edges = summary_graph(plan)
    graph = group_graph(plan)
    for kind in ("mix", "l_out", "k_out"):  # every channel carried is counted once
        assert sum(w for (k, _, _), w in edges.items() if k == kind) == \
            sum(d["weight"] for _, _, d in graph.edges(data=True) if d["kind"] == kind)
    drawn = {kind: len(c.get_segments()) for kind, c in _edge_collections(ax).items()}
    assert drawn == {k: sum(1 for (kk, _, _) in edges if kk == k) for k in {k for k, _, _ in edges}}
    texts = [t.get_text() for t in ax.texts]
    assert f"K: {plan.k.groups} groups\nof {plan.k.inputs_per_group} in" in texts
    assert any(t.startswith(f"K{plan.k.groups - 1}:") for t in texts)  # the last group is shown
    hidden = plan.k.groups - (HEAD + TAIL)
    assert f"\u22ee {hidden} more" in texts and rows["k_group"][1] == plan.k.groups


def test_replicated_nodes_are_styled_as_copies():
    plan = plan_pointwise(40, 24, 16, "v2")  # K copies channels 0-7, L copies interleaved 0-7
    ax = draw_wiring(plan)
    (inputs,) = _nodes(ax, "input")
    (copies,) = _nodes(ax, "k_replica")
    (l_copies,) = _nodes(ax, "l_replica")
    assert len(copies.get_offsets()) == 8 and len(l_copies.get_offsets()) == 8
    white = matplotlib.colors.to_rgba("white")
    assert all(tuple(fc) == white for fc in copies.get_facecolors())  # hollow
    assert all(tuple(fc) != white for fc in inputs.get_facecolors())
    # a copy's outline has its source's colour; copy edges are dashed
    src_colors = inputs.get_facecolors()[:8]
    assert np.allclose(copies.get_edgecolors()[:, :3], src_colors[:, :3])
    copy_edges = _edge_collections(ax)["copy"]
    assert copy_edges.get_linestyle()[0][1] is not None  # a dash pattern
    # each '=source' label sits at a copy and names the channel it copies (labels are thinned when rows
    # are dense: at least every other copy is labelled)
    pos = wiring_positions(plan)
    at = {xy: n for n, xy in pos.items()}
    labelled = [(at[tuple(t.xy)], t.get_text()) for t in ax.texts if t.get_text().startswith("=")]
    k_labels = [(n[1], text) for n, text in labelled if n[0] == "k_replica"]
    assert len(k_labels) >= 4
    assert all(text == f"={plan.k.sources[e]}" for e, text in k_labels)


def test_extra_filters_are_marked():
    plan = plan_pointwise(60, 20, 8, "v2")  # K: 20 = 8*2 + 4, L: 20 = 3*6 + 2
    ax = draw_wiring(plan)
    (k_extra,) = _nodes(ax, "k_filter:extra")
    (l_extra,) = _nodes(ax, "l_filter:extra")
    assert len(k_extra.get_offsets()) == plan.k.uneven_groups == 4
    assert len(l_extra.get_offsets()) == plan.l.uneven_groups == 2
    (k_groups_extra,) = _nodes(ax, "k_group:extra")
    assert len(k_groups_extra.get_offsets()) == 4
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("extra filter" in t for t in legend) and any("replicated" in t for t in legend)
    assert any("interleave (step 2)" in t for t in legend)


@pytest.mark.parametrize("shape, expected", [
    ((240, 40, 16, "v2"), ["240", "40", "Ch = 16", "K 15 groups", "L 3 groups", "86.7% saved", "1,280"]),
    ((60, 20, 8, "v2"), ["60", "20", "Ch = 8", "K 8 groups", "L 3 groups", "73.3% saved"]),
    ((16, 96, 16, "v2"), ["16", "96", "stays dense", "1 group"]),
    ((48, 24, 8, "v1"), ["V1", "K 6 groups", "L 6 groups", "75.0% saved"]),
])
def test_titles_carry_the_numbers(shape, expected):
    title = draw_wiring(plan_pointwise(*shape)).get_title()
    for part in expected:
        assert part in title, (part, title)


def test_interleave_is_drawn_as_crossings():
    plan = plan_pointwise(60, 20, 8, "v2")
    ax = draw_wiring(plan)
    segs = _edge_collections(ax)["interleave"].get_segments()
    assert len(segs) == 20
    slopes = [s[1][1] - s[0][1] for s in segs]
    assert sum(abs(d) > 1e-9 for d in slopes) >= 18  # only the first and last channel stay in place


def test_positions_are_deterministic_and_ordered():
    plan = plan_pointwise(40, 24, 16, "v2")
    pos = wiring_positions(plan)
    assert pos == wiring_positions(plan)
    ys = [pos[("input", i)][1] for i in range(40)] + [pos[("k_replica", e)][1] for e in range(40, 48)]
    assert ys == sorted(ys, reverse=True)  # channel 0 at the top, copies below the originals


def test_auto_switch_and_limits():
    big = plan_pointwise(240, 40, 16, "v2")
    assert "group view: 240 channels > 64" in draw_wiring(big).get_title()
    assert "group view" not in draw_wiring(big, level="channel").get_title()
    huge = plan_pointwise(1280, 1280, 1, "v2")
    title = draw_wiring(huge, level="channel").get_title()
    assert f"> {CHANNEL_LIMIT}" in title
    small = plan_pointwise(MAX_CHANNELS, 16, 16, "v2")
    assert "group view" not in draw_wiring(small).get_title()
    assert "group view" in draw_wiring(small, level="group").get_title()


def test_given_axes_are_used_and_returned():
    fig = Figure()
    ax = fig.add_subplot()
    assert draw_wiring(plan_pointwise(40, 24, 16), ax=ax) is ax
    fig2 = Figure()
    axes = fig2.subplots(1, 3)
    assert draw_connectivity(plan_pointwise(40, 24, 16), ax=axes) is fig2


def test_bad_input():
    with pytest.raises(TypeError, match="PointwisePlan"):
        draw_wiring((40, 24, 16))
    with pytest.raises(ValueError, match="level"):
        draw_wiring(plan_pointwise(40, 24, 16), level="pixel")
    with pytest.raises(ValueError, match="out_channels"):
        layer_report(40, 0, 16)
    with pytest.raises(ValueError, match="scheme"):
        layer_report(40, 24, 16, "v3")


@pytest.mark.parametrize("shape", [(1152, 320, 16, "v2"), (40, 240, 16, "v1"), (240, 40, 16, "v2"),
                                   (16, 96, 16, "v2")])
def test_connectivity_matrices(shape):
    plan = plan_pointwise(*shape)
    mats = dependency_matrices(plan)
    block = mats["block"]
    assert block.shape == (plan.out_channels, plan.in_channels)
    assert [tuple(np.flatnonzero(r)) for r in block] == list(plan.connectivity())
    assert mats["K"].sum() == sum(len(set(plan.k.group_inputs(g))) * plan.k.filters_per_group[g]
                                  for g in range(plan.k.groups))
    fig = draw_connectivity(plan)
    assert len(fig.axes) == len(mats) == (3 if plan.l is not None else 2)
    assert all(len(a.images) == 1 for a in fig.axes)
    assert str(plan.in_channels) in fig._suptitle.get_text()


def test_v1_vs_v2_side_by_side():
    fig = draw_v1_vs_v2(24, 144, 16)
    titles = [a.get_title() for a in fig.axes]
    assert titles[0].startswith("V1") and "stays dense" in titles[0]
    assert titles[1].startswith("V2") and "K 2 groups" in titles[1]


@pytest.mark.parametrize("ic,fc", [(240, 40), (1152, 320)])
def test_v1_vs_v2_figure_size_follows_the_content(ic, fc):
    """Group views side by side: no 20 x 16 inch mostly blank figure; the height follows the groups."""
    fig = draw_v1_vs_v2(ic, fc, 16)
    w, h = fig.get_size_inches()
    assert w <= 16 and h <= 16
    assert all("group view" in a.get_title() or "summary" in a.get_title() for a in fig.axes[:2])
    if (ic, fc) == (240, 40):  # at most 15 groups a side: far below the 16 inch cap
        assert h < 8


def test_network_counts_reproduce_the_paper():
    assert pointwise_weights(16, "dense") == 3_773_312
    assert pointwise_weights(16, "v2") == 372_224
    assert pointwise_weights(32, "v2") == 699_648
    for (scheme, ch), count in PUBLISHED.items():
        assert model_parameters(ch or 16, scheme) == count, (scheme, ch)
    assert non_pointwise_parameters(10) + sum(r.dense for r in layer_counts(16)) == 4_020_358


def test_network_charts():
    ax = draw_network_layers(16)
    rows = layer_counts(16)
    for sc in ("dense", "v1", "v2"):  # horizontal bars, network order over the panels
        bars = [p for a in ax.figure.axes for p in a.patches if p.get_gid() == f"bars:{sc}"]
        assert [int(round(b.get_width())) for b in bars] == [getattr(r, sc) for r in rows]
    labels = [t.get_text() for a in ax.figure.axes for t in a.get_yticklabels()]
    assert labels == [r.label for r in rows]
    ax = draw_network_totals(current=16, scheme="v2")
    (published,) = [c for c in ax.collections if c.get_gid() == "published"]
    pts = {tuple(map(int, xy)) for xy in published.get_offsets()}
    assert pts == {(ch, n) for (sc, ch), n in PUBLISHED.items() if ch is not None}
    (v2,) = [ln for ln in ax.lines if ln.get_gid() == "line:v2"]
    assert int(v2.get_ydata()[list(v2.get_xdata()).index(32)]) == 950_650


def test_network_report():
    fig, totals = network_report(32, "v1")
    assert totals["parameters"] == 1_059_202 and totals["baseline_parameters"] == 4_020_358
    assert "1,059,202" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="scheme"):
        network_report(16, "dense")


def test_layer_report_text_and_figure():
    fig, text = layer_report(240, 40, 16, "v2")
    assert isinstance(fig, Figure)
    assert "Weights: 1,280 instead of 9,600" in text
    assert "K 15 groups" in fig.axes[0].get_title()


def test_draw_samples_one_titled_column_per_class():
    import torch

    labels = np.array([0, 1, 0, 2, 0, 1, 0, 0])  # class 3 has no image, class 0 more than per_class
    images = np.random.default_rng(0).integers(0, 256, (8, 3, 6, 5), dtype=np.uint8)
    classes = ["cat", "dog", "ship", "none"]
    for imgs, labs in ((images, labels), (torch.from_numpy(images), torch.from_numpy(labels))):
        fig = draw_samples(imgs, labs, classes, per_class=3)
        assert isinstance(fig, Figure) and len(fig.axes) == 3 * 4
        drawn = [a for a in fig.axes if a.images]
        assert len(drawn) == 3 + 2 + 1 + 0
        assert [a.get_title() for a in fig.axes[:4]] == classes  # the top row, one column per class
        assert all(not a.get_title() for a in fig.axes[4:])
        first_of_dog = fig.axes[1].images[0].get_array()
        assert first_of_dog.shape == (6, 5, 3) and np.array_equal(first_of_dog, images[1].transpose(1, 2, 0))
        w, h = fig.get_size_inches()
        assert w <= 14 and h <= 6
    with pytest.raises(ValueError):
        draw_samples(images[:, 0], labels, classes)
    with pytest.raises(ValueError):
        draw_samples(images, labels[:3], classes)
