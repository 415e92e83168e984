"""A real full disk while a run writes its checkpoint: one line naming the file and saying to free space,
the previous last.pt intact, no temporary file left, and --resume works once space is back.

The disk is a 24 MiB tmpfs mounted for the test (ENOSPC) when mounting is permitted (we run as root);
otherwise the process's file-size limit (RLIMIT_FSIZE, EFBIG), which needs no privilege. Both are the
kernel refusing a write; nothing is mocked."""

import os
import subprocess
import sys
import textwrap
import uuid

SCRIPT = textwrap.dedent("""
    import os, resource, signal, sys, torch
    from igpw_viz.cli import main
    disk, mode = sys.argv[1], sys.argv[2]
    common = ["train", "--models", "v2-8", "--smoke", "--image-size", "8", "--skip-strides", "2", "--device",
              "cpu", "--no-progress", "--runs-root", disk, "--name", "r"]
    assert main(common) == 0
    good = open(os.path.join(disk, "r", "last.pt"), "rb").read()
    if mode == "tmpfs":  # fill the disk, leaving a few KiB
        with open(os.path.join(disk, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"x" * 65536)
                    f.flush()
            except OSError:
                pass
        os.truncate(os.path.join(disk, "filler"), os.path.getsize(os.path.join(disk, "filler")) - 8192)
    else:  # every file this process writes is limited to 8 KiB (SIGXFSZ ignored: write gets EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, resource.RLIM_INFINITY))
    rc = main([*common, "--resume", "--epochs", "2"])
    after = open(os.path.join(disk, "r", "last.pt"), "rb").read()
    left = [n for n in os.listdir(os.path.join(disk, "r")) if n.endswith(".tmp")]
    if mode == "tmpfs":
        os.unlink(os.path.join(disk, "filler"))
    else:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    rc2 = main([*common, "--resume", "--epochs", "2"])
    epoch = torch.load(os.path.join(disk, "r", "last.pt"), weights_only=True)["epoch"]
    print("RESULT", rc, after == good, left, rc2, epoch, file=sys.stderr)
""")


def _mount_tmpfs(path) -> bool:
    path.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", f"igpw-test-{uuid.uuid4().hex[:8]}", str(path)],
                       capture_output=True)
    return p.returncode == 0


def test_full_disk_names_the_file_and_keeps_the_last_checkpoint(tmp_path):
    disk = tmp_path / "disk"
    mode = "tmpfs" if _mount_tmpfs(disk) else "fsize"
    try:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        p = subprocess.run([sys.executable, "-c", SCRIPT, str(disk), mode], capture_output=True, text=True,
                           timeout=600, env=env)
    finally:
        if mode == "tmpfs":
            subprocess.run(["umount", str(disk)], check=True)
    assert "RESULT" in p.stderr, p.stdout[-2000:] + p.stderr[-3000:]
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in p.stderr, p.stderr
    err = errors[0]
    assert str(disk / "r") in err and "free space" in err, err
    assert ("no space left" if mode == "tmpfs" else "file too large") in err, err
    result = p.stderr.split("RESULT", 1)[1].split()
    rc, intact, left, rc2, epoch = result[0], result[1], result[2], result[3], result[4]
    assert rc == "1" and intact == "True" and left == "[]", (mode, result)
    assert rc2 == "0" and epoch == "1", (mode, result)  # resumed after space came back: epoch 2 saved
