"""The two measurements behind `igpw_viz/nn/fast/conv_bn.py`, side by side per shape (fwd+bwd, training mode):

1. a dense 1x1 conv: oneDNN's ``F.conv2d`` on NCHW vs one ``baddbmm`` over the batch (``conv1x1``), for
   every unique B0 pointwise shape with a map larger than 1x1 -> where the batched matmul wins;
2. conv + BatchNorm2d + SiLU (the modules) vs the conv with BN folded from the input covariance
   (``conv1x1_bn``) for the expansions V2 keeps dense and a projection -> when the fold pays.

    python benchmarks/conv_bn_bench.py [--threads 2] [--rounds 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from igpw_viz.nn.fast.conv_bn import BMM_MIN_PIXELS, conv1x1_bn, fold_pays

try:
    from .layer_bench import b0_cases
except ImportError:  # run as a script: python benchmarks/<name>.py
    from layer_bench import b0_cases


def timed(fns: dict, rounds: int) -> dict[str, float]:
    """Median seconds per call of each zero-argument function, round-robin after two warm-up calls."""
    for f in fns.values():
        f()
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def fwd_bwd(fn, x: torch.Tensor, grad: torch.Tensor):  # noqa: ANN201
    def step() -> None:
        x.grad = None
        fn(x).backward(grad)
    return step


def conv_vs_bmm(image: int, batch: int, skip: int, rounds: int) -> None:
    print(f"\n### dense 1x1 conv, fwd+bwd: oneDNN conv2d (NCHW) vs baddbmm over the batch; {image}x{image}, "
          f"batch {batch}\n")
    print("| shape | map | conv2d ms | baddbmm ms | baddbmm/conv2d | conv1x1 uses |")
    print("|---|---|---|---|---|---|")
    for case in b0_cases(image, skip):
        if case.size == 1:
            continue
        c, f, s = case.in_channels, case.out_channels, case.size
        x = torch.randn(batch, c, s, s, requires_grad=True)
        grad = torch.randn(batch, f, s, s)
        w = torch.randn(f, c, requires_grad=True)
        med = timed({"conv": fwd_bwd(lambda t, w=w: F.conv2d(t, w[:, :, None, None]), x, grad),
                     "bmm": fwd_bwd(lambda t, w=w: torch.bmm(w.expand(t.shape[0], -1, -1),
                                                             t.flatten(2)).view(t.shape[0], -1, *t.shape[2:]),
                                    x, grad)}, rounds)
        uses = "baddbmm" if s * s >= BMM_MIN_PIXELS else "conv2d"
        print(f"| {c}->{f} | {s}x{s} | {1e3 * med['conv']:.2f} | {1e3 * med['bmm']:.2f} | "
              f"{med['bmm'] / med['conv']:.2f} | {uses} |", flush=True)


def fold_vs_bn(rounds: int) -> None:
    print("\n### conv + BatchNorm2d + SiLU (modules) vs BN folded from the input covariance, fwd+bwd\n")
    print("| shape | batch x map | modules ms | folded ms | folded/modules | fold_pays |")
    print("|---|---|---|---|---|---|")
    for c, f, s, n in [(16, 96, 112, 8), (24, 144, 56, 8), (32, 16, 112, 8), (16, 96, 32, 64), (24, 144, 32, 64),
                       (40, 240, 32, 64), (96, 24, 32, 64)]:
        conv, norm = nn.Conv2d(c, f, 1, bias=False), nn.BatchNorm2d(f, eps=1e-3, momentum=0.01)
        modules = nn.Sequential(conv, norm, nn.SiLU())
        x = torch.randn(n, c, s, s, requires_grad=True)
        grad = torch.randn(n, f, s, s)
        med = timed({"modules": fwd_bwd(modules, x, grad),
                     "folded": fwd_bwd(lambda t, conv=conv, norm=norm: F.silu(
                         conv1x1_bn(t, conv.weight.flatten(1), norm)), x, grad)}, rounds)
        print(f"| {c}->{f} | {n} x {s}x{s} | {1e3 * med['modules']:.2f} | {1e3 * med['folded']:.2f} | "
              f"{med['folded'] / med['modules']:.2f} | {fold_pays(c, f)} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"# conv_bn_bench: torch {torch.__version__}, python {platform.python_version()}, {platform.machine()}, "
          f"{torch.get_num_threads()} threads, wall clock, median of {args.rounds} rounds")
    conv_vs_bmm(224, 8, 0, args.rounds)
    conv_vs_bmm(32, 64, 3, args.rounds)
    fold_vs_bn(args.rounds)


if __name__ == "__main__":
    main()
