#!/usr/bin/env bash
# Set up, then run the linters and the whole test suite (the same command CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The Rasa backend's integration test needs a real Rasa 3.6 (Python 3.10 venv, ~2.7 GB, trained once).
.venv/bin/wegweiser nlu rasa-setup
# The console's browser tests drive Debian's Chromium through Playwright (its own download is not used).
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Debian's chromium for the browser tests" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/ruff check .
.venv/bin/mypy .
exec .venv/bin/pytest "$@"
