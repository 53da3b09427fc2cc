"""The installable package: pyproject.toml and requirements.txt agree, default paths follow
HG3D_HOME / the clone / the current directory, and a wheel installed into a fresh virtual
environment that cannot see this clone gives ``import hg3d`` and commands that behave as the scripts.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest

from helpers import REPO_DIR, SRC_DIR
from hg3d import __version__, options
from hg3d.errors import UserError

pytestmark = pytest.mark.e2e

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra installs tomli
    import tomli as tomllib

# What `import hg3d` must offer in the installed package.
API = ("__version__", "Estimator", "PoseTracker")
# Each command and the script it stands for (run from the clone with this interpreter).
COMMANDS = {
    "hg3d-train": ("main.py", os.path.join(SRC_DIR, "main.py")),
    "hg3d-demo": ("demo.py", os.path.join(SRC_DIR, "demo.py")),
    "hg3d-export": ("export.py", os.path.join(REPO_DIR, "scripts", "export.py")),
    "hg3d-sample-data": ("make_sample_data.py", os.path.join(REPO_DIR, "scripts", "make_sample_data.py")),
    "hg3d-prepare-h36m": ("prepare_h36m.py", os.path.join(REPO_DIR, "scripts", "prepare_h36m.py")),
    "hg3d-view": ("view.py", os.path.join(REPO_DIR, "scripts", "view.py")),
}
SMALL_MODEL = ["--arch", "msra_18", "--input_h", "128", "--input_w", "128", "--gpus", "-1"]


def read_pyproject():
    with open(os.path.join(REPO_DIR, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def normalised(requirement):
    return "".join(requirement.split()).replace('"', "'").lower()


def test_requirements_txt_has_the_ranges_of_pyproject():
    project = read_pyproject()["project"]
    declared = list(project["dependencies"])
    for extra, requirements in project["optional-dependencies"].items():
        own = [r for r in requirements if r.startswith("hg3d[")]
        assert all(r[5:-1] in project["optional-dependencies"] for r in own), f"extra {extra}: {own}"
        declared += [r for r in requirements if r not in own]
    with open(os.path.join(REPO_DIR, "requirements.txt")) as f:
        listed = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    assert sorted(map(normalised, listed)) == sorted(map(normalised, declared))
    assert len(set(map(normalised, declared))) == len(declared)


def test_every_console_script_is_a_command_function():
    from hg3d import commands

    scripts = read_pyproject()["project"]["scripts"]
    assert set(scripts) == set(COMMANDS)
    for target in scripts.values():
        module, function = target.split(":")
        assert module == "hg3d.commands" and callable(getattr(commands, function))


def test_default_paths_follow_hg3d_home_then_the_clone_then_the_current_directory(monkeypatch, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("HG3D_HOME", raising=False)
    assert options.home_dir() == REPO_DIR  # running from the clone: unchanged
    monkeypatch.setenv("HG3D_HOME", str(tmp_path / "home"))
    parsed = options.parse_opts(["--gpus", "-1"], log=lambda _: None)
    assert (parsed.data_dir, parsed.save_dir) == (str(tmp_path / "home" / "data"), str(tmp_path / "home/exp/default"))
    monkeypatch.delenv("HG3D_HOME")
    lib = tmp_path / "lib"  # an installed hg3d: .../lib/python3.x/site-packages/hg3d
    monkeypatch.setattr(options, "SRC_DIR", str(lib / "site-packages"))
    monkeypatch.setattr(options, "REPO_DIR", str(lib))
    assert options.home_dir() == str(work)


def test_errors_name_the_installed_command(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/somewhere/bin/hg3d-train", "--bogus"])
    with pytest.raises(UserError, match=r"unrecognized arguments: --bogus \(see hg3d-train --help\)$"):
        options.parse_opts(None)
    monkeypatch.setattr(sys, "argv", ["main.py", "--bogus"])
    with pytest.raises(UserError, match=r"\(see python main.py --help\)$"):
        options.parse_opts(None)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv holding only the wheel of this project; the dependencies are those of the
    running interpreter, added as a plain path (its .pth files, e.g. an editable hg3d, stay unread)."""
    root = tmp_path_factory.mktemp("package")
    source = root / "source"  # a copy, so that building leaves nothing in the clone
    shutil.copytree(SRC_DIR, source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(os.path.join(REPO_DIR, name), source / name)
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(root / "wheels"), str(source)],
        check=True,
        timeout=300,
    )
    wheel = next((root / "wheels").glob("hg3d-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=120)
    python = str(root / "venv" / "bin" / "python")
    subprocess.run(
        [*pip, "--python", python, "install", "--no-deps", "--no-index", str(wheel)], check=True, timeout=300
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    with open(os.path.join(site, "_hg3d_test_dependencies.pth"), "w") as f:
        f.write("".join(f"{path}\n" for path in deps))
    work = root / "work"  # the user's directory, outside the clone
    work.mkdir()
    return root / "venv" / "bin", work


def run_in(work, *cmd, env=None):
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HG3D_HOME", "PYTHONHOME")}
    clean.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", COLUMNS="400", **(env or {}))
    return subprocess.run([str(c) for c in cmd], cwd=work, env=clean, capture_output=True, text=True, timeout=300)


def test_installed_package_imports_without_the_clone(venv):
    bin_dir, work = venv
    code = (
        f"import hg3d, json, sys; print(hg3d.__file__); print(hg3d.__version__); "
        f"print(all(hasattr(hg3d, name) for name in {API!r})); print(json.dumps(sys.path))"
    )
    proc = run_in(work, bin_dir / "python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    location, version, has_api, path = proc.stdout.splitlines()
    assert location.startswith(str(bin_dir.parent)) and version == __version__ and has_api == "True"
    src = os.path.realpath(SRC_DIR)
    assert not [p for p in json.loads(path) if p and os.path.realpath(p).startswith(src)]


def test_installed_train_help_has_the_flags_and_paths_of_the_current_directory(venv):
    bin_dir, work = venv
    proc = run_in(work, bin_dir / "hg3d-train", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: hg3d-train")
    assert f"(default: {work}/data)" in proc.stdout and f"(default: {work}/exp)" in proc.stdout
    script = run_in(work, sys.executable, COMMANDS["hg3d-train"][1], "--help")
    assert set(re.findall(r"--\w+", proc.stdout)) == set(re.findall(r"--\w+", script.stdout))


def test_installed_demo_writes_what_the_script_writes(venv, resnet18_3d_checkpoint, tmp_path):
    bin_dir, work = venv
    made = run_in(work, bin_dir / "hg3d-sample-data", "--demo_images", "images")
    assert made.returncode == 0, made.stderr
    image = work / "images" / "synthetic_1.jpg"
    proc = run_in(work, bin_dir / "hg3d-demo", "--demo", image, "--load_model", resnet18_3d_checkpoint, *SMALL_MODEL)
    assert proc.returncode == 0, proc.stderr
    out = work / "exp" / "demo"  # the default --out_dir, under the current directory
    assert (out / "synthetic_1_2d.png").is_file()
    script = run_in(
        work,
        sys.executable,
        COMMANDS["hg3d-demo"][1],
        "--demo",
        image,
        "--load_model",
        resnet18_3d_checkpoint,
        "--out_dir",
        tmp_path,
        *SMALL_MODEL,
    )
    assert script.returncode == 0, script.stderr
    with open(out / "synthetic_1.json") as f, open(tmp_path / "synthetic_1.json") as g:
        installed, cloned = json.load(f), json.load(g)
    assert installed == cloned and installed["people"][0]["joints_2d"]


def test_installed_view_carries_three_js(venv):
    """The wheel holds the viewer's package data: the page it writes embeds three.js."""
    bin_dir, work = venv
    (work / "empty.json").write_text('{"people": []}')
    proc = run_in(work, bin_dir / "hg3d-view", "empty.json")
    assert proc.returncode == 0, proc.stderr
    page = (work / "empty.html").read_text()
    assert page.count("data:text/javascript;base64,") == 3 and "{{" not in page
    listing = "import os, hg3d.viewer.page as page; print(*sorted(os.listdir(page.THREE_DIR)))"
    proc = run_in(work, bin_dir / "python", "-c", listing)
    vendored = ["LICENSE", "OrbitControls.js", "SOURCE.md", "three.core.min.js", "three.module.min.js"]
    assert proc.stdout.split() == vendored


@pytest.mark.parametrize(
    "command,args",
    [
        ("hg3d-train", ["--task", "human4d"]),
        ("hg3d-demo", ["--demo", "no_such_image.jpg", "--gpus", "-1"]),
        ("hg3d-export", ["--load_model", "no_such_model.pth", "--out", "x.onnx", "--gpus", "-1"]),
        ("hg3d-sample-data", ["--size", "big"]),
        ("hg3d-prepare-h36m", ["--src", "no_such_release", "--out", "h36m"]),
        ("hg3d-view", ["no_such_result.json"]),
    ],
)
def test_installed_commands_fail_with_the_scripts_one_line_errors(venv, command, args):
    bin_dir, work = venv
    installed = run_in(work, bin_dir / command, *args)
    script_name, script = COMMANDS[command]
    cloned = run_in(work, sys.executable, script, *args)
    assert installed.returncode == cloned.returncode == 2
    assert len(installed.stderr.splitlines()) == 1 and installed.stderr.startswith("error: ")
    assert installed.stderr == cloned.stderr.replace(f"python {script_name}", command)
    assert not list(work.glob("x.onnx"))
