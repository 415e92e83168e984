"""Time the drawings against the issue's targets (< 1 s each); prints the section kept in benchmarks/RESULTS.md.

Measures, for every unique B0 pointwise shape at Ch=16 (V1 and V2): wiring_graph + draw_wiring (auto
level) + an Agg render; the group view for the big layers; and one explore_network update (the pure
`network_report` + render) for a few new Ch. Run: python benchmarks/draw_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import matplotlib
import networkx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from igpw_viz.core.architecture import b0_pointwise_shapes  # noqa: E402
from igpw_viz.core.plan import plan_pointwise  # noqa: E402
from igpw_viz.viz.graph import wiring_graph  # noqa: E402
from igpw_viz.viz.network import network_report  # noqa: E402
from igpw_viz.viz.wiring import draw_wiring, plan_rows  # noqa: E402

TARGET_S = 1.0


def _render(fig) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=80)


def time_layer(ic: int, fc: int, ch: int, scheme: str, level: str, repeats: int) -> float:
    """Median seconds for plan + wiring graph + draw_wiring + PNG render of one layer."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        plan = plan_pointwise(ic, fc, ch, scheme)
        wiring_graph(plan)
        ax = draw_wiring(plan, level=level)
        _render(ax.figure)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def time_network(ch: int, scheme: str) -> float:
    t = time.perf_counter()
    fig, _ = network_report(ch, scheme)
    _render(fig)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repeat, fewer Ch values")
    parser.add_argument("--out", default=None, help="also write the markdown section to this file")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    shapes = sorted({(s.in_channels, s.out_channels) for s in b0_pointwise_shapes()})

    rows = []
    for ic, fc in shapes:
        for scheme in ("v1", "v2"):
            plan = plan_pointwise(ic, fc, 16, scheme)
            level = "channel" if plan_rows(plan) <= 64 else "group"
            rows.append((f"{ic}->{fc}", scheme, level, time_layer(ic, fc, 16, scheme, "auto", repeats)))
    # the biggest layers forced to the group view, and one forced to the channel view
    for ic, fc, scheme, level in [(1152, 320, "v2", "group"), (320, 1280, "v2", "group"),
                                  (1152, 48, "v2", "group"), (240, 40, "v2", "channel")]:
        seconds = time_layer(ic, fc, 16, scheme, level, repeats)
        rows.append((f"{ic}->{fc}", scheme, f"{level} (forced)", seconds))

    network_report(16, "v2")  # warm the cached totals-vs-Ch curve once (as the widget does at start)
    net = []
    for ch in ((3, 24, 50) if args.quick else (3, 8, 24, 32, 50, 64)):
        for scheme in ("v1", "v2"):
            net.append((ch, scheme, time_network(ch, scheme)))
    cold = None
    if not args.quick:
        from igpw_viz import draw_network
        draw_network.totals_curve.cache_clear()
        draw_network.layer_counts.cache_clear()
        cold = time_network(16, "v2")

    worst_layer = max(r[3] for r in rows)
    worst_net = max(r[2] for r in net)
    lines = [
        "## Drawings and widgets (benchmarks/draw_bench.py)",
        "",
        f"Date {datetime.date.today().isoformat()}; {os.cpu_count()}-core CPU "
        f"({platform.processor() or platform.machine()}), no GPU, load average {os.getloadavg()[0]:.1f}; "
        f"Python {platform.python_version()}, matplotlib {matplotlib.__version__}, "
        f"networkx {networkx.__version__}; Agg PNG render at 80 dpi included; median of {repeats}.",
        "",
        f"Target: < {TARGET_S:.0f} s per layer drawing and per explore_network update. "
        f"Worst layer: **{worst_layer:.3f} s**; worst network update: **{worst_net:.3f} s**"
        + (f" (cold, caches empty: {cold:.3f} s)." if cold is not None else "."),
        "",
        "| layer (Ch=16) | scheme | view | plan + graph + draw + render (s) |",
        "|---|---|---|---|",
    ] + [f"| {name} | {sc.upper()} | {level} | {t:.3f} |" for name, sc, level, t in rows] + [
        "",
        "| explore_network update: Ch | scheme | network_report + render (s) |",
        "|---|---|---|",
    ] + [f"| {ch} | {sc.upper()} | {t:.3f} |" for ch, sc, t in net]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
        print(f"written to {args.out}")
    ok = worst_layer < TARGET_S and worst_net < TARGET_S
    print("targets met" if ok else "TARGET MISSED")


if __name__ == "__main__":
    main()
