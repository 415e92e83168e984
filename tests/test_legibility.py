"""Every drawing is legible at the size it is seen: each text at least 8 pt under the display model of
`igpw_viz.viz.style` (a PNG shown at its natural size, never wider than 800 CSS px: a text of F pt in a
figure W inches wide rendered at D dpi is seen at F * (D / 96) * min(1, 800 / (W * D)) pt), at 80 dpi (the
widgets) and 100 dpi (inline); no two texts of a figure overlap; no figure taller than 1,000 px at 100 dpi.

`CASES` lists every figure checked, one line each: add a new drawing function there."""

from __future__ import annotations

import importlib
import inspect
from contextlib import contextmanager

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from igpw_viz.core.plan import plan_pointwise
from igpw_viz.training import results
from igpw_viz.viz.connectivity import draw_connectivity, draw_v1_vs_v2, layer_report
from igpw_viz.viz.network import draw_network_layers, draw_network_totals, network_report
from igpw_viz.viz.samples import draw_samples
from igpw_viz.viz.style import DISPLAY_DPIS, MAX_HEIGHT_IN, MIN_EFFECTIVE_PT, effective_pt
from igpw_viz.viz.tradeoff import draw_tradeoff
from igpw_viz.viz.wiring import draw_wiring

matplotlib.use("Agg")

# B0's real shapes and the README's: (Ic, Fc, Ch)
SHAPES = [(1152, 320, 8), (1280, 1280, 16), (96, 4, 16), (40, 240, 16), (240, 40, 16), (36, 20, 8)]
LEVELS = ["auto", "channel", "group", "summary"]
TOL_PX = 1.0


def _runs(tmp):
    from test_results import fake_run

    fake_run(tmp / "r" / "baseline", "efficientnet_b0", "v2", 16, 4_020_358, 0.95, dataset="cifar10")
    fake_run(tmp / "r" / "v2-16", "keffnet_b0", "v2", 16, 623_226, 0.94, dataset="cifar10")
    fake_run(tmp / "r" / "v1-32", "keffnet_b0", "v1", 32, 1_059_202, 0.93, dataset="cifar10")
    return results.load_runs(tmp / "r")


def _samples():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 4)
    images = rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8)
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    return draw_samples(images, labels, classes)


# (name, factory(tmp_path) -> Figure | Axes | (Figure, ...)): one line per figure checked.
CASES = [(f"draw_wiring[{sc} {i}-{o} ch{c} {lv}]", lambda tmp, s=(i, o, c, sc), lv=lv:
          draw_wiring(plan_pointwise(*s), level=lv)) for i, o, c in SHAPES for sc in ("v1", "v2") for lv in LEVELS]
CASES += [(f"draw_connectivity[{sc} {i}-{o} ch{c}]", lambda tmp, s=(i, o, c, sc): draw_connectivity(plan_pointwise(*s)))
          for i, o, c in SHAPES for sc in ("v1", "v2")]
CASES += [
    ("draw_v1_vs_v2[40-240 ch16]", lambda tmp: draw_v1_vs_v2(40, 240, 16)),
    ("draw_v1_vs_v2[36-20 ch8]", lambda tmp: draw_v1_vs_v2(36, 20, 8)),
    ("draw_v1_vs_v2[24-144 ch16]", lambda tmp: draw_v1_vs_v2(24, 144, 16)),
    ("draw_v1_vs_v2[1152-320 ch8]", lambda tmp: draw_v1_vs_v2(1152, 320, 8)),
    ("draw_v1_vs_v2[40-240 ch16, notebook 14x5]",
     lambda tmp: draw_v1_vs_v2(40, 240, 16, fig=Figure(figsize=(14, 5), layout="constrained"))),
    ("layer_report[40-24 ch16]", lambda tmp: layer_report(40, 24, 16)),
    ("layer_report[240-40 ch16]", lambda tmp: layer_report(240, 40, 16)),
    ("layer_report[1280-1280 ch16]", lambda tmp: layer_report(1280, 1280, 16)),
    ("draw_network_layers[16]", lambda tmp: draw_network_layers(16)),
    ("draw_network_layers[2]", lambda tmp: draw_network_layers(2)),
    ("draw_network_totals", lambda tmp: draw_network_totals()),
    ("draw_network_totals[current 32 v2]", lambda tmp: draw_network_totals(current=32, scheme="v2")),
    ("draw_network_totals[current 16 v1]", lambda tmp: draw_network_totals(current=16, scheme="v1")),
    ("network_report[16 v2]", lambda tmp: network_report(16, "v2")),
    ("network_report[32 v1]", lambda tmp: network_report(32, "v1")),
    ("draw_samples[10 classes]", lambda tmp: _samples()),
    ("plot_learning_curves", lambda tmp: results.plot_learning_curves(_runs(tmp))),
    ("plot_accuracy_vs_parameters", lambda tmp: results.plot_accuracy_vs_parameters(_runs(tmp))),
    ("draw_tradeoff[240-40 v2 current 16]", lambda tmp: draw_tradeoff(240, 40, "v2", current=16)),
    ("draw_tradeoff[1280-1280 v1]", lambda tmp: draw_tradeoff(1280, 1280, "v1")),
]

# Public drawing functions of igpw_viz.viz and the results plots: each must appear in CASES.
DRAWING_MODULES = ["igpw_viz.viz.wiring", "igpw_viz.viz.connectivity", "igpw_viz.viz.network",
                   "igpw_viz.viz.samples", "igpw_viz.viz.tradeoff", "igpw_viz.training.results"]


def _figure(obj) -> Figure:
    if isinstance(obj, tuple):
        obj = obj[0]
    return obj if isinstance(obj, Figure) else obj.figure


@contextmanager
def _recording_texts(found: dict):
    """Record every Text that is actually drawn (visible, non-empty) with its extent at draw time."""
    original = Text.draw

    def draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            found[id(self)] = (self, self.get_window_extent(renderer))

    Text.draw = draw
    try:
        yield found
    finally:
        Text.draw = original


def _drawn_texts(fig: Figure, dpi: float) -> list:
    fig.set_dpi(dpi)
    found: dict = {}
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    with _recording_texts(found):
        canvas.draw()
    return list(found.values())


def _overlaps(items: list) -> list[tuple[str, str]]:
    boxes = np.array([[b.x0, b.y0, b.x1, b.y1] for _, b in items])
    bad = []
    for i in range(len(items)):
        dx = np.minimum(boxes[i, 2], boxes[i + 1:, 2]) - np.maximum(boxes[i, 0], boxes[i + 1:, 0])
        dy = np.minimum(boxes[i, 3], boxes[i + 1:, 3]) - np.maximum(boxes[i, 1], boxes[i + 1:, 1])
        for j in np.flatnonzero((dx > TOL_PX) & (dy > TOL_PX)):
            bad.append((items[i][0].get_text(), items[i + 1 + j][0].get_text()))
    return bad


@pytest.mark.parametrize("name, factory", CASES, ids=[c[0] for c in CASES])
def test_figure_is_legible(name, factory, tmp_path):
    fig = _figure(factory(tmp_path))
    width, height = fig.get_size_inches()
    problems = []
    if height * 100 > MAX_HEIGHT_IN * 100 + 0.5:
        problems.append(f"{height * 100:.0f} px tall at 100 dpi (at most {MAX_HEIGHT_IN * 100:.0f})")
    for dpi in DISPLAY_DPIS:
        items = _drawn_texts(fig, dpi)
        assert items, f"{name}: no text drawn"
        small = sorted({(effective_pt(t.get_fontsize(), width, dpi), t.get_text()) for t, _ in items})
        problems += [f"text {text!r} seen at {eff:.1f} pt at {dpi} dpi (< {MIN_EFFECTIVE_PT:g})"
                     for eff, text in small if eff < MIN_EFFECTIVE_PT - 1e-6][:8]
        problems += [f"texts {a!r} and {b!r} overlap at {dpi} dpi" for a, b in _overlaps(items)][:8]
    assert not problems, f"{name} ({width:g} x {height:g} in):\n  " + "\n  ".join(problems)


def test_every_drawing_function_is_checked():
    names = {n.split("[")[0] for n, _ in CASES}
    public = set()
    for module in DRAWING_MODULES:
        mod = importlib.import_module(module)
        for fname, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ == module and (fname.startswith(("draw_", "plot_")) or fname.endswith("_report")):
                public.add(fname)
    assert public <= names, f"drawing functions missing from CASES: {sorted(public - names)}"


def test_the_check_can_fail():
    """A 5.5 pt label, and two labels on top of each other, are caught."""
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, "tiny", fontsize=5.5)
    ax.text(0.2, 0.2, "one", fontsize=12)
    ax.text(0.2, 0.2, "two", fontsize=12)
    items = _drawn_texts(fig, 100)
    assert min(effective_pt(t.get_fontsize(), 10, 80) for t, _ in items) < MIN_EFFECTIVE_PT
    assert ("one", "two") in _overlaps(items)
