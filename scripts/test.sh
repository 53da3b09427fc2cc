#!/usr/bin/env bash
# Create/refresh .venv from requirements.txt when needed, then run the whole test suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
exec "$PY" -m pytest "$@"
