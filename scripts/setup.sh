#!/usr/bin/env bash
# Set up everything from nothing: a virtual environment in .venv, pinned dependencies, the index.
# Quick when run again: the install step is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PYTHON" --version)" >&2
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.wegweiser-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing dependencies (first run takes a few minutes)" >&2
  # torch first, pinned: the CPU build is on this machine's disk; an unpinned torch pulls a CUDA build.
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[st,dev]"
  echo "$want" > "$stamp"
fi

# Validate the curated content, then build the vector index if content or model changed.
.venv/bin/wegweiser knowledge validate
.venv/bin/wegweiser index build
