#!/usr/bin/env bash
# Refresh requirements-lock.txt: the exact version of every package that scripts/venv.sh installs
# (dependencies of dependencies included), the newest that the ranges of requirements.txt allow,
# resolved for this machine's Python and platform (CI's: Python 3.11 on x86_64 Linux).
# pip-tools runs from a throwaway virtual environment, so nothing is added to .venv.
# Usage: bash scripts/lock.sh   (then run the tests: bash scripts/test.sh, and commit the lock)
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/python" -m pip install --quiet "pip-tools==7.6.2"
# A constraint file that pip is configured with here (a machine image may cap torch at the release
# it carries on disk) holds for the lock too, so that the lock installs where it was made.
caps=()
while read -r configured; do caps+=(--constraint "$configured"); done < <(
    "$tools/bin/python" -m pip config list | sed -nE "s/^(global|install|:env:)\.constraint='(.*)'$/\2/p")
CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh" "$tools/bin/pip-compile" --quiet --upgrade --strip-extras \
    --allow-unsafe --no-emit-index-url --no-emit-find-links "${caps[@]}" -o requirements-lock.txt requirements.txt
echo "==> requirements-lock.txt: $(grep -cE '^[A-Za-z0-9]' requirements-lock.txt) packages"
