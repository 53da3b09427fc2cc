#!/usr/bin/env bash
# The test suite at the dependency floors: every `>=floor` of requirements.txt pinned to `==floor`
# (a constraints file made from it), installed into a separate venv, then pytest.
# Keeps the floors in requirements.txt honest. Usage: bash scripts/test_floors.sh [pytest args...]
# The venv is kept (HG3D_FLOORS_VENV, default .venv-floors) and re-installed when requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${HG3D_FLOORS_VENV:-$PWD/.venv-floors}
PY="$VENV/bin/python"
STAMP="$VENV/.requirements.sha256"
CONSTRAINTS="$VENV/floors.txt"
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x "$PY" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "==> installing the floors of requirements.txt into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    # "name>=1.2,<2" -> "name==1.2"; every requirement must declare a floor.
    sed -E -n 's/^([A-Za-z0-9_.-]+)>=([^,; ]+).*/\1==\2/p' requirements.txt > "$CONSTRAINTS"
    missing=$(grep -cvE '^\s*(#|$)' requirements.txt)
    [ "$(wc -l < "$CONSTRAINTS")" -eq "$missing" ] || { echo "every line of requirements.txt needs a >= floor"; exit 1; }
    "$PY" -m pip install --quiet -r requirements.txt -c "$CONSTRAINTS"
    echo "$want" > "$STAMP"
fi
"$PY" -m pip freeze | grep -iE "^($(sed -E 's/==.*//' "$CONSTRAINTS" | paste -sd'|'))==" | paste -sd' '
export MPLBACKEND=Agg
exec "$PY" -m pytest "$@"
