"""Interactive explorers: thin `ipywidgets.interactive` wrappers around the pure report functions.

`explore_layer()` shows what one Ic -> Fc layer saves and what it costs in mixing, its wiring, its
description and the Ch trade-off; `explore_network()` the kEffNet-B0 charts, totals and mixing for one Ch.
Each returns the `interactive` object: child 0 explains the controls, `.kwargs_widgets` are the controls
(set their ``.value``), and ``.result`` holds what the pure functions returned, for tests.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
from IPython.display import Image, display
from matplotlib.figure import Figure

from ..core.architecture import HEAD_CHANNELS
from ..core.plan import plan_pointwise
from .connectivity import layer_report
from .network import network_report, network_text
from .tradeoff import NetworkMixing, draw_tradeoff, network_mixing

# Slider bounds: every value in range gives a valid plan (positive ints; large layers draw as groups).
MAX_LAYER_CHANNELS = HEAD_CHANNELS  # the widest pointwise conv of B0 (its head)
MAX_CHANNELS_PER_GROUP = 64
SCHEME_OPTIONS = [("V2", "v2"), ("V1", "v1")]
_SCHEME_HELP = ("<b>scheme</b>: V2 (this paper: any Ic, Fc) or V1 (its predecessor: the group count must "
                "divide Ic and Fc, else the conv stays dense).")
LAYER_HELP = ("<b>Ic</b>: input channels of the 1x1 conv; <b>Fc</b>: its filters (output channels); "
              "<b>Ch</b>: channels per group, the width of one group: a smaller Ch means more groups, fewer "
              "weights and less mixing (how many inputs each output reads). " + _SCHEME_HELP +
              " Large layers are drawn group by group (the group view) instead of channel by channel.")
NETWORK_HELP = ("<b>Ch</b>: channels per group, one value for every 1x1 conv of kEffNet-B0 (a smaller Ch "
                "means fewer parameters and less mixing). " + _SCHEME_HELP)


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


def _with_help(w: widgets.interactive, help_html: str) -> widgets.interactive:
    """Put a line that explains the controls above them (child 0)."""
    w.children = (widgets.HTML(f"<p style='line-height:1.35'>{help_html}</p>"),) + tuple(w.children)
    return w


def layer_headline(in_channels: int, out_channels: int, channels_per_group: int, scheme: str = "v2") -> str:
    """What the layer saves and what it costs, in one line: '86.7% of weights saved; each output reads
    192-240 of 240 inputs (80-100%)'."""
    plan = plan_pointwise(in_channels, out_channels, channels_per_group, scheme)
    return f"{100 * plan.savings:.1f}% of weights saved; {plan.mixing()}"


def _show_layer(in_channels: int, out_channels: int, channels_per_group: int, scheme: str,
                dpi: int = 80) -> tuple[Figure, str, Figure]:
    fig, report = layer_report(in_channels, out_channels, channels_per_group, scheme)
    text = layer_headline(in_channels, out_channels, channels_per_group, scheme) + "\n\n" + report
    print(text)
    show_figure(fig, dpi)
    tradeoff = draw_tradeoff(in_channels, out_channels, scheme, current=channels_per_group).figure
    show_figure(tradeoff, dpi)
    return fig, text, tradeoff


def explore_layer(in_channels: int = 40, out_channels: int = 24, channels_per_group: int = 16,
                  scheme: str = "v2", dpi: int = 80) -> widgets.interactive:
    """Ic, Fc, Ch sliders and a scheme toggle -> weights saved next to the mixing, the wiring drawing, the
    plan's description and counts, and the saved-versus-mixing trade-off over Ch.

    Children: 0 the explanation (HTML), 1 Ic, 2 Fc, 3 Ch, 4 scheme, last the output (``.kwargs_widgets``:
    the four controls). ``.result`` is ``(wiring Figure, text, trade-off Figure)``; the text starts with
    `layer_headline`.
    """
    def show(in_channels, out_channels, channels_per_group, scheme):
        return _show_layer(in_channels, out_channels, channels_per_group, scheme, dpi)

    return _with_help(widgets.interactive(
        show,
        in_channels=_slider("Ic (input channels)", in_channels, 1, MAX_LAYER_CHANNELS),
        out_channels=_slider("Fc (filters)", out_channels, 1, MAX_LAYER_CHANNELS),
        channels_per_group=_slider("Ch (channels per group)", channels_per_group, 1, MAX_CHANNELS_PER_GROUP),
        scheme=_scheme(scheme),
    ), LAYER_HELP)


def explore_network(channels_per_group: int = 16, scheme: str = "v2", dpi: int = 80) -> widgets.interactive:
    """Ch slider and a scheme toggle -> the kEffNet-B0 charts, totals and network-wide mixing.

    Children: 0 the explanation (HTML), 1 Ch, 2 scheme, last the output (``.kwargs_widgets``: the two
    controls). ``.result`` is ``(Figure, totals dict, NetworkMixing)``.
    """
    def show(channels_per_group, scheme) -> tuple[Figure, dict, NetworkMixing]:
        fig, totals = network_report(channels_per_group, scheme)
        mixing = network_mixing(channels_per_group, scheme)
        print(network_text(totals) + "\n" + str(mixing))
        show_figure(fig, dpi)
        return fig, totals, mixing

    return _with_help(widgets.interactive(
        show,
        channels_per_group=_slider("Ch (channels per group)", channels_per_group, 2, MAX_CHANNELS_PER_GROUP),
        scheme=_scheme(scheme),
    ), NETWORK_HELP)
