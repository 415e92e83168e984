"""Hostile and mistaken command lines: each gives one line ``error: ...`` naming the option, exit 2; no
abbreviated options; ``plan`` without torch; progress on stderr, results on stdout; every hint names an
option or command that exists."""

import argparse
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from igpw_viz.cli import build_parser, main

PACKAGE = Path(__file__).resolve().parents[1] / "igpw_viz"


@pytest.mark.parametrize("args,needle", [
    (["plan", "--ic", str(10**9), "--fc", "40"], "--ic"),
    (["plan", "--ic", "240", "--fc", "40", "--ch", "-1"], "--ch"),
    (["plan", "--ic", "2.5", "--fc", "40"], "--ic"),
    (["summary", "--image-size", "100000"], "--image-size"),
    (["summary", "--classes", "0"], "--classes"),
    (["summary", "--skip-strides", "99"], "--skip-strides"),
    (["train", "--image-size", "0"], "--image-size"),
    (["train", "--image-size", "100000"], "--image-size"),
    (["train", "--name", ""], "--name"),
    (["train", "--name", "../x"], "--name"),
    (["train", "--name", "a/b"], "--name"),
    (["train", "--name", ".."], "--name"),
    (["train", "--split", "patient", "--dataset", "cifar10"], "--split"),
    (["train", "--split", "patient"], "--split"),
    (["train", "--split", "paper"], "--split"),  # digits has one split
    (["train", "--augment", "paper"], "--augment"),  # digits are not flip-invariant
    (["train", "--epoch", "1"], "--epoch"),  # no prefix matching
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--epochs", "-3"], "--epochs"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--lr", "inf"], "--lr"),
    (["train", "--lr", "-0.1"], "--lr"),
    (["train", "--lr-floor", "nan"], "--lr-floor"),
    (["train", "--threads", "0"], "--threads"),
    (["train", "--batch-size", "1"], "--batch-size"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--device", "gpu"], "--device"),
    (["train", "--dataset", "mnist"], "--dataset"),
    (["train", "--models", "v3-16"], "--models"),
    (["train", "--models", ","], "--models"),
    (["train", "--resume", "--overwrite", "--name", "x"], "--resume"),
    (["train", "--resume"], "--name"),
    (["train", "--image-size", "9", "--skip-strides", "0", "--models", "v2-8"], "--image-size"),
    (["summary", "--model", "resnet"], "--model"),
    (["compare", "x", "--plot", "out.txt"], "--plot"),
    (["compare", "x", "--plot", "no/such/folder/out.png"], "--plot"),
])
def test_bad_option_is_one_line_naming_it(tmp_path, capsys, args, needle):
    if args[0] == "train":
        args = [*args, "--runs-root", str(tmp_path)]
    rc = main(args)
    captured = capsys.readouterr()
    assert rc == 2, captured
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert needle in captured.err and "Traceback" not in captured.err and "usage:" not in captured.err


def test_a_file_where_a_folder_is_expected(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    for opt in ("--runs-root", "--data-root"):
        for value in (f, f / "below"):
            rc = main(["train", "--dataset", "cifar10", opt, str(value)])
            err = capsys.readouterr().err
            assert rc == 2 and opt in err and "is a file" in err and err.count("\n") == 1, err
    assert main(["compare", str(tmp_path / "nothing-here")]) == 2
    assert "no run folders" in capsys.readouterr().err


def test_every_parser_refuses_abbreviations():
    parsers = [build_parser()]
    for action in parsers[0]._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    assert len(parsers) == 6 and all(not p.allow_abbrev for p in parsers)


def test_plan_runs_without_torch():
    code = ("import sys; sys.modules['torch'] = None\nfrom igpw_viz.cli import main\n"
            "rc = main(['plan', '--ic', '240', '--fc', '40'])\nprint('RC', rc)\n"
            "rc = main(['plan', '--ic', '240', '--fc', '40', '--ch', '0'])\nprint('RC', rc)\n"
            "rc = main(['plan', '--ic', '7', '--fc', '5', '--ch', '3', '--scheme', 'v1'])\nprint('RC', rc)\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("RC 0") == 2 and "RC 2" in p.stdout and "240 -> 40" in p.stdout
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: argument --ch"), p.stderr


def test_progress_goes_to_stderr_results_to_stdout(tmp_path):
    cmd = [sys.executable, "-m", "igpw_viz", "train", "--models", "v2-8", "--smoke", "--image-size", "8",
           "--skip-strides", "2", "--device", "cpu", "--runs-root", str(tmp_path), "--name", "p"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    assert "\r" not in p.stdout
    assert "epoch   1/1" in p.stdout and "kEffNet-B0 V2-8" in p.stdout and "test accuracy" in p.stdout
    assert "epoch 1/1" in p.stderr and "it/s" in p.stderr  # the progress bar


def _options() -> set[str]:
    opts = {"--help"}
    parsers = [build_parser()]
    for action in parsers[0]._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    for p in parsers:
        for action in p._actions:
            opts.update(action.option_strings)
    return opts


def _message_strings(path: Path) -> list[str]:
    """The string literals of a module that are not docstrings (messages, hints, help texts)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.ClassDef,
            ast.FunctionDef)) and n.body and isinstance(n.body[0], ast.Expr)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_every_hint_names_an_option_that_exists():
    """The options named in the messages of the CLI and the training package all exist (in the train,
    compare, plan or summary parser)."""
    files = [PACKAGE / "cli.py", *sorted((PACKAGE / "training").glob("*.py"))]
    texts = [t for f in files for t in _message_strings(f)]
    named = {m for t in texts for m in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", t)}
    assert {"--resume", "--name", "--overwrite", "--lr"} <= named
    assert named <= _options(), sorted(named - _options())
    commands = {m for t in texts for m in re.findall(r"python -m igpw_viz (\w+)", t)}
    assert commands <= {"train", "compare", "plan", "summary", "download"}, commands
