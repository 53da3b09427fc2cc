# Sourced by the scripts: make sure .venv exists and holds hg3d installed in editable mode with
# its requirements and the dev tools (pip install -e .[dev]); sets $PY.
# Re-installs only when requirements.txt or pyproject.toml changed since the last successful install.
VENV=${HG3D_VENV:-$PWD/.venv}
PY="$VENV/bin/python"
STAMP="$VENV/.hg3d-install.sha256"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$PY" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "==> installing hg3d (editable) and its requirements into $VENV (first run takes a few minutes)"
    [ -x "$PY" ] || python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    "$PY" -m pip install --quiet -e ".[dev]"
    echo "$want" > "$STAMP"
fi
export MPLBACKEND=Agg
