"""Layer benchmark: fwd+bwd of every EfficientNet-B0 pointwise shape: the dense conv+BN it replaces, the layer
(fast face, the default), the layer's readable face (`implementation="readable"`, the code a student reads)
and the straightforward port of the reference code.

Side by side in one run, round-robin over variants, warm-up outside the timed region, median and spread,
weighted by how often each shape occurs in B0, after a correctness gate against the oracle and the port.

    python benchmarks/layer_bench.py                      # both regimes, CPU (and CUDA when present)
    python benchmarks/layer_bench.py --regime cifar --rounds 3 --quick
    python benchmarks/layer_bench.py --variants dense,fast,fast-grouped,fast-dense,port   # explore forms
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn

from igpw_viz.core.architecture import b0_blocks, b0_pointwise_shapes
from igpw_viz.nn.layer import InterleavedGroupedPointwise, make_activation
from igpw_viz.nn.oracle import StraightforwardPort, oracle_forward

# regime -> (input size, batch size on CPU, batch size on CUDA, strides skipped at the start like kEffNet)
REGIMES = {"224": (224, 8, 64, 0), "cifar": (32, 64, 256, 3)}


@dataclass(frozen=True)
class Case:
    role: str
    in_channels: int
    out_channels: int
    size: int  # spatial size of the layer's input (1 for squeeze-excitation)
    count: int  # occurrences in B0

    @property
    def label(self) -> str:
        return f"{self.role} {self.in_channels}->{self.out_channels} @{self.size}"


def b0_cases(image_size: int, skip_strides: int) -> list[Case]:
    """Unique pointwise shapes of B0 with their spatial size at this input size, and multiplicities."""
    size = image_size if skip_strides > 0 else -(-image_size // 2)  # the stem
    skipped = 1 if skip_strides > 0 else 0
    counts: Counter = Counter()
    shapes = {(s.block, s.role): s for s in b0_pointwise_shapes()}
    for b in b0_blocks():
        in_size = size
        if b.stride == 2:
            if skipped < skip_strides:
                skipped += 1
            else:
                size = -(-size // 2)
        for role in ("expand", "se_reduce", "se_expand", "project"):
            s = shapes.get((b.name, role))
            if s is None:
                continue
            key = (role, s.in_channels, s.out_channels,
                   {"expand": in_size, "project": size}.get(role, 1))
            counts[key] += 1
    head = shapes[("head", "head")]
    counts[("head", head.in_channels, head.out_channels, size)] += 1
    return [Case(r, i, o, sz, n) for (r, i, o, sz), n in counts.items()]


def dense_module(case: Case) -> nn.Module:
    """Exactly what the block replaces: 1x1 conv (+bias for SE) (+BN) (+activation)."""
    se = case.role.startswith("se")
    layers: list[nn.Module] = [nn.Conv2d(case.in_channels, case.out_channels, 1, bias=se)]
    if not se:
        layers.append(nn.BatchNorm2d(case.out_channels, eps=1e-3, momentum=0.01))
    act = make_activation({"expand": "silu", "se_reduce": "silu", "se_expand": "sigmoid"}.get(case.role))
    if act is not None:
        layers.append(act)
    return nn.Sequential(*layers)


def fast_module(case: Case, channels_per_group: int, scheme: str, implementation: str = "auto"):
    se = case.role.startswith("se")
    act = {"expand": "silu", "se_reduce": "silu", "se_expand": "sigmoid"}.get(case.role)
    return InterleavedGroupedPointwise(case.in_channels, case.out_channels, channels_per_group, scheme,
                                       batch_norm=not se, activation=act, bias=se,
                                       implementation=implementation)


def build_variants(case: Case, names: list[str], channels_per_group: int, scheme: str) -> dict:
    fast = fast_module(case, channels_per_group, scheme)
    out = {}
    for name in names:
        if name == "dense":
            out[name] = dense_module(case)
        elif name == "fast":
            out[name] = fast
        elif name.startswith("fast-"):
            m = fast_module(case, channels_per_group, scheme, name.split("-", 1)[1])
            m.load_state_dict(fast.state_dict())
            out[name] = m
        elif name == "readable":
            m = fast_module(case, channels_per_group, scheme, "readable")
            m.load_state_dict(fast.state_dict())
            out[name] = m
        elif name == "port":
            out[name] = StraightforwardPort(fast)
        else:
            raise ValueError(f"unknown variant {name!r}")
    return out


def gate(case: Case, variants: dict) -> None:
    """Fail loudly if any variant differs from the oracle (small input, fp64 copies of the modules)."""
    fast = next((m for n, m in variants.items() if n.startswith("fast") or n == "readable"), None)
    if fast is None:
        return
    x = torch.randn(2, case.in_channels, min(case.size, 3), min(case.size, 3), dtype=torch.float64)
    want = oracle_forward(copy.deepcopy(fast).double(), x)
    for name, m in variants.items():
        if name != "dense":
            err = (copy.deepcopy(m).double()(x) - want).abs().max().item()
            if err > 1e-9:
                raise SystemExit(f"correctness gate failed for {case.label} {name}: max error {err:.3g}")


CLOCKS = {"wall": time.perf_counter, "process": time.process_time}


def time_case(case: Case, variants: dict, batch: int, device: torch.device, rounds: int, reps: int,
              dtype: torch.dtype | None, channels_last: bool, warmup: int = 2,
              clock=time.perf_counter) -> dict[str, list[float]]:
    """Round-robin timing of fwd+bwd; returns the per-rep times (s) of each variant. ``reps`` steps per
    timed block; 0 picks it so that a block takes about 20 ms."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(batch, case.in_channels, case.size, case.size, device=device).to(memory_format=fmt)
    x.requires_grad_(True)
    grad = None
    for m in variants.values():
        m.to(device, memory_format=fmt).train()  # 4-D weights in the same layout, as model.to() in training
    times: dict[str, list[float]] = {name: [] for name in variants}

    def step(m):
        nonlocal grad
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            y = m(x)
        if grad is None:
            grad = torch.randn_like(y)
        y.backward(grad)
        x.grad = None

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for m in variants.values():
        for _ in range(warmup):
            step(m)
    if reps <= 0:  # calibrate: each timed block about 20 ms, so small shapes are not lost in timer noise
        sync()
        t0 = time.perf_counter()
        for m in variants.values():
            step(m)
        sync()
        reps = max(1, min(100, round(0.02 * len(variants) / max(time.perf_counter() - t0, 1e-6))))
    for _ in range(rounds):
        for name, m in variants.items():
            sync()
            t0 = clock()
            for _ in range(reps):
                step(m)
            sync()
            times[name].append((clock() - t0) / reps)
    return times


def run(regime: str, device: torch.device, names: list[str], rounds: int, channels_per_group: int,
        scheme: str, quick: bool, clock: str = "wall", layout: str = "auto") -> None:
    image, batch_cpu, batch_cuda, skip = REGIMES[regime]
    batch = batch_cuda if device.type == "cuda" else batch_cpu
    dtype = torch.bfloat16 if device.type == "cuda" else None
    channels_last = device.type == "cuda" if layout == "auto" else layout == "nhwc"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    cases = b0_cases(image, skip)
    print(f"\n## regime {regime}: {image}x{image} input, batch {batch}, {device.type}, {clock} clock, "
          f"{'bf16 autocast' if dtype else 'fp32'}, {'channels_last' if channels_last else 'NCHW'}, "
          f"V{scheme[1]} Ch={channels_per_group}, fwd+bwd, {rounds} rounds\n")
    header = f"| shape | count | {' | '.join(f'{n} ms' for n in names)} | " + " | ".join(
        f"{n}/dense" for n in names if n != "dense") + " |"
    print(header)
    print("|" + "---|" * (2 + len(names) + len(names) - 1))
    totals = Counter()
    for case in cases:
        variants = build_variants(case, names, channels_per_group, scheme)
        gate(case, variants)
        reps = 1 if quick else 0  # 0: calibrated so each timed block takes about 20 ms
        times = time_case(case, variants, batch, device, rounds, reps, dtype, channels_last,
                          clock=CLOCKS[clock])
        med = {n: statistics.median(t) for n, t in times.items()}
        spread = {n: (max(t) - min(t)) / med[n] for n, t in times.items()}
        for n in names:
            totals[n] += case.count * med[n]
        cells = " | ".join(f"{1e3 * med[n]:.3f} ±{100 * spread[n]:.0f}%" for n in names)
        ratios = " | ".join(f"{med[n] / med['dense']:.2f}" for n in names if n != "dense")
        print(f"| {case.label} | {case.count} | {cells} | {ratios} |", flush=True)
    print("\nweighted totals (sum of count x median):")
    for n in names:
        print(f"  {n:14s} {1e3 * totals[n]:9.2f} ms   {totals[n] / totals['dense']:.3f}x dense"
              + (f"   {totals['port'] / totals[n]:.2f}x faster than port" if 'port' in totals and n != 'port'
                 else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regime", choices=[*REGIMES, "both"], default="both")
    parser.add_argument("--variants", default="dense,fast,readable,port")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--channels-per-group", type=int, default=16)
    parser.add_argument("--scheme", default="v2", choices=["v1", "v2"])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: both when CUDA is present)")
    parser.add_argument("--quick", action="store_true", help="one rep per round (noisier)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--layout", choices=["auto", "nchw", "nhwc"], default="auto",
                        help="memory layout of inputs and modules (auto: NCHW on the CPU, NHWC on CUDA)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="process: CPU time of this process (robust on a loaded machine with --threads 1)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.variants.split(",")
    if "dense" not in names:
        names.insert(0, "dense")
    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"# layer_bench: torch {torch.__version__}, python {platform.python_version()}, "
          f"{platform.machine()} with {torch.get_num_threads()} threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    print(f"# command: {' '.join(sys.argv)}")
    torch.manual_seed(0)
    for dev in devices:
        for regime in (REGIMES if args.regime == "both" else [args.regime]):
            run(regime, torch.device(dev), names, args.rounds, args.channels_per_group, args.scheme,
                args.quick, "wall" if dev == "cuda" else args.clock, args.layout)


if __name__ == "__main__":
    main()
