"""Datasets for the course's training runs (CIFAR-10, Kather 2016 colorectal histology, NIH malaria):
registry, verified downloads, safe archive reading, cached decoding, the paper's splits, and a batched
on-device augmentation pipeline. Entry point: ``load_dataset``."""

from .archives import DEFAULT_LIMITS, ArchiveLimits, UnsafeArchiveError, safe_extract_tar, safe_unpickle
from .cli import download_cli, fetch
from .download import (
    ChecksumError,
    DownloadConfig,
    DownloadError,
    OfflineError,
    RedirectRefused,
    data_dir,
    download_file,
    sha256_file,
    verify_file,
)
from .loaders import SPLITS, load_dataset
from .pipeline import AugmentConfig, DeviceBatches, paper_augment
from .registry import (
    MALARIA_PATIENT_CSVS,
    REGISTRY,
    DatasetSpec,
    RemoteFile,
    dataset_names,
    get_spec,
    override,
)
from .views import DatasetSplits, ImageView, Split

__all__ = [
    "load_dataset",
    "SPLITS",
    "DatasetSplits",
    "Split",
    "ImageView",
    "DatasetSpec",
    "RemoteFile",
    "REGISTRY",
    "MALARIA_PATIENT_CSVS",
    "get_spec",
    "dataset_names",
    "override",
    "data_dir",
    "download_file",
    "verify_file",
    "sha256_file",
    "DownloadConfig",
    "DownloadError",
    "OfflineError",
    "ChecksumError",
    "UnsafeArchiveError",
    "RedirectRefused",
    "ArchiveLimits",
    "DEFAULT_LIMITS",
    "safe_extract_tar",
    "safe_unpickle",
    "AugmentConfig",
    "DeviceBatches",
    "paper_augment",
    "download_cli",
    "fetch",
]
