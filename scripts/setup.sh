#!/usr/bin/env bash
# Create .venv with everything the course, the library and the tests need (idempotent).
# On Debian as root it also installs Chromium for the real-browser widget test.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
# torchvision's and timm's own EfficientNet-B0, the oracle of tests/test_pretrained.py: wheels only, never
# installed (the torchvision wheel for torch 2.13 is a CUDA build; tests/reference_models.py imports just
# its pure-Python model code, in a subprocess).
wheels=.cache/reference-wheels
if ! ls "$wheels"/torchvision-0.28.0-*.whl "$wheels"/timm-1.0.31-*.whl >/dev/null 2>&1; then
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps -d "$wheels" \
    torchvision==0.28.0 timm==1.0.31
fi
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the browser test will be skipped outside CI"
fi
