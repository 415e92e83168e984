"""The training engine: configuration and presets (the paper's protocol), the cyclic schedule, run folders
(`runs.py`) and checkpoints, torchrun/DDP plumbing, the loop, and reading runs back (`results.py`)."""

from .checkpoint import ConfigMismatch, load_checkpoint
from .config import DATASETS, MODELS, TrainConfig, model_tag, parse_model_tag, preset
from .loop import NonFiniteLoss, RunResult, TrainingInterrupted, default_run_name, evaluate, train
from .runs import RunFolderExists
from .schedule import CyclicLR, CyclicSchedule

__all__ = ["TrainConfig", "preset", "DATASETS", "MODELS", "model_tag", "parse_model_tag", "CyclicSchedule",
           "CyclicLR", "train", "evaluate", "RunResult", "NonFiniteLoss", "TrainingInterrupted",
           "RunFolderExists", "ConfigMismatch", "load_checkpoint", "default_run_name"]
