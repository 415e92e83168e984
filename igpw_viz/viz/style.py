"""Sizes that stay legible where the figures are seen: the display model and the helpers built on it.

Display model. JupyterLab and the book show a PNG at its natural pixel size (1 px = 1 CSS px, 96 CSS px
per inch) but never wider than the content column, `DISPLAY_WIDTH_PX` = 800 CSS px. A text of ``F`` pt in
a figure ``W`` inches wide rendered at ``D`` dpi (``W * D`` px) is therefore seen at

    effective_pt(F, W, D) = F * (D / 96) * min(1, 800 / (W * D))  pt.

Figures are rendered at 80 dpi by the widgets (`widgets.figure_png`) and at 100 dpi inline (matplotlib's
``figure.dpi``); every text must be seen at `MIN_EFFECTIVE_PT` or more at both (`DISPLAY_DPIS`), and no
figure may be taller than `MAX_HEIGHT_IN` (1,000 px at 100 dpi). Up to 10 inches wide, 10 pt is enough
(80 dpi is the binding case: 10 * 80 / 96 = 8.3 pt); wider figures need proportionally larger fonts
(`min_fontsize`), so the drawings size their fonts from their figure's width (`fontsize`).
"""

from __future__ import annotations

import math

CSS_DPI = 96
DISPLAY_WIDTH_PX = 800
DISPLAY_DPIS = (80, 100)
MIN_EFFECTIVE_PT = 8.0
MAX_HEIGHT_IN = 10.0  # 1,000 px at 100 dpi
WIDTH_IN = 10.0  # the default figure width: 10 pt fonts are enough up to here


def effective_pt(fontsize: float, width_in: float, dpi: float) -> float:
    """The size (pt) a text of ``fontsize`` pt is seen at, in a figure ``width_in`` wide shown at ``dpi``."""
    return fontsize * (dpi / CSS_DPI) * min(1.0, DISPLAY_WIDTH_PX / (width_in * dpi))


def min_fontsize(width_in: float, dpis: tuple[float, ...] = DISPLAY_DPIS,
                 target: float = MIN_EFFECTIVE_PT) -> float:
    """The smallest font size (pt, rounded up to half a point) seen at ``target`` pt or more at every dpi."""
    need = max(target / effective_pt(1.0, width_in, d) for d in dpis)
    return math.ceil(need * 2 - 1e-9) / 2


def fontsize(fig_or_width, extra: float = 0.0) -> float:
    """Font size for a figure (or a width in inches): `min_fontsize` of its width, plus ``extra`` pt
    (titles use ``extra=1``)."""
    width = fig_or_width if isinstance(fig_or_width, (int, float)) else fig_or_width.get_size_inches()[0]
    return min_fontsize(float(width)) + extra


def text_width_in(text: str, size: float) -> float:
    """A generous estimate of a one-line text's width (inches) at ``size`` pt (0.62 em per character)."""
    longest = max((len(line) for line in text.split("\n")), default=0)
    return longest * 0.62 * size / 72


def label_step(rows: int, height_in: float, size: float, pitch: float = 1.5) -> int:
    """Label every ``step``-th of ``rows`` evenly spread over ``height_in`` so that labels of ``size`` pt
    are at least ``pitch`` line heights apart."""
    if rows <= 1:
        return 1
    per_row = height_in / rows
    return max(1, math.ceil(pitch * size / 72 / per_row))


def wrap(text: str, width_in: float, size: float) -> str:
    """Break ``text`` at spaces (after '; ' and ', ' first) so that each line fits ``width_in``."""
    chars = max(20, int(width_in * 72 / (0.62 * size)))
    lines: list[str] = []
    paragraphs = [p.replace("; ", ";\n") if len(p) > chars else p for p in text.split("\n")]
    for paragraph in "\n".join(paragraphs).split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if len(candidate) > chars and line:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)

