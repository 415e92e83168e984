"""Full-size rehearsal of the paper's three datasets: what a first and a cached ``load_dataset`` cost here,
and what an epoch of notebooks 8-10 would cost on this CPU.

The data hosts are unreachable from this machine, so the script writes synthetic archives with the real
formats, file counts and image sizes (CIFAR-10's python tarball, 50,000 + 10,000 images; Kather 2016's zip
of 5,000 150x150 TIFF tiles in the real folder names; NIH's cell_images.zip of 27,558 PNGs with sizes
spread like the real cells), serves them on loopback with their SHA-256 registered through
``igpw_viz.data.override``, and runs the real path in a fresh process per step: download, verify,
extract, decode, cache, split. Each step reports wall time and the process's peak memory (ru_maxrss).
Then one timed stretch of training per notebook model (``preset(dataset, tag)``, the notebook's exact
settings, ``limit_train_batches``) gives images/s and the projected epoch and run time.

    python benchmarks/full_scale.py [--datasets cifar10,colorectal_histology,malaria] [--work DIR]
                                    [--train-batches 8] [--write FILE]

Archives are kept in ``--work`` (default /tmp/igpw_full_scale) and reused by later runs; every data folder
is fresh. Results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import http.server
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

DATASETS = ("cifar10", "colorectal_histology", "malaria")
NOTEBOOK_TAGS = {"cifar10": ("baseline", "v2-16", "v2-32"), "colorectal_histology": ("baseline", "v2-16"),
                 "malaria": ("baseline", "v2-16", "v2-32")}  # notebooks 08, 09, 10 (their TAGS)
TARGETS = {"cached_s": 10.0, "first_peak_gb": 8.0, "malaria_first_s": 600.0}  # issue 13's targets


# --------------------------------------------------------------------------- synthetic archives
def _cell_size(rng: np.random.Generator) -> tuple[int, int]:
    """NIH cells are roughly square, mostly 100-170 px, a few from 40 up to about 390 px."""
    if rng.random() < 0.01:
        side = int(rng.integers(40, 391))
        return side, int(np.clip(side + rng.integers(-20, 21), 40, 390))
    h = int(np.clip(rng.normal(135, 18), 40, 390))
    return h, int(np.clip(h + rng.normal(0, 8), 40, 390))


def _cell_image(rng: np.random.Generator, label: int, _classes: int, h: int, w: int) -> np.ndarray:
    """A stained cell on a black background, as the real crops: textured inside (2x2-pixel grain, so that
    PNG sizes come out near the real 12.8 KB average), flat outside."""
    yy, xx = np.mgrid[0:h, 0:w]
    inside = ((yy - h / 2) / (h / 2.1)) ** 2 + ((xx - w / 2) / (w / 2.1)) ** 2 <= 1.0
    img = np.zeros((h, w, 3), np.uint8)
    colour = np.array([200, 120, 150]) + rng.normal(0, 6, 3)
    grain = rng.normal(0, 10, (-(-h // 2), -(-w // 2), 3))
    texture = colour + np.repeat(np.repeat(grain, 2, 0), 2, 1)[:h, :w]
    if label == 0:  # parasitized: a dark purple spot
        cy, cx = rng.integers(h // 4, 3 * h // 4), rng.integers(w // 4, 3 * w // 4)
        spot = (yy - cy) ** 2 + (xx - cx) ** 2 <= (min(h, w) / 10) ** 2
        texture[spot] = (90, 40, 120)
    img[inside] = np.clip(texture[inside], 0, 255).astype(np.uint8)
    return img


def archive_bytes(name: str) -> bytes:
    from igpw_viz.data import fixtures

    if name == "cifar10":
        return fixtures.cifar_archive_bytes(per_batch=10_000, test=10_000)
    if name == "colorectal_histology":
        return fixtures.kather_archive_bytes(per_class=625)
    return fixtures.malaria_archive_bytes(per_class=13_779, sizes=_cell_size, image=_cell_image)


def ensure_archive(name: str, folder: Path) -> tuple[Path, int, str, float]:
    """The synthetic archive (written once, then reused): path, bytes, SHA-256, seconds spent writing."""
    from igpw_viz.data import get_spec

    path = folder / get_spec(name).archive.filename
    stamp = path.with_name(path.name + ".sha256")
    t = time.perf_counter()
    if not (path.is_file() and stamp.is_file()):
        data = archive_bytes(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".writing")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        stamp.write_text(hashlib.sha256(data).hexdigest())
    return path, path.stat().st_size, stamp.read_text().strip(), time.perf_counter() - t


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: ANN002 - the server's access log is not the report
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# --------------------------------------------------------------------------- steps, each in a fresh process
def _spec(args: argparse.Namespace):  # noqa: ANN202 - a DatasetSpec
    from igpw_viz.data import RemoteFile, get_spec

    spec = get_spec(args.dataset)
    remote = RemoteFile(spec.archive.filename, args.url, args.size, args.sha256, note="full-size rehearsal")
    return spec.replace(archive=remote)


def child_load(args: argparse.Namespace) -> dict:
    from igpw_viz.data import load_dataset, override

    t = time.perf_counter()
    with override(_spec(args)):
        data = load_dataset(args.dataset, root=args.root, progress=False)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "train": len(data.train), "val": len(data.val), "test": len(data.test),
            "image_size": data.image_size}


def child_train(args: argparse.Namespace) -> dict:
    import torch

    from igpw_viz.data import load_dataset, override
    from igpw_viz.training import preset, train

    torch.set_num_threads(args.threads)
    with override(_spec(args)):
        data = load_dataset(args.dataset, root=args.root, progress=False)
        cfg = preset(args.dataset, args.tag, epochs=1, limit_train_batches=args.train_batches,
                     limit_eval_batches=1, progress=False, data_root=args.root, device="cpu",
                     threads=args.threads)
        result = train(cfg, runs_root=Path(args.root) / "runs", data=data)
    row = result.history[0]
    return {"images_per_s": row["images_per_s"], "train_images": len(data.train),
            "epochs": preset(args.dataset, args.tag).epochs,  # the paper's, not this stretch's one
            "image_size": cfg.image_size, "batch": cfg.batch_size,
            "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def run_child(step: str, **kw: object) -> dict:
    argv = [sys.executable, __file__, "--child", step]
    for key, value in kw.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    t = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{step} {kw.get('dataset')} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t  # with Python and torch start-up
    return result


def du_gb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e9


# --------------------------------------------------------------------------- report
def _hours(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--work", default="/tmp/igpw_full_scale", help="archives (kept) and data folders")
    ap.add_argument("--train-batches", type=int, default=8, help="timed training batches per model")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--write", help="append the Markdown report to this file")
    ap.add_argument("--child", choices=["load", "train"], help=argparse.SUPPRESS)
    for hidden in ("dataset", "url", "sha256", "root", "tag"):
        ap.add_argument(f"--{hidden}", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps((child_load if args.child == "load" else child_train)(args)))
        return

    import torch

    work = Path(args.work)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    bad = sorted(set(names) - set(DATASETS))
    if bad:
        ap.error(f"--datasets: unknown {', '.join(bad)}; choose from {', '.join(DATASETS)}")
    lines = [f"### Full-size rehearsal ({datetime.date.today()})", "",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
             f"Python {platform.python_version()}; {args.threads} threads; archives served on loopback.", "",
             "| dataset | archive | first load | peak memory | cached load (process) | peak memory | disk "
             "| images (train / val / test) |",
             "|---|---|---|---|---|---|---|---|"]
    train_lines = ["", "| dataset | model | size | batch | images/s | epoch (projected) | paper run |",
                   "|---|---|---|---|---|---|---|"]
    server, base = serve(work / "archives")
    try:
        for name in names:
            path, size, sha, gen_s = ensure_archive(name, work / "archives")
            print(f"{name}: archive {size / 1e6:.0f} MB ({gen_s:.0f} s to write or find)", flush=True)
            root = work / "data" / name
            shutil.rmtree(root, ignore_errors=True)
            common = {"dataset": name, "url": f"{base}/{path.name}", "size": size, "sha256": sha, "root": root}
            first = run_child("load", **common)
            disk = du_gb(root)
            cached = run_child("load", **common)
            print(f"  first load {first['seconds']:.1f} s, peak {first['peak_gb']:.2f} GB; cached "
                  f"{cached['seconds']:.2f} s, peak {cached['peak_gb']:.2f} GB; disk {disk:.2f} GB", flush=True)
            lines.append(f"| {name} | {size / 1e6:.0f} MB | {first['seconds']:.1f} s | {first['peak_gb']:.2f} GB | "
                         f"{cached['seconds']:.2f} s ({cached['process_s']:.1f} s) | {cached['peak_gb']:.2f} GB | "
                         f"{disk:.2f} GB | "
                         f"{first['train']:,} / {first['val']:,} / {first['test']:,} at "
                         f"{first['image_size']} px |")
            for tag in NOTEBOOK_TAGS[name]:
                r = run_child("train", tag=tag, train_batches=args.train_batches, threads=args.threads, **common)
                epoch = r["train_images"] / r["images_per_s"]
                print(f"  {tag}: {r['images_per_s']:.1f} images/s, epoch {_hours(epoch)}, "
                      f"{r['epochs']} epochs {_hours(epoch * r['epochs'])}", flush=True)
                train_lines.append(f"| {name} | {tag} | {r['image_size']} px | {r['batch']} | "
                                   f"{r['images_per_s']:.1f} | {_hours(epoch)} | {r['epochs']} epochs: "
                                   f"{_hours(epoch * r['epochs'])} |")
            shutil.rmtree(root, ignore_errors=True)
    finally:
        server.shutdown()
    lines += train_lines + ["", f"Targets: cached load < {TARGETS['cached_s']:.0f} s, first-load peak < "
                            f"{TARGETS['first_peak_gb']:.0f} GB, first load of malaria < "
                            f"{TARGETS['malaria_first_s'] / 60:.0f} min. Training: {args.train_batches} batches "
                            "per model after data loading, `preset(dataset, tag)` settings, fp32 on the CPU."]
    report = "\n".join(lines)
    print("\n" + report)
    if args.write:
        with open(args.write, "a") as f:
            f.write("\n" + report + "\n")


if __name__ == "__main__":
    main()
