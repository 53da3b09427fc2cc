# Sourced by the scripts: make sure .venv exists and matches requirements.txt; sets $PY.
# Re-installs only when requirements.txt changed since the last successful install.
VENV=${HG3D_VENV:-$PWD/.venv}
PY="$VENV/bin/python"
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x "$PY" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "==> installing requirements into $VENV (first run takes a few minutes)"
    [ -x "$PY" ] || python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    "$PY" -m pip install --quiet -r requirements.txt
    echo "$want" > "$STAMP"
fi
export MPLBACKEND=Agg
