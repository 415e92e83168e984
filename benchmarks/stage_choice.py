"""Which form of a grouped 1x1 stage is fastest on this machine? Data for `choose_implementation`.

For the K and L stage of every B0 pointwise shape (V2, Ch=16) at the CIFAR regime, fwd+bwd of the
stage alone in its three forms, side by side (round-robin, min of rounds, which is robust to load):
"matmul" (gather, one batched matmul over groups, gather), "grouped" (the same with a grouped conv) and
"dense" (block-diagonal dense weight, no gathers).

    python benchmarks/stage_choice.py [--batch 64] [--rounds 5]
"""

from __future__ import annotations

import argparse
import time

import torch

from igpw_viz.core.plan import plan_pointwise
from igpw_viz.nn.fast.stage import FastStage, choose_implementation
from igpw_viz.nn.layer import GroupedPointwiseConv

try:
    from .layer_bench import b0_cases
except ImportError:  # run as a script: python benchmarks/<name>.py
    from layer_bench import b0_cases


def stage_time(module: FastStage, conv: GroupedPointwiseConv, x: torch.Tensor, grad: torch.Tensor) -> float:
    t0 = time.perf_counter()
    module(x, conv.weight, conv.bias).backward(grad)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--image", type=int, default=32)
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    print("| stage | shape | groups | width | replicated | uneven | matmul ms | grouped ms | dense ms | best | auto |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    skip = 3 if args.image <= 64 else 0
    for case in b0_cases(args.image, skip):
        if case.size == 1:
            continue
        plan = plan_pointwise(case.in_channels, case.out_channels, 16)
        stages = [("K", plan.k, plan.k.sources, case.in_channels)]
        if plan.l is not None:
            stages.append(("L", plan.l, plan.l_sources, case.out_channels))
        for name, stage, reads, width in stages:
            if stage.is_dense:
                continue
            forms = {f: FastStage(stage, reads, width, f) for f in ("matmul", "grouped", "dense")}
            conv = GroupedPointwiseConv(stage, bias=False)
            x = torch.randn(args.batch, width, case.size, case.size, requires_grad=True)
            grad = torch.randn(args.batch, stage.out_channels, case.size, case.size)
            best = {f: float("inf") for f in forms}
            for _ in range(2):
                for m in forms.values():
                    stage_time(m, conv, x, grad)
            for _ in range(args.rounds):
                for f, m in forms.items():
                    best[f] = min(best[f], stage_time(m, conv, x, grad))
            winner = min(best, key=best.get)
            print(f"| {name} | {case.label} | {stage.groups} | {stage.inputs_per_group} | "
                  f"{len(stage.replicated)} | {stage.uneven_groups} | {1e3 * best['matmul']:.2f} | "
                  f"{1e3 * best['grouped']:.2f} | {1e3 * best['dense']:.2f} | {winner} | "
                  f"{choose_implementation(stage)} |", flush=True)


if __name__ == "__main__":
    main()
