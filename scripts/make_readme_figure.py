"""Regenerate the README's wiring figures.

docs/wiring_40_240.png: V2 240 -> 40 with Ch = 16 as `draw_wiring` draws it by default (the group view:
K 15 groups, 10 of them with an extra filter; the interleave mixing K groups into L's 3 groups, the last
reading 8 copies; the skip to the sum). docs/wiring_36_20_ch8.png: V2 36 -> 20 with Ch = 8 at channel
level (replicated copies in K and L, uneven filters in L, the interleave). Run:
python scripts/make_readme_figure.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from igpw_viz.core.plan import plan_pointwise  # noqa: E402
from igpw_viz.viz.wiring import draw_wiring  # noqa: E402


def main() -> Path:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "wiring_40_240.png"))
    parser.add_argument("--dpi", type=int, default=100)
    parser.add_argument("--level", default="auto", choices=["auto", "channel", "group"])
    args = parser.parse_args()
    plan = plan_pointwise(240, 40, 16, "v2")
    ax = draw_wiring(plan, level=args.level)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(out, dpi=args.dpi, metadata={"Software": None})  # no version stamp: stable bytes
    print(f"{out}: {ax.get_title()}")
    small = draw_wiring(plan_pointwise(36, 20, 8, "v2"), level="channel")
    small_out = out.parent / "wiring_36_20_ch8.png"
    small.figure.savefig(small_out, dpi=80, metadata={"Software": None})
    print(f"{small_out}: {small.get_title()}")
    return out


if __name__ == "__main__":
    main()
