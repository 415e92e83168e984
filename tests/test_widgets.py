"""Widgets in plain pytest (no kernel): change a slider, check the interactive's result."""

import ipywidgets as widgets
from matplotlib.figure import Figure

from igpw_viz.viz.widgets import (
    MAX_CHANNELS_PER_GROUP,
    MAX_LAYER_CHANNELS,
    explore_layer,
    explore_network,
    figure_png,
)


def test_explore_layer_controls():
    w = explore_layer()
    assert isinstance(w, widgets.interactive)
    ic, fc, ch, scheme = w.children[:4]
    for slider in (ic, fc, ch):
        assert isinstance(slider, widgets.IntSlider)
        assert slider.continuous_update is False and slider.min >= 1
    assert ic.max == fc.max == MAX_LAYER_CHANNELS and ch.max == MAX_CHANNELS_PER_GROUP
    assert isinstance(scheme, widgets.ToggleButtons) and set(scheme.options) == {("V2", "v2"), ("V1", "v1")}
    assert isinstance(w.children[-1], widgets.Output)


def test_explore_layer_updates_on_change():
    w = explore_layer(40, 24, 16, "v2")
    fig, text = w.result
    assert isinstance(fig, Figure) and "40 -> 24" in text and "768 instead of 960" in text
    w.children[0].value = 240
    w.children[1].value = 40
    fig, text = w.result
    assert "240 -> 40" in text and "1,280 instead of 9,600" in text
    assert "K 15 groups" in fig.axes[0].get_title() and "group view" in fig.axes[0].get_title()
    w.children[3].value = "v1"
    _, text = w.result
    assert text.startswith("V1 plan") and "1,120 instead of 9,600" in text


def test_explore_layer_extremes_give_valid_plans():
    w = explore_layer()
    extremes = [(1, 1, 1), (MAX_LAYER_CHANNELS, 1, 1), (1, MAX_LAYER_CHANNELS, MAX_CHANNELS_PER_GROUP)]
    for ic, fc, ch in extremes:
        w.children[0].value, w.children[1].value, w.children[2].value = ic, fc, ch
        assert f"{ic} -> {fc}" in w.result[1]
    # a slider cannot leave its bounds: ipywidgets clamps
    w.children[2].value = 0
    assert w.children[2].value == 1


def test_explore_network_updates_on_change():
    w = explore_network(16, "v2")
    ch, scheme = w.children[:2]
    assert ch.continuous_update is False and ch.min == 2 and ch.max == 64
    fig, totals = w.result
    assert totals["parameters"] == 623_226
    ch.value = 32
    assert w.result[1]["parameters"] == 950_650
    scheme.value = "v1"
    fig, totals = w.result
    assert totals["parameters"] == 1_059_202 and "1,059,202" in fig._suptitle.get_text()


def test_figure_png():
    fig, _ = explore_layer().result
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
