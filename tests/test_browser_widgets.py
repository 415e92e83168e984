"""Real-browser check: JupyterLab on loopback, a notebook calling `explore_layer()` in headless Chromium;
move a slider and see the rendered output change. Screenshots are saved under pytest's tmp_path.

Needs Debian's chromium (/usr/bin/chromium) and Playwright's Python package; skipped locally when they
are missing, a failure on CI (CI=true).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "explore", "metadata": {}, "outputs": [],
               "source": ["from igpw_viz.viz.widgets import explore_layer\n",
                          "explore_layer(40, 24, 16, 'v2')"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser test: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def _output_text(page) -> str:
    return page.locator(".jp-OutputArea-output pre").all_inner_texts()


def _run_all(page) -> None:
    """Run > Run All Cells through the menu bar, as a student would."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def test_explore_layer_in_real_browser(tmp_path):
    _require(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "Playwright's Python package is missing (pip install playwright)")
    jupyter = Path(sys.executable).with_name("jupyter")
    _require(jupyter.exists() or shutil.which("jupyter") is not None, "jupyter is not installed")

    root, home, shots = tmp_path / "root", tmp_path / "home", tmp_path / "screenshots"
    for d in (root, home, shots):
        d.mkdir()
    (root / "explore.ipynb").write_text(json.dumps(NOTEBOOK))
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "ws"),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), MPLBACKEND="Agg")
    log = tmp_path / "jupyter.log"
    cmd = [str(jupyter) if jupyter.exists() else "jupyter", "lab", "--no-browser", "--allow-root",
           "--ip=127.0.0.1", f"--port={port}", f"--ServerApp.token={token}",
           f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with open(log, "w") as log_file:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
                                         timeout=30_000)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(30_000)
                page.goto(f"{base}/lab/tree/explore.ipynb?token={token}", timeout=45_000)
                editor = page.locator(".jp-Cell .cm-content").first
                editor.wait_for(state="visible", timeout=45_000)
                # wait until the kernel is connected and idle, then Run > Run All Cells
                page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=45_000)
                _run_all(page)
                page.get_by_text("768 instead of 960").first.wait_for(timeout=60_000)
                page.locator(".jp-OutputArea-output img").first.wait_for(timeout=30_000)
                before_text = "\n".join(_output_text(page))
                before_img = page.locator(".jp-OutputArea-output img").first.get_attribute("src")
                first = shots / "01_before.png"
                page.screenshot(path=str(first), full_page=True)
                assert "40 -> 24" in before_text

                # move the Ic slider with the keyboard (two steps right), which fires noUiSlider's
                # change event: continuous_update=False updates on release
                handle = page.locator(".widget-slider .noUi-handle").first
                handle.focus()
                handle.press("ArrowRight")
                handle.press("ArrowRight")
                page.get_by_text("42 -> 24").first.wait_for(timeout=30_000)
                page.wait_for_function(
                    "(src) => { const i = document.querySelector('.jp-OutputArea-output img');"
                    " return i && i.getAttribute('src') !== src; }", arg=before_img, timeout=30_000)
                after_text = "\n".join(_output_text(page))
                after_img = page.locator(".jp-OutputArea-output img").first.get_attribute("src")
                second = shots / "02_after.png"
                page.screenshot(path=str(second), full_page=True)
                print(f"screenshots: {first} {second}")
                assert after_text != before_text and "42 -> 24" in after_text
                assert "768 instead of 960" not in after_text
                assert after_img != before_img
                readout = page.locator(".widget-readout").first.inner_text()
                assert readout.strip() == "42"
            except Exception:
                failed = shots / "99_failure.png"
                page.screenshot(path=str(failed), full_page=True)
                print(f"failure screenshot: {failed}\n{log.read_text()[-3000:]}")
                raise
            finally:
                browser.close()
    finally:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, 9)
            proc.wait(timeout=5)
