#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check CI runs: lint, library tests, notebooks, book.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MPLBACKEND=Agg
.venv/bin/ruff check .
.venv/bin/python -m pytest tests
