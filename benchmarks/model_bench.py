"""Model benchmark: one training step of EfficientNet-B0 vs kEffNet-B0 V2 (Ch 16, 32), side by side.

Same input size and strides for all models, warm-up outside the timed region, models interleaved
round-robin, median of the rounds. Also: parameters, analytic MACs, peak memory, and (torch.profiler)
where a step's time goes: pointwise layers (conv + its BN/activation), depthwise (conv + BN + SiLU), stem,
the rest of the forward/backward (SE pool and multiply, residual adds, classifier, loss), optimizer.

    python benchmarks/model_bench.py      # CPU: 32x32 batch 64 (skip 3 and standard strides), 224x224 batch 8
    python benchmarks/model_bench.py --device cuda --bf16 --channels-last --compile --configs 224:256
    python benchmarks/model_bench.py --configs 16:64:1,32:64 --load 1   # quiet, then beside a busy process

``--load N`` times every configuration twice in one run: on the quiet machine, then while N other
processes each keep one core busy (a pure-Python loop), so the two ratios to B0 sit side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from igpw_viz.nn.counting import count_macs, count_parameters
from igpw_viz.nn.models import ConvBNAct, EfficientNet, MBConv, efficientnet_b0, keffnet_b0
from igpw_viz.training.threads import measure_threads

# name -> builder(skip_strides). With skipped strides (the paper's 32x32 CIFAR kEffNet) the baseline is
# the same skeleton with dense 1x1 convs (4,020,358 parameters, like EfficientNet-B0).
MODELS: dict[str, Callable[[int], EfficientNet]] = {
    "EfficientNet-B0": lambda skip: efficientnet_b0(10, skip),
    "kEffNet-B0 V2-16": lambda skip: keffnet_b0(10, 16, "v2", skip),
    "kEffNet-B0 V2-32": lambda skip: keffnet_b0(10, 32, "v2", skip),
}
CATEGORIES = ("pointwise", "depthwise", "stem", "rest fwd+bwd", "optimizer")


class Runner:
    """One model with its optimizer and a fixed batch; `step()` is one full training step."""

    def __init__(self, name: str, size: int, batch: int, args: argparse.Namespace, skip_strides: int = 0,
                 layout: str = "NCHW"):
        torch.manual_seed(0)
        self.model_name, self.layout = name, layout
        self.name, self.device, self.args = f"{name} {layout}", torch.device(args.device), args
        self.model = MODELS[name](skip_strides).to(self.device).train()
        self.params, self.macs = count_parameters(self.model), count_macs(self.model, size)
        fmt = torch.channels_last if layout == "NHWC" else torch.contiguous_format
        self.model = self.model.to(memory_format=fmt)
        self.x = torch.randn(batch, 3, size, size, device=self.device).to(memory_format=fmt)  # N,3,H,W
        self.t = torch.randint(0, 10, (batch,), device=self.device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        self.forward = torch.compile(self.model) if args.compile else self.model

    def loss(self) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.args.bf16):
            return nn.functional.cross_entropy(self.forward(self.x), self.t)

    def step(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        self.loss().backward()
        self.opt.step()

    def timed_step(self) -> tuple[float, float]:
        """(wall seconds, process CPU seconds): CPU time is robust when others load a shared machine."""
        self.sync()
        start, cpu_start = time.perf_counter(), time.process_time()
        self.step()
        self.sync()
        return time.perf_counter() - start, time.process_time() - cpu_start

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def peak_memory_mb(self) -> float:
        """CUDA: peak allocated in a step. CPU: parameters + grads + momentum + tensors saved for
        backward (the allocator keeps no statistics on CPU)."""
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            self.step()
            return torch.cuda.max_memory_allocated() / 2**20
        storages: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        param_ids = {p.untyped_storage().data_ptr() for p in self.model.parameters()}
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = self.loss()
        loss.backward()
        saved = sum(n for ptr, n in storages.items() if ptr not in param_ids)
        weights = sum(p.numel() * p.element_size() for p in self.model.parameters())
        return (3 * weights + saved) / 2**20


def _label_modules(model: EfficientNet) -> list[tuple[nn.Module, str]]:
    labels = [(model.features[0], "stem")]
    labels += [(m, "pointwise") for _, _, m in model.pointwise_layers()]
    labels += [(m.block[-3], "depthwise") for m in model.modules() if isinstance(m, MBConv)]
    assert all(isinstance(m, ConvBNAct) for m, label in labels if label in ("stem", "depthwise"))
    return labels


def time_shares(runner: Runner) -> dict[str, float]:
    """Fraction of a profiled eager step per category: forward ops inside each labelled module, and the
    backward nodes they created (matched by autograd sequence number)."""
    hooks = []
    for module, label in _label_modules(runner.model):
        def pre(mod, _inp, label=label):
            mod._bench_range = record_function(f"cat:{label}")
            mod._bench_range.__enter__()

        def post(mod, _inp, _out):
            mod._bench_range.__exit__(None, None, None)

        hooks += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    forward = runner.forward
    runner.forward = runner.model  # eager, so that module hooks see every op
    try:
        runner.step()  # warm-up with hooks
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            runner.opt.zero_grad(set_to_none=True)
            runner.loss().backward()
            with record_function("cat:optimizer"):
                runner.opt.step()
            runner.sync()
            total_us = (time.perf_counter() - start) * 1e6
    finally:
        runner.forward = forward
        for h in hooks:
            h.remove()
    events = prof.events()
    ranges = [(e.time_range.start, e.time_range.end, e.name[4:]) for e in events if e.name.startswith("cat:")]
    spent = dict.fromkeys(CATEGORIES, 0.0)
    seq_label: dict[int, str] = {}
    for start, end, label in ranges:
        spent[label] += end - start
    for e in events:  # forward ops inside a labelled range -> their autograd sequence numbers
        if e.sequence_nr >= 0 and not e.name.startswith("autograd::"):
            for start, end, label in ranges:
                if start <= e.time_range.start and e.time_range.end <= end:
                    seq_label[e.sequence_nr] = label
    for e in events:
        if e.name.startswith("autograd::engine::evaluate_function") and e.sequence_nr in seq_label:
            spent[seq_label[e.sequence_nr]] += e.cpu_time_total
    labelled = sum(spent.values())
    spent["rest fwd+bwd"] = max(0.0, total_us - labelled)
    return {k: v / total_us for k, v in spent.items()}, prof


@contextlib.contextmanager
def busy_processes(n: int) -> Iterator[None]:
    """``n`` other CPU-bound processes (one busy core each) for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(1.0 if n else 0.0)  # let the scheduler see them
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def run(args: argparse.Namespace) -> str:
    lines = []
    loads = [0, args.load] if args.load else [0]
    for config in args.configs.split(","):
        for load in loads:
            with busy_processes(load):
                lines += run_config(args, config, load)
    return "\n".join(lines)


def run_config(args: argparse.Namespace, config: str, load: int) -> list[str]:
    lines = []
    threads = measure_threads()[0] if args.threads == "auto" else int(args.threads)
    torch.set_num_threads(threads)
    size, batch, *rest = (int(v) for v in config.split(":"))
    skip = rest[0] if rest else 0
    runners = [Runner(name, size, batch, args, skip, layout) for layout in args.layouts for name in MODELS]
    for r in runners:  # warm-up (and compilation) outside the timed region
        for _ in range(args.warmup):
            r.step()
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    cpu_times: dict[str, list[float]] = {r.name: [] for r in runners}
    for _ in range(args.rounds):
        for r in runners:
            wall, cpu = r.timed_step()
            times[r.name].append(wall)
            cpu_times[r.name].append(cpu)
    b0 = {r.layout: r.name for r in runners if r.model_name == "EfficientNet-B0"}  # the same layout's B0
    fastest_b0 = min(statistics.median(times[name]) for name in b0.values())
    lines += [f"\n### {size}x{size}, batch {batch}"
              + (f", skip_strides={skip} (baseline: the same skeleton, dense 1x1)" if skip else "")
              + (f", beside {load} busy process{'es' if load > 1 else ''}" if load else "")
              + f", {threads} thread{'s' if threads > 1 else ''}" + "\n",
              "| model | params | MACs/image | step (ms, median [min-max]) | images/s | time vs B0 (same layout) "
              "| vs the fastest B0 | CPU-time vs B0 | peak mem (MiB) | pointwise | depthwise | stem | rest fwd+bwd "
              "| optimizer |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    tops = []
    for r in runners:
        t = times[r.name]
        med = statistics.median(t)
        base, cpu_base = (statistics.median(d[b0[r.layout]]) for d in (times, cpu_times))
        shares, prof = time_shares(r) if not args.no_profile else (dict.fromkeys(CATEGORIES, 0.0), None)
        lines.append(
            f"| {r.name} | {r.params:,} | {r.macs / 1e6:,.1f} M | {1e3 * med:,.0f} [{1e3 * min(t):,.0f}-"
            f"{1e3 * max(t):,.0f}] | {batch / med:,.1f} | {med / base:.2f}x | {med / fastest_b0:.2f}x | "
            f"{statistics.median(cpu_times[r.name]) / cpu_base:.2f}x | "
            f"{r.peak_memory_mb():,.0f} | "
            + " | ".join(f"{100 * shares[c]:.0f}%" for c in CATEGORIES) + " |")
        if prof is not None and args.top:
            tops.append(f"\n{r.name} at {size}x{size}, top ops by self CPU time (profiled step):\n```\n"
                        + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top,
                                                    max_name_column_width=40) + "```")
    lines += tops
    print("\n".join(lines), flush=True)
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--configs", default=None, help="size:batch[:skip_strides][,...] (CPU: 32:64:3,32:64,224:8)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", default="2", help="a count, or 'auto': what training picks "
                   "(igpw_viz.training.threads: the free cores, measured per configuration)")
    p.add_argument("--load", type=int, default=0, help="also time beside N busy processes (see above)")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--layouts", default="NCHW,NHWC", help="memory layouts, each timed side by side "
                   "(NHWC: channels_last model and input)")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--top", type=int, default=0, help="also print the top N profiler ops per model")
    p.add_argument("--channels-last", action="store_true", help="the same as --layouts NHWC")
    args = p.parse_args()
    args.layouts = ["NHWC"] if args.channels_last else [v.strip().upper() for v in args.layouts.split(",")]
    if not set(args.layouts) <= {"NCHW", "NHWC"}:
        p.error(f"--layouts: NCHW and/or NHWC, got {args.layouts}")
    args.configs = args.configs or ("32:64:3,32:64,224:8" if args.device == "cpu" else "32:512,224:256")
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
    cpu = platform.processor() or platform.machine()
    print(f"{datetime.date.today()}; torch {torch.__version__}; {cpu}, {args.device}, "
          f"{args.threads} threads; "
          f"bf16={args.bf16} layouts={','.join(args.layouts)} "
          f"compile={args.compile}; rounds={args.rounds} warmup={args.warmup}", flush=True)
    run(args)


if __name__ == "__main__":
    main()
