#!/usr/bin/env bash
# Create .venv with the pinned dependencies and the playlistgen package (editable). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt 2>&1 | grep -v "is ignored" || true
.venv/bin/pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import torch, transformers, accelerate, dvc, playlistgen" \
  || { echo "setup failed: a dependency did not install; see the pip output above" >&2; exit 1; }
