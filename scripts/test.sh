#!/usr/bin/env bash
# Create/refresh .venv from requirements.txt when needed, then run the test suite.
# Usage: bash scripts/test.sh [--fast] [pytest args...]
#   --fast: leave out the tests marked slow, browser or e2e (pytest.ini says what each means);
#           CI runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
if [ "${1:-}" = "--fast" ]; then
    shift
    exec "$PY" -m pytest -m "not slow and not browser and not e2e" "$@"
fi
exec "$PY" -m pytest "$@"
