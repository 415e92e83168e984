"""What `convert` does to networks: parameters, MACs and one training step (fwd+bwd+SGD), original against
converted, side by side (round-robin rounds, median and range), on the CPU.

    python benchmarks/convert_bench.py --threads 2

Networks: the test suite's ResNet-style and MobileNetV2-style networks (tests/test_convert.py) at 32x32,
batch 32, and EfficientNet-B0 at 224x224, batch 8; V2, Ch = 16.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_convert import mobilenet_like, resnet_like  # noqa: E402 - the networks of the test suite

from igpw_viz import count_macs, count_parameters, efficientnet_b0  # noqa: E402
from igpw_viz.nn.convert import convert  # noqa: E402


def step_times(models: dict, size: int, batch: int, rounds: int) -> dict[str, list[float]]:
    x, t = torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,))
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.01) for k, m in models.items()}
    times: dict[str, list[float]] = {k: [] for k in models}

    def step(k):
        loss = F.cross_entropy(models[k](x), t)
        opts[k].zero_grad(set_to_none=True)
        loss.backward()
        opts[k].step()

    for k in models:  # warm-up
        models[k].train()
        step(k)
    for _ in range(rounds):
        for k in models:
            t0 = time.perf_counter()
            step(k)
            times[k].append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# convert_bench: torch {torch.__version__}, python {platform.python_version()}, "
          f"{platform.machine()} with {torch.get_num_threads()} threads; V2, Ch = 16, {args.rounds} rounds\n")
    print("| network | grouped | parameters | after | MACs/image | after | step ms (original) | step ms (converted) "
          "| time converted/original |")
    print("|---|---|---|---|---|---|---|---|---|")
    networks = (("ResNet-style", resnet_like, 32, 32), ("MobileNetV2-style", mobilenet_like, 32, 32),
                ("EfficientNet-B0", lambda: efficientnet_b0(10), 224, 8))
    for label, build, size, batch in networks:
        torch.manual_seed(0)
        original = build()
        converted, report = convert(original, 16)
        times = step_times({"original": original, "converted": converted}, size, batch, args.rounds)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        rng = {k: f"{min(v) * 1e3:.0f}-{max(v) * 1e3:.0f}" for k, v in times.items()}
        print(f"| {label} ({size}px, batch {batch}) | {len(report.grouped)} of {len(report.layers)} | "
              f"{count_parameters(original):,} | {count_parameters(converted):,} | "
              f"{count_macs(original, size) / 1e6:.1f} M | {count_macs(converted, size) / 1e6:.1f} M | "
              f"{med['original']:.0f} [{rng['original']}] | {med['converted']:.0f} [{rng['converted']}] | "
              f"{med['converted'] / med['original']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
