"""The set-up scripts: requirements-lock.txt pins what requirements.txt allows, and scripts/venv.sh
installs through the lock (HG3D_TORCH=cpu: PyTorch's CPU wheels first), seen through a stand-in
interpreter that records each command instead of installing."""

import os
import re
import shutil
import stat
import subprocess

import pytest
from packaging.requirements import Requirement

from helpers import REPO_DIR

LOCK = "requirements-lock.txt"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pins(path):
    """{normalised name: version} of the ``name==version`` lines of a lock file."""
    with open(path) as f:
        found = [re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line) for line in f]
    return {re.sub(r"[-_.]+", "-", m[1]).lower(): m[2] for m in found if m}


def test_the_lock_pins_every_requirement_within_its_range():
    locked = pins(os.path.join(REPO_DIR, LOCK))
    with open(os.path.join(REPO_DIR, "requirements.txt")) as f:
        requirements = [Requirement(line) for line in map(str.strip, f) if line and not line.startswith("#")]
    outside = []
    for r in requirements:
        if r.marker is not None and not r.marker.evaluate({"python_version": "3.11"}):
            continue  # the lock is made for CI's Python 3.11
        name = re.sub(r"[-_.]+", "-", r.name).lower()
        if name not in locked or not r.specifier.contains(locked[name], prereleases=True):
            outside.append(f"{r} (locked: {locked.get(name)})")
    assert outside == [], "run bash scripts/lock.sh after changing requirements.txt"


@pytest.fixture
def project(tmp_path):
    """A copy of the files venv.sh reads, and a venv whose python logs its arguments (and answers the
    version question with $PYTHON_VERSION)."""
    for name in ("requirements.txt", "pyproject.toml", LOCK, "scripts/venv.sh"):
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        shutil.copy(os.path.join(REPO_DIR, name), tmp_path / name)
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -c ]; then echo "$PYTHON_VERSION"; exit 0; fi  # the version question\n'
        'echo "$*" >> "$(dirname "$0")/../calls.log"\n'
    )
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def locked_python():
    """The Python version that the lock was made for, from its header."""
    with open(os.path.join(REPO_DIR, LOCK)) as f:
        return re.search(r"pip-compile with Python (\d+\.\d+)", f.read())[1]


def source_venv_sh(project, torch=None, python_version=None):
    """Source venv.sh as the scripts do (the venv's Python being ``python_version``, by default the
    lock's): the finished process and the installing calls it made."""
    env = {k: v for k, v in os.environ.items() if k != "HG3D_TORCH"}
    env["HG3D_VENV"] = str(project / "venv")
    env["PYTHON_VERSION"] = python_version or locked_python()
    if torch is not None:
        env["HG3D_TORCH"] = torch
    log = project / "venv" / "calls.log"
    log.unlink(missing_ok=True)
    proc = subprocess.run(
        ["bash", "-c", "set -euo pipefail; source scripts/venv.sh; echo PY=$PY"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    return proc, log.read_text().splitlines() if log.exists() else []


@pytest.mark.e2e
def test_venv_sh_installs_the_package_through_the_lock_and_only_when_an_input_changed(project):
    proc, calls = source_venv_sh(project)
    assert proc.returncode == 0, proc.stderr
    assert f"PY={project}/venv/bin/python" in proc.stdout
    assert calls[-1] == f"-m pip install --quiet -c {LOCK} -e .[dev]"
    assert not any(CPU_INDEX in c for c in calls)
    assert source_venv_sh(project)[1] == []  # nothing changed: no install
    with open(project / LOCK, "a") as f:
        f.write("# refreshed\n")
    assert source_venv_sh(project)[1][-1] == calls[-1]  # the lock is part of the stamp


@pytest.mark.e2e
def test_hg3d_torch_cpu_installs_the_locked_torch_from_pytorchs_cpu_index_first(project):
    source_venv_sh(project)
    proc, calls = source_venv_sh(project, torch="cpu")  # a changed HG3D_TORCH re-installs
    assert proc.returncode == 0, proc.stderr
    cpu = [c for c in calls if CPU_INDEX in c]
    assert cpu == [f"-m pip install --quiet --no-deps -c {LOCK} --index-url {CPU_INDEX} torch torchvision"]
    assert calls.index(cpu[0]) == len(calls) - 2 and calls[-1] == f"-m pip install --quiet -c {LOCK} -e .[dev]"


@pytest.mark.e2e
def test_another_python_than_the_locks_installs_from_the_ranges(project):
    proc, calls = source_venv_sh(project, torch="cpu", python_version="3.10")
    assert proc.returncode == 0, proc.stderr
    assert calls[-2:] == [
        f"-m pip install --quiet --no-deps --index-url {CPU_INDEX} torch torchvision",
        "-m pip install --quiet -e .[dev]",
    ]
    assert f"note: {LOCK} is made for Python {locked_python()}, {project}/venv has 3.10: installing without it" in (
        proc.stderr
    )


@pytest.mark.e2e
def test_an_unknown_hg3d_torch_stops_with_one_line(project):
    proc, calls = source_venv_sh(project, torch="cuda13")
    assert proc.returncode == 2 and calls == []
    assert proc.stderr.strip().splitlines() == [
        "error: HG3D_TORCH=cuda13 is not known: leave it unset (PyPI's torch) or set it to cpu"
    ]
