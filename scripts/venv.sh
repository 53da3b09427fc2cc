# Sourced by the scripts: make sure .venv exists and holds hg3d installed in editable mode with
# its requirements and the dev tools (pip install -e .[dev]) at the exact versions of
# requirements-lock.txt (refreshed by scripts/lock.sh); sets $PY.
# HG3D_TORCH=cpu installs PyTorch's CPU-only wheels (no CUDA libraries) from PyTorch's own index;
# set it when the venv is first made (to switch an existing one, remove .venv).
# Re-installs only when requirements.txt, pyproject.toml, the lock or HG3D_TORCH changed since the
# last successful install.
VENV=${HG3D_VENV:-$PWD/.venv}
PY="$VENV/bin/python"
STAMP="$VENV/.hg3d-install.sha256"
LOCK=requirements-lock.txt
TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
case "${HG3D_TORCH:-}" in
    "" | cpu) ;;
    *) echo "error: HG3D_TORCH=$HG3D_TORCH is not known: leave it unset (PyPI's torch) or set it to cpu" >&2; return 2 ;;
esac
want=$( (cat requirements.txt pyproject.toml "$LOCK" && echo "torch=${HG3D_TORCH:-}") | sha256sum | cut -d' ' -f1)
if [ ! -x "$PY" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "==> installing hg3d (editable) and its requirements into $VENV (first run takes a few minutes)"
    [ -x "$PY" ] || python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    # The lock holds for the Python it was made with (its header says which); another Python gets
    # the newest versions that the ranges allow.
    locked_python=$(sed -n -E 's/.*pip-compile with Python ([0-9.]+).*/\1/p' "$LOCK")
    venv_python=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    pins=(-c "$LOCK")
    if [ "$venv_python" != "$locked_python" ]; then
        echo "note: $LOCK is made for Python $locked_python, $VENV has $venv_python: installing without it" >&2
        pins=()
    fi
    if [ "${HG3D_TORCH:-}" = cpu ]; then
        # The locked torch and torchvision releases as PyTorch's CPU builds (2.x.y+cpu satisfies ==2.x.y);
        # their own requirements then come from PyPI with the rest, and none of them is CUDA's.
        "$PY" -m pip install --quiet --no-deps "${pins[@]}" --index-url "$TORCH_CPU_INDEX" torch torchvision
    fi
    "$PY" -m pip install --quiet "${pins[@]}" -e ".[dev]"
    echo "$want" > "$STAMP"
fi
export MPLBACKEND=Agg
