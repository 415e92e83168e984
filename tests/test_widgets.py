"""Widgets in plain pytest (no kernel): change a slider, check the interactive's result."""

import ipywidgets as widgets
import pytest
from matplotlib.figure import Figure

from igpw_viz.core.architecture import b0_pointwise_shapes
from igpw_viz.core.plan import plan_pointwise
from igpw_viz.viz.tradeoff import draw_tradeoff, network_mixing, tradeoff_channels
from igpw_viz.viz.widgets import (
    MAX_CHANNELS_PER_GROUP,
    MAX_LAYER_CHANNELS,
    explore_layer,
    explore_network,
    figure_png,
    layer_headline,
)


def test_explore_layer_controls():
    w = explore_layer()
    assert isinstance(w, widgets.interactive)
    intro, ic, fc, ch, scheme = w.children[:5]
    assert isinstance(intro, widgets.HTML)
    for word in ("Ic", "Fc", "Ch", "scheme", "channels per group", "mixing", "group view"):
        assert word in intro.value
    assert list(w.kwargs_widgets) == [ic, fc, ch, scheme]
    for slider in (ic, fc, ch):
        assert isinstance(slider, widgets.IntSlider)
        assert slider.continuous_update is False and slider.min >= 1
    assert ic.max == fc.max == MAX_LAYER_CHANNELS and ch.max == MAX_CHANNELS_PER_GROUP
    assert isinstance(scheme, widgets.ToggleButtons) and set(scheme.options) == {("V2", "v2"), ("V1", "v1")}
    assert isinstance(w.children[-1], widgets.Output)


def test_explore_layer_updates_on_change():
    w = explore_layer(40, 24, 16, "v2")
    ic, fc, ch, scheme = w.kwargs_widgets
    fig, text, tradeoff = w.result
    assert isinstance(fig, Figure) and "40 -> 24" in text and "768 instead of 960" in text
    assert text.startswith("20.0% of weights saved; each output reads 24-40 of 40 inputs (60-100%)\n")
    assert isinstance(tradeoff, Figure)
    ic.value, fc.value = 240, 40
    fig, text, tradeoff = w.result
    assert "240 -> 40" in text and "1,280 instead of 9,600" in text
    assert text.startswith("86.7% of weights saved; each output reads 192-240 of 240 inputs (80-100%)")
    assert "K 15 groups" in fig.axes[0].get_title() and "group view" in fig.axes[0].get_title()
    assert "Ch = 16" in tradeoff.axes[0].get_title() and "86.7%" in tradeoff.axes[0].get_title()
    ch.value = 1
    _, text, _ = w.result
    assert text.startswith("97.1% of weights saved; each output reads 6 of 240 inputs (2.5%)")
    scheme.value = "v1"
    _, text, _ = w.result
    assert "V1 plan" in text and "only the 6 inputs of its K group" in text  # V1 also has G = 40 here
    ch.value = 16
    _, text, _ = w.result
    assert "1,120 instead of 9,600" in text and "96-120 of 240 inputs" in text


def test_layer_headline():
    assert layer_headline(1280, 1280, 1) == "99.8% of weights saved; each output reads 1 of 1280 inputs (0.078%)"
    assert layer_headline(40, 40, 64) == "0.0% of weights saved; each output reads all 40 inputs (100%)"


def test_explore_layer_extremes_give_valid_plans():
    w = explore_layer()
    ic, fc, ch, _ = w.kwargs_widgets
    extremes = [(1, 1, 1), (MAX_LAYER_CHANNELS, 1, 1), (1, MAX_LAYER_CHANNELS, MAX_CHANNELS_PER_GROUP)]
    for i, f, c in extremes:
        ic.value, fc.value, ch.value = i, f, c
        assert f"{i} -> {f}" in w.result[1]
    # a slider cannot leave its bounds: ipywidgets clamps
    ch.value = 0
    assert ch.value == 1


def test_explore_network_updates_on_change():
    w = explore_network(16, "v2")
    assert isinstance(w.children[0], widgets.HTML) and "Ch" in w.children[0].value
    ch, scheme = w.kwargs_widgets
    assert ch.continuous_update is False and ch.min == 2 and ch.max == 64
    fig, totals, mixing = w.result
    assert totals["parameters"] == 623_226 and mixing == network_mixing(16, "v2")
    ch.value = 32
    assert w.result[1]["parameters"] == 950_650 and w.result[2].channels_per_group == 32
    scheme.value = "v1"
    fig, totals, mixing = w.result
    assert totals["parameters"] == 1_059_202 and "1,059,202" in fig._suptitle.get_text()
    assert mixing.scheme == "v1"


@pytest.mark.parametrize("ch,scheme", [(2, "v2"), (16, "v2"), (16, "v1"), (64, "v2")])
def test_network_mixing_is_the_least_mixing_layer(ch, scheme):
    nm = network_mixing(ch, scheme)
    mixings = [plan_pointwise(s.in_channels, s.out_channels, ch, scheme).mixing() for s in b0_pointwise_shapes()]
    assert nm.layers == len(mixings) and nm.full_layers == sum(m.is_full for m in mixings)
    assert nm.least_fraction == min(m.min_fraction for m in mixings)
    assert f"{nm.least_min_inputs} of {nm.least_in_channels} inputs" in str(nm)


def _line(ax, gid):
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    return line


@pytest.mark.parametrize("ic,fc,scheme,current", [(240, 40, "v2", 16), (40, 240, "v1", 8), (1280, 1280, "v2", 1),
                                                  (96, 4, "v2", None), (1, 1, "v2", 1)])
def test_tradeoff_plots_the_plans_numbers(ic, fc, scheme, current):
    ax = draw_tradeoff(ic, fc, scheme, current=current)
    chs = [int(c) for c in _line(ax, "saved").get_xdata()]
    assert chs == list(tradeoff_channels(ic, fc, scheme))
    plans = [plan_pointwise(ic, fc, c, scheme) for c in chs]
    assert list(_line(ax, "saved").get_ydata()) == pytest.approx([100 * p.savings for p in plans])
    assert list(_line(ax, "reads_min").get_ydata()) == pytest.approx(
        [100 * p.mixing().min_inputs / ic for p in plans])
    assert list(_line(ax, "reads_max").get_ydata()) == pytest.approx(
        [100 * p.mixing().max_inputs / ic for p in plans])
    markers = [c for c in ax.collections if c.get_gid() == "current"]
    if current is None:
        assert not markers
    else:
        plan = plan_pointwise(ic, fc, current, scheme)
        xs, ys = zip(*markers[0].get_offsets(), strict=True)
        assert set(xs) == {current}
        assert list(ys) == pytest.approx([100 * plan.savings, 100 * plan.mixing().min_fraction,
                                          100 * plan.mixing().max_fraction])


def test_tradeoff_channels_include_powers_of_two_and_shape_changes():
    chs = tradeoff_channels(240, 40, "v2")
    assert {1, 2, 4, 8, 16, 32, 64, 128} <= set(chs) and max(chs) <= 240
    # V2 stops grouping 240 -> 40 at Ch = 120 (Ic > 2*Ch fails): that change is a point of its own
    assert 120 in chs and plan_pointwise(240, 40, 120).is_dense and not plan_pointwise(240, 40, 119).is_dense


def test_tradeoff_draws_on_a_given_axes_and_takes_channels():
    ax = Figure().add_subplot()
    assert draw_tradeoff(240, 40, channels=[4, 8, 16], ax=ax, current=8) is ax
    assert list(_line(ax, "saved").get_xdata()) == [4, 8, 16]
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_legend().get_texts(), *ax.get_xticklabels()]
    assert min(t.get_fontsize() for t in texts) >= 10


def test_figure_png():
    fig, _, tradeoff = explore_layer().result
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n" and figure_png(tradeoff)[:8] == b"\x89PNG\r\n\x1a\n"
