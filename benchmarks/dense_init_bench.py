"""Dense init against random init: train EfficientNet-B0 on the embedded digits, convert it to V2 blocks
with `convert(..., init="dense")` and with `init="random"` (the dense model's other layers kept in both),
and report test accuracy before any fine-tuning and after each of a few fine-tuning epochs.

    python benchmarks/dense_init_bench.py                 # 15 epochs dense, Ch 16, 3 fine-tuning epochs
    python benchmarks/dense_init_bench.py --channels-per-group 8 --finetune-epochs 5

Protocol: the digits preset (16x16, skip_strides 1, batch 64, no augmentation, BN momentum 0.1), RMSprop
at the preset's base learning rate (no schedule: one fixed setting for every arm), seed 0. Test accuracy
is on the 360 test images; one image is 0.28 points.
"""

from __future__ import annotations

import argparse
import copy
import platform
import time

import torch
import torch.nn.functional as F

from igpw_viz.data import load_dataset
from igpw_viz.nn.convert import convert
from igpw_viz.nn.models import efficientnet_b0
from igpw_viz.training import preset
from igpw_viz.training.build import make_batches
from igpw_viz.training.loop import evaluate


def train_epochs(model, batches, epochs: int, lr: float) -> None:
    opt = torch.optim.RMSprop(model.parameters(), lr=lr, alpha=0.9, eps=1e-7)
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        model.train()
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def test_accuracy(model, batches) -> float:
    return evaluate(model, batches, device=torch.device("cpu"))["acc"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=15, help="training epochs of the dense model")
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--channels-per-group", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = preset("digits", "baseline", device="cpu", progress=False)
    data = load_dataset("digits", seed=cfg.seed)
    cpu = torch.device("cpu")
    train_batches = make_batches(data.train.images, data.train.labels, cfg, cfg.batch_size, cpu, train=True)
    test_batches = make_batches(data.test.images, data.test.labels, cfg, 256, cpu, train=False)
    print(f"# dense_init_bench: torch {torch.__version__}, python {platform.python_version()}, "
          f"{platform.machine()} with {torch.get_num_threads()} threads; digits {cfg.image_size}px, "
          f"Ch = {args.channels_per_group}")

    dense = efficientnet_b0(data.num_classes, cfg.skip_strides, bn_momentum=cfg.bn_momentum)
    t0 = time.perf_counter()
    train_epochs(dense, train_batches, args.epochs, cfg.lr)
    dense_acc = test_accuracy(dense, test_batches)
    print(f"dense B0 after {args.epochs} epochs: test {dense_acc:.2%} ({time.perf_counter() - t0:.0f} s)")

    rows = {}
    for init in ("dense", "random"):
        torch.manual_seed(1)
        model, report = convert(copy.deepcopy(dense).eval(), args.channels_per_group, init=init)
        accs = [test_accuracy(model, test_batches)]
        for _ in range(args.finetune_epochs):
            train_epochs(model, train_batches, 1, cfg.lr)
            accs.append(test_accuracy(model, test_batches))
        rows[init] = accs
        if init == "dense":
            errors = sorted(c.fit_error for c in report.grouped)
            print(f"{len(report.grouped)} blocks; fit error per layer: min {errors[0]:.1%}, median "
                  f"{errors[len(errors) // 2]:.1%}, max {errors[-1]:.1%}; 1x1 weights "
                  f"{report.weights_before:,} -> {report.weights_after:,}")
    print("\n| init | " + " | ".join(["before fine-tuning"] + [f"after {e + 1} epoch(s)"
                                                            for e in range(args.finetune_epochs)]) + " |")
    print("|---" * (args.finetune_epochs + 2) + "|")
    for init, accs in rows.items():
        print(f"| {init} | " + " | ".join(f"{a:.2%}" for a in accs) + " |")


if __name__ == "__main__":
    main()
