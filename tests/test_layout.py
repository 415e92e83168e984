"""The house rules of the package, read from the source (no imports executed): one-way imports between
the layers (core <- nn <- viz; core <- data; nn, data, core <- training), no torch in core, small modules,
and every fact defined in one place."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "igpw_viz"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400

# What each layer may import from the project (besides itself).
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "nn": {"core"},
    "viz": {"core", "nn"},
    "training": {"core", "nn", "data"},
}
HEAVY = {"torch", "matplotlib", "networkx", "ipywidgets", "numpy", "PIL"}  # core stays pure Python


def _layer(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None  # top-level modules (cli, __init__) may use every layer


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute module names imported by ``path`` (relative imports resolved), with line numbers."""
    package = list(("igpw_viz",) + path.relative_to(PACKAGE).parent.parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join(base + ([node.module] if node.module else []))]
                if not node.module:  # from . import x: x may be a module of the package
                    names = [".".join(base + [alias.name]) for alias in node.names]
            else:
                names = [node.module]
            found += [(name, node.lineno) for name in names]
    return found


def test_the_package_has_the_documented_layers():
    layers = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert layers == set(ALLOWED)


@pytest.mark.parametrize("path", [p for p in MODULES if _layer(p)], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_one_way(path):
    layer = _layer(path)
    for name, line in _imports(path):
        top, *rest = name.split(".")
        where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        if top == "igpw_viz":
            assert rest, f"{where}: import from a layer, not the package root"
            other = rest[0]
            assert other == layer or other in ALLOWED[layer], f"{where}: {layer} may use {sorted(ALLOWED[layer])}"
        elif layer == "core":
            assert top not in HEAVY, f"{where}: core is pure Python"


def test_core_loads_without_torch():
    """Importing the plan, the architecture table and the paper's facts pulls in no heavy library."""
    code = ("import sys, igpw_viz, igpw_viz.core.plan, igpw_viz.core.architecture, igpw_viz.core.paper, "
            "igpw_viz.core.files; heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{sorted(HEAVY)!r}); print(heavy); sys.exit(bool(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_are_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines (at most {MAX_LINES})"


# Facts the project once wrote in several places: each must now be assigned in exactly one module.
FACTS = ["SCHEMES", "HEAD_CHANNELS", "STEM_CHANNELS", "PUBLISHED_PARAMETERS", "PAPER_RESULTS", "DATASETS",
         "DATASET_ALIASES", "PROTOCOLS", "MAX_SKIP_STRIDES", "KERAS", "TORCHVISION"]
FUNCTIONS = ["atomic_write_bytes", "atomic_write_text", "new_run_dir", "unique_run_dir", "min_image_size",
             "canonical_dataset", "non_pointwise_parameters"]


def _definitions(name: str, kind: str) -> list[str]:
    pattern = re.compile(rf"^{name}\s*(:[^=]*)?=" if kind == "fact" else rf"^def {name}\(", re.M)
    return [str(p.relative_to(PACKAGE)) for p in MODULES if pattern.search(p.read_text())]


@pytest.mark.parametrize("name", FACTS)
def test_each_fact_is_defined_once(name):
    assert len(_definitions(name, "fact")) == 1, _definitions(name, "fact")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_helper_is_defined_once(name):
    assert len(_definitions(name, "function")) == 1, _definitions(name, "function")


def test_docstrings_cite_only_files_of_the_repository():
    """A reader of the repository cannot open the team's shared notes: code cites docs/ (only docs/ name
    the notes they were written from)."""
    repo = PACKAGE.parent
    sources = MODULES + sorted((repo / "tests").glob("*.py")) + sorted((repo / "benchmarks").glob("*.py"))
    sources += [repo / "README.md"]
    bad = [str(p.relative_to(repo)) for p in sources if "shared/spec" in p.read_text() and p != Path(__file__)]
    assert bad == []
