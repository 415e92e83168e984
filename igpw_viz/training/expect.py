"""What a run will cost before it starts: a rough epoch time on this project's CPU, and the warning given
when ``device="auto"`` falls back to the CPU for one of the paper's datasets."""

from __future__ import annotations

import warnings

from ..core.paper import PAPER_TRAIN_IMAGES
from .config import TrainConfig, model_tag, preset

# Training throughput (images/s) of each notebook's paper configuration (`preset(dataset, tag)`: batch 64,
# the paper's image size and strides and augmentation, fp32, channels_last, 2 threads), measured by
# benchmarks/full_scale.py on the project's 2-core CPU on 2026-12-04 (benchmarks/RESULTS.md, section 9,
# second run):
# (dataset, model tag, image size, strides skipped) -> images/s. A rough guide: other CPUs differ by
# several times.
CPU_IMAGES_PER_SECOND: dict[tuple[str, str, int, int], float] = {
    ("cifar10", "baseline", 224, 0): 8.7, ("cifar10", "v2-16", 32, 3): 20.9, ("cifar10", "v2-32", 32, 3): 18.8,
    ("colorectal_histology", "baseline", 224, 0): 11.1, ("colorectal_histology", "v2-16", 224, 0): 10.7,
    ("malaria", "baseline", 224, 0): 10.5, ("malaria", "v2-16", 224, 0): 10.4, ("malaria", "v2-32", 224, 0): 11.3,
}


def cpu_epoch_seconds(cfg: TrainConfig, train_images: int) -> float | None:
    """Seconds one epoch of ``cfg`` would take on the project's 2-core CPU (None: not measured)."""
    tag = model_tag(cfg.model, cfg.scheme, cfg.channels_per_group)
    rate = CPU_IMAGES_PER_SECOND.get((cfg.dataset, tag, cfg.image_size, cfg.skip_strides))
    return None if rate is None else train_images / rate


def cpu_run_costs(dataset: str, tags: tuple[str, ...] = ("baseline", "v2-16", "v2-32")) -> list[str]:
    """One line per paper run on ``dataset``: image size, epochs and its cost on the project's 2-core CPU
    (what notebooks 8-10 print before anything is trained)."""
    images = PAPER_TRAIN_IMAGES[dataset]
    lines = []
    for tag in tags:
        cfg = preset(dataset, tag)
        epoch = cpu_epoch_seconds(cfg, images)
        cpu = f"{epoch / 60:5.0f} min/epoch, {epoch * cfg.epochs / 3600:6.0f} h in all" if epoch else "not measured"
        lines.append(f"  {tag:9s} {cfg.image_size:>3}px, {cfg.epochs} epochs of {images:,} images: CPU {cpu}")
    return lines


def warn_if_paper_run_on_cpu(cfg: TrainConfig, device_type: str, train_images: int) -> str | None:
    """Warn (and return the message) when ``device="auto"`` found no GPU for a full run on a paper dataset.

    Asking for ``device="cpu"`` explicitly, the embedded digits, or a run limited to a few batches is
    taken as knowing what one does."""
    if cfg.device != "auto" or device_type != "cpu" or cfg.dataset == "digits" or cfg.limit_train_batches:
        return None
    seconds = cpu_epoch_seconds(cfg, train_images)
    cost = (f"about {seconds / 60:.0f} min per epoch, {seconds * cfg.epochs / 3600:.0f} h for {cfg.epochs} "
            "epochs on a 2-core CPU (benchmarks/RESULTS.md)" if seconds else f"{cfg.epochs} epochs on the CPU")
    message = (f"no GPU found (device='auto'): {cfg.dataset} will train on the CPU with the paper's protocol, "
               f"{train_images:,} images per epoch: {cost}. Run it on a GPU, or pass device='cpu' to confirm.")
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    return message
