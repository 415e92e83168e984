"""``download_cli(argv)``: the body of ``python -m igpw_viz download --dataset NAME [--root DIR]
[--archive PATH]`` — fetch (or import) and verify a dataset, or list the registry."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from .download import (
    ChecksumError,
    DownloadConfig,
    DownloadError,
    copy_into_place,
    data_dir,
    download_file,
    ensure_writable_dir,
    verify_file,
)
from .registry import MALARIA_PATIENT_CSVS, dataset_names, get_spec

__all__ = ["download_cli", "fetch"]


def fetch(name: str, root: str | os.PathLike[str] | None = None, *,
          archive: str | os.PathLike[str] | None = None, offline: bool | None = None,
          config: DownloadConfig | None = None) -> Path:
    """Make the registered archive of ``name`` present and verified in ``<root>/<name>/``: download it,
    or copy in ``archive`` (which must match the registered SHA-256). Returns its path."""
    spec = get_spec(name)
    if spec.archive is None:
        raise ValueError(f"{spec.name} is embedded ({spec.citation}): there is nothing to download")
    dest = data_dir(root) / spec.name
    if archive is not None:
        src = Path(archive).expanduser()
        if not src.is_file():
            raise FileNotFoundError(f"--archive {src} does not exist")
        verify_file(src, spec.archive, progress=True)
        final = dest / spec.archive.filename
        if final.exists():
            verify_file(final, spec.archive)
            return final
        ensure_writable_dir(dest)
        if shutil.disk_usage(dest).free < src.stat().st_size:
            raise OSError(f"not enough free space in {dest} for {src}; free some space or choose another --root")
        return copy_into_place(src, final)
    return download_file(spec.archive, dest, offline=offline, config=config, dataset=spec.name)


def download_cli(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (without the ``download`` word) and fetch; returns a process exit code."""
    ap = argparse.ArgumentParser(prog="python -m igpw_viz download", allow_abbrev=False,
                                 description="Fetch and verify a course dataset.")
    ap.add_argument("--dataset", choices=[*dataset_names(downloadable=True), "all"], help="dataset to fetch")
    ap.add_argument("--root", help="data folder (default $IGPW_DATA_DIR, else the XDG cache folder)")
    ap.add_argument("--archive", help="an archive you already have (verified, then copied into place)")
    ap.add_argument("--patient-csvs", action="store_true",
                    help="also fetch NIH's malaria patient CSVs (no published checksum: unverified)")
    ap.add_argument("--list", action="store_true", help="list datasets, sizes, SHA-256 and URLs")
    args = ap.parse_args(list(argv) if argv is not None else None)
    if args.list or not args.dataset:
        for s in map(get_spec, dataset_names(downloadable=True)):
            a = s.archive
            print(f"{s.name:22s} {a.size or 0:>13,d} B  sha256 {a.sha256}\n{'':22s} {a.url}")
        print(f"data folder: {data_dir(args.root)}")
        return 0
    if args.archive and args.dataset == "all":
        ap.error("--archive needs a single --dataset")
    names = list(dataset_names(downloadable=True)) if args.dataset == "all" else [args.dataset]
    try:
        for n in names:
            path = fetch(n, args.root, archive=args.archive)
            print(f"{n}: {path} (verified)")
        if args.patient_csvs:
            for f in MALARIA_PATIENT_CSVS:
                path = download_file(f, data_dir(args.root) / "malaria", dataset="malaria")
                print(f"malaria patient CSV: {path} (unverified)")
    except (DownloadError, ChecksumError, FileNotFoundError, PermissionError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
