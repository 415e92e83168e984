"""Static checks on the course notebooks (fast; no kernel): numbering, stripped outputs, one setup cell,
no `!pip`, no network outside non-smoke branches, assert lines, tagged error demos, book table of contents."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
# Calls that can reach the network; they may only run where SMOKE is False.
NETWORK_CALLS = {"load_dataset", "fetch", "download_file", "download_cli", "urlopen", "urlretrieve"}
NETWORK_MODULES = {"requests", "urllib", "httpx", "http"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _python(code: str) -> str:
    """Cell source with IPython magics and shell escapes commented out, so `ast` can parse it."""
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebooks_exist_and_are_numbered_in_order():
    assert len(NOTEBOOKS) >= 6
    numbers = []
    for path in NOTEBOOKS:
        m = NAME.match(path.name)
        assert m, f"{path.name}: notebooks are named NN_lower_snake.ipynb"
        numbers.append(int(m.group(1)))
    assert numbers == list(range(1, len(numbers) + 1)), f"numbers must run 1..n without gaps: {numbers}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stripped(path):
    nb = _load(path)
    for i, cell in enumerate(_code_cells(nb)):
        assert cell.get("outputs") == [], f"{path.name} code cell {i} has outputs"
        assert cell.get("execution_count") is None, f"{path.name} code cell {i} has an execution count"
    assert "widgets" not in nb.get("metadata", {}), f"{path.name} stores widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_structure(path):
    nb = _load(path)
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and _source(cells[0]).startswith("# "), \
        f"{path.name}: first cell is the title and learning goal (markdown, '# ...')"
    assert "learning goal" in _source(cells[0]).lower(), f"{path.name}: state the learning goal up front"
    code = _code_cells(nb)
    setup = _source(code[0])
    assert setup.startswith("# Setup"), f"{path.name}: the first code cell is the setup cell"
    assert "SMOKE = " in setup and "%matplotlib inline" in setup and "manual_seed" in setup
    for i, cell in enumerate(code[1:], start=1):
        src = _source(cell)
        assert "SMOKE = " not in src, f"{path.name} code cell {i}: only the setup cell defines SMOKE"
        assert not re.search(r"^\s*(from|import) ", src, re.M), \
            f"{path.name} code cell {i}: imports belong in the setup cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_pip_and_asserts(path):
    nb = _load(path)
    sources = [_source(c) for c in _code_cells(nb)]
    for src in sources:
        assert not re.search(r"^\s*[!%]\s*(pip|conda)\b", src, re.M), f"{path.name}: no !pip / %pip in notebooks"
        assert "pyplot" not in src and "plt." not in src, f"{path.name}: use library figures, not pyplot"
    asserts = sum(len(re.findall(r"^\s*assert ", s, re.M)) for s in sources)
    assert asserts >= 3, f"{path.name}: check the numbers that matter with assert lines (found {asserts})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_error_demos_are_tagged(path):
    """A cell that is meant to raise carries `raises-exception`; other cells must not carry it."""
    nb = _load(path)
    for i, cell in enumerate(_code_cells(nb)):
        tags = cell.get("metadata", {}).get("tags", [])
        if "raises-exception" in tags:
            assert len(_source(cell).strip().splitlines()) <= 3, \
                f"{path.name} code cell {i}: keep an error demo to the failing call"


def _smoke_false_branches(tree: ast.AST):
    """Yield (node, runs_in_smoke) for every node, following `if SMOKE:` / `if not SMOKE:` branches."""
    def is_smoke(test) -> bool | None:
        if isinstance(test, ast.Name) and test.id == "SMOKE":
            return True
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and is_smoke(test.operand):
            return False
        return None

    def walk(node, in_smoke: bool):
        yield node, in_smoke
        if isinstance(node, (ast.If, ast.IfExp)) and is_smoke(node.test) is not None:
            body_smoke = is_smoke(node.test)
            body = node.body if isinstance(node.body, list) else [node.body]
            orelse = node.orelse if isinstance(node.orelse, list) else [node.orelse]
            for child in body:
                yield from walk(child, in_smoke and body_smoke)
            for child in orelse:
                yield from walk(child, in_smoke and not body_smoke)
            return
        for child in ast.iter_child_nodes(node):
            yield from walk(child, in_smoke)

    yield from walk(tree, True)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_network_in_smoke_mode(path):
    """URLs and download calls appear only in branches that run when SMOKE is False, or pass an explicit
    ``offline=`` derived from SMOKE (CI additionally runs the notebooks with IGPW_OFFLINE=1, so a missed
    case fails loudly instead of downloading)."""
    for i, cell in enumerate(_code_cells(_load(path))):
        tree = ast.parse(_python(_source(cell)))
        for node, in_smoke in _smoke_false_branches(tree):
            if not in_smoke:
                continue
            where = f"{path.name} code cell {i}, line {getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not re.search(r"https?://", node.value), f"{where}: URL reachable in smoke mode"
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
                offline = any(k.arg == "offline" and "SMOKE" in ast.unparse(k.value) for k in node.keywords)
                assert offline or (name not in NETWORK_CALLS and owner not in NETWORK_MODULES), \
                    f"{where}: {owner + '.' if owner else ''}{name}() may download; guard it with SMOKE"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.split(".")[0] in NETWORK_MODULES for m in mods), \
                    f"{where}: network module imported"


def test_book_lists_every_notebook():
    toc = (ROOT / "book" / "_toc.yml").read_text(encoding="utf-8")
    listed = re.findall(r"file:\s*notebooks/(\S+)", toc)
    assert listed == [p.stem for p in NOTEBOOKS], "book/_toc.yml lists the notebooks in reading order"
    link = ROOT / "book" / "notebooks"
    assert link.is_symlink() and link.resolve() == (ROOT / "notebooks").resolve()


# -- text sources: each notebook is edited as a jupytext percent-format .py file paired with its .ipynb
def _cells_of(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c["cell_type"], _source(c).strip(), tuple(c.get("metadata", {}).get("tags", ())))
            for c in nb["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_and_its_text_source_agree(path):
    """`jupytext --sync notebooks/*.py` after editing a source; this fails when a pair drifted apart."""
    jupytext = pytest.importorskip("jupytext")
    source = path.with_suffix(".py")
    assert source.exists(), f"{path.name} has no text source {source.name} (jupytext --set-formats ipynb,py:percent)"
    assert _load(path)["metadata"].get("jupytext", {}).get("formats") == "ipynb,py:percent", \
        f"{path.name} is not paired with its .py source"
    from_text = _cells_of(jupytext.read(source))
    stored = _cells_of(_load(path))
    assert len(from_text) == len(stored), f"{source.name} has {len(from_text)} cells, {path.name} {len(stored)}"
    for i, (a, b) in enumerate(zip(from_text, stored, strict=True)):
        assert a == b, f"cell {i} differs between {source.name} and {path.name}: run jupytext --sync {source.name}"


def test_every_text_source_has_its_notebook():
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    assert [p.with_suffix(".ipynb") for p in sources] == NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_an_exercise_with_a_checked_solution(path):
    """A markdown cell poses the exercise; a code cell tagged `solution` (hidden in the book with
    `hide-cell`) answers it and asserts its answer, so nbval checks every solution."""
    nb = _load(path)
    assert any("exercise" in _source(c).lower() for c in nb["cells"] if c["cell_type"] == "markdown"), \
        f"{path.name}: no exercise"
    solutions = [c for c in _code_cells(nb) if "solution" in c.get("metadata", {}).get("tags", [])]
    assert solutions, f"{path.name}: no code cell tagged 'solution'"
    for cell in solutions:
        assert "hide-cell" in cell["metadata"]["tags"], f"{path.name}: solutions are hidden in the book"
        assert re.search(r"^\s*assert ", _source(cell), re.M), f"{path.name}: a solution checks its answer"
