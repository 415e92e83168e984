"""Every ```python block of README.md runs, each in a fresh interpreter, and what a `print(...)  # value`
line promises is what it prints (the value up to ", as ..." or " ...": "623226, as published" expects
623226 in the output)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def _promises(code: str) -> list[str]:
    """The values promised by comments after print(...) calls."""
    found = []
    for line in code.splitlines():
        if line.startswith("print(") and "  # " in line:
            comment = line.split("  # ", 1)[1].strip()
            found.append(re.split(r", as | \.\.\.", comment)[0].strip())
    return found


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 2  # the five lines, the two faces, the conventions


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs_and_prints_what_it_says(code, tmp_path):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, f"README block failed:\n{code}\n{done.stderr[-3000:]}"
    for value in _promises(code):
        assert value in done.stdout, f"README promises {value!r}; the block printed:\n{done.stdout}"
