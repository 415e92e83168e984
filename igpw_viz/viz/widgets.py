"""Interactive explorers: thin `ipywidgets.interactive` wrappers around the pure report functions.

`explore_layer()` shows the wiring and description of one Ic -> Fc layer; `explore_network()` the
kEffNet-B0 charts and totals for one Ch. Each returns the `interactive` object: set
``.children[i].value`` and read ``.result`` (the pure function's return value) in tests.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
from IPython.display import Image, display
from matplotlib.figure import Figure

from ..core.architecture import HEAD_CHANNELS
from .connectivity import layer_report
from .network import network_report, network_text

# Slider bounds: every value in range gives a valid plan (positive ints; large layers draw as groups).
MAX_LAYER_CHANNELS = HEAD_CHANNELS  # the widest pointwise conv of B0 (its head)
MAX_CHANNELS_PER_GROUP = 64
SCHEME_OPTIONS = [("V2", "v2"), ("V1", "v1")]


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """PNG bytes of a Figure (no pyplot, no inline backend needed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def show_figure(fig: Figure, dpi: int = 80) -> None:
    """Display a Figure as a PNG: renders the same in JupyterLab, the book and an Output widget."""
    display(Image(data=figure_png(fig, dpi)))


def _slider(description: str, value: int, low: int, high: int) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=low, max=high, step=1, description=description,
                             continuous_update=False, style={"description_width": "initial"},
                             layout=widgets.Layout(width="420px"))


def _scheme(value: str) -> widgets.ToggleButtons:
    return widgets.ToggleButtons(options=SCHEME_OPTIONS, value=value, description="scheme")


def _show_layer(in_channels: int, out_channels: int, channels_per_group: int, scheme: str,
                dpi: int = 80) -> tuple[Figure, str]:
    fig, text = layer_report(in_channels, out_channels, channels_per_group, scheme)
    print(text)
    show_figure(fig, dpi)
    return fig, text


def explore_layer(in_channels: int = 40, out_channels: int = 24, channels_per_group: int = 16,
                  scheme: str = "v2", dpi: int = 80) -> widgets.interactive:
    """Ic, Fc, Ch sliders and a scheme toggle -> the wiring drawing, the plan's description and counts.

    Children: 0 Ic, 1 Fc, 2 Ch, 3 scheme, last the output. ``.result`` is ``(Figure, text)``.
    """
    def show(in_channels, out_channels, channels_per_group, scheme):
        return _show_layer(in_channels, out_channels, channels_per_group, scheme, dpi)

    return widgets.interactive(
        show,
        in_channels=_slider("Ic (input channels)", in_channels, 1, MAX_LAYER_CHANNELS),
        out_channels=_slider("Fc (filters)", out_channels, 1, MAX_LAYER_CHANNELS),
        channels_per_group=_slider("Ch (channels per group)", channels_per_group, 1, MAX_CHANNELS_PER_GROUP),
        scheme=_scheme(scheme),
    )


def explore_network(channels_per_group: int = 16, scheme: str = "v2", dpi: int = 70) -> widgets.interactive:
    """Ch slider and a scheme toggle -> the kEffNet-B0 charts and totals.

    Children: 0 Ch, 1 scheme, last the output. ``.result`` is ``(Figure, totals dict)``.
    """
    def show(channels_per_group, scheme):
        fig, totals = network_report(channels_per_group, scheme)
        print(network_text(totals))
        show_figure(fig, dpi)
        return fig, totals

    return widgets.interactive(
        show,
        channels_per_group=_slider("Ch (channels per group)", channels_per_group, 2, MAX_CHANNELS_PER_GROUP),
        scheme=_scheme(scheme),
    )
