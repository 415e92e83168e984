"""What a run will cost before it starts: a rough epoch time on this project's CPU, and the warning given
when ``device="auto"`` falls back to the CPU for one of the paper's datasets."""

from __future__ import annotations

import warnings

from .config import TrainConfig

# Training throughput (images/s, one optimizer step of batch 64 or 8, fp32, 2 threads) measured by
# benchmarks/model_bench.py on the project's 2-core CPU on 2026-12-04 (benchmarks/RESULTS.md, section 2):
# (model, image size, strides skipped) -> images/s. A rough guide: other CPUs differ by several times.
CPU_IMAGES_PER_SECOND: dict[tuple[str, int, int], float] = {
    ("efficientnet_b0", 32, 3): 9.9, ("keffnet_b0", 32, 3): 19.2,
    ("efficientnet_b0", 224, 0): 10.3, ("keffnet_b0", 224, 0): 13.9,
}


def cpu_epoch_seconds(cfg: TrainConfig, train_images: int) -> float | None:
    """Seconds one epoch of ``cfg`` would take on the project's 2-core CPU (None: not measured)."""
    rate = CPU_IMAGES_PER_SECOND.get((cfg.model, cfg.image_size, cfg.skip_strides))
    return None if rate is None else train_images / rate


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
