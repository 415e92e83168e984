"""The training engine: configuration and presets (the paper's protocol), the cyclic schedule, run folders
and checkpoints, torchrun/DDP plumbing, and the loop. ``igpw_viz.train`` re-exports the public names."""

from .checkpoint import ConfigMismatch, RunFolderExists, load_checkpoint
from .config import DATASETS, MODELS, TrainConfig, model_tag, parse_model_tag, preset
from .loop import NonFiniteLoss, RunResult, TrainingInterrupted, default_run_name, evaluate, train
from .schedule import CyclicLR, CyclicSchedule

__all__ = ["TrainConfig", "preset", "DATASETS", "MODELS", "model_tag", "parse_model_tag", "CyclicSchedule",
           "CyclicLR", "train", "evaluate", "RunResult", "NonFiniteLoss", "TrainingInterrupted",
           "RunFolderExists", "ConfigMismatch", "load_checkpoint", "default_run_name"]
