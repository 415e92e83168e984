#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check CI runs: lint, library tests, notebooks, book.
# Tests marked `slow` (an inductor compile of a whole training step, minutes on 2 cores) are skipped;
# run them with: .venv/bin/python -m pytest -m slow tests
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash scripts/setup.sh
echo "== setup done in $((SECONDS - start)) s"
export MPLBACKEND=Agg
export IGPW_REQUIRE_CPU_WARP=1  # the fused CPU augmentation kernel must build here (tests fail, not skip)
echo "== ruff"
.venv/bin/ruff check .
echo "== library tests"
t=$SECONDS
.venv/bin/python -m pytest -m "not slow" -p no:cacheprovider --durations=10 tests
echo "== library tests took $((SECONDS - t)) s"
echo "== notebooks and book"
t=$SECONDS
bash scripts/test_notebooks.sh
echo "== notebooks and book took $((SECONDS - t)) s; everything $((SECONDS - start)) s"
