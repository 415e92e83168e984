"""Depthwise convs of B0, fwd+bwd, in NCHW and in NHWC (channels_last) memory, side by side.

Why channels_last is the training default on the CPU: oneDNN's NCHW depthwise backward is several times
slower at these sizes (benchmarks/RESULTS.md, section 10).

    python benchmarks/depthwise_layout.py [--threads 2] [--rounds 20] [--batch 64]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torch.nn.functional as F

# (channels, kernel, input size, stride): depthwise convs of B0 at the digits job's 16x16 input (skip 1)
SHAPES = ((96, 3, 16, 2), (144, 3, 8, 1), (240, 5, 8, 2), (480, 3, 4, 1), (672, 5, 4, 2), (1152, 5, 2, 1),
          (1152, 3, 1, 1))


def median_ms(fn, rounds: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {platform.machine()}, {args.threads} threads, batch {args.batch}, "
          f"median of {args.rounds}\n\n| channels | kernel | map | stride | NCHW ms | NHWC ms | NCHW / NHWC |\n"
          "|---|---|---|---|---|---|---|")
    for channels, kernel, size, stride in SHAPES:
        weight = torch.randn(channels, 1, kernel, kernel, requires_grad=True)
        x = torch.randn(args.batch, channels, size, size)
        times = []
        for layout in (torch.contiguous_format, torch.channels_last):
            xl = x.to(memory_format=layout).requires_grad_()

            def step(xl=xl, weight=weight, stride=stride, kernel=kernel, channels=channels) -> None:
                F.conv2d(xl, weight, stride=stride, padding=kernel // 2, groups=channels).sum().backward()

            times.append(median_ms(step, args.rounds))
        print(f"| {channels} | {kernel}x{kernel} | {size}x{size} | {stride} | {times[0]:.2f} | {times[1]:.2f} "
              f"| {times[0] / times[1]:.1f}x |")


if __name__ == "__main__":
    main()
