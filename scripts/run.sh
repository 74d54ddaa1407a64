#!/usr/bin/env bash
# Set up, then run the bot: the Telegram bot when TELEGRAM_BOT_TOKEN is set, else a local terminal chat.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/wegweiser run "$@"
