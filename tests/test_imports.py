"""No module of hg3d imports one that imports it back: the graph of module-level imports (read
from each file's syntax tree, so nothing runs) has no cycle. Imports inside functions are left out:
they run late, when both modules are loaded, and are how the commands stay lazy. Importing
``a.b.c`` runs ``a/b/__init__.py`` first, so a package's ``__init__`` is an edge too.

And the light imports, checked in a fresh interpreter: ``sys.modules`` after importing a module or
running a command says what it loaded."""

import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import SRC_DIR

PACKAGE_DIR = os.path.join(SRC_DIR, "hg3d")


def module_names(package_dir, package="hg3d"):
    """Dotted name -> file of every module under ``package_dir`` (a package is its __init__.py)."""
    modules = {}
    for folder, _, files in os.walk(package_dir):
        parts = [package, *os.path.relpath(folder, package_dir).split(os.sep)]
        parts = [p for p in parts if p != "."]
        for name in files:
            if name.endswith(".py"):
                dotted = parts if name == "__init__.py" else [*parts, name[:-3]]
                modules[".".join(dotted)] = os.path.join(folder, name)
    return modules


def _targets(node, module, is_package):
    """The dotted names a module-level import statement asks for (absolute, candidates)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join([*base, node.module] if node.module else base)
    else:
        prefix = node.module
    # ``from x import y``: y may be a submodule of x or a name defined in x
    return [prefix, *(f"{prefix}.{alias.name}" for alias in node.names)]


def import_graph(modules):
    """Module -> the modules of ``modules`` it imports at module level (the top-level statements,
    also inside top-level if/try blocks)."""
    graph = {}
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        is_package = os.path.basename(path) == "__init__.py"
        edges = set()
        for node in _module_level(tree.body):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = [t for t in _targets(node, module, is_package) if t in modules]
                targets += [parent for t in targets for parent in _packages_of(t) if parent in modules]
                edges.update(t for t in targets if not _is_ancestor(t, module))
        graph[module] = edges
    return graph


def _module_level(statements):
    for node in statements:
        yield node
        if isinstance(node, (ast.If, ast.Try)):
            for block in (
                node.body,
                node.orelse,
                *(h.body for h in getattr(node, "handlers", [])),
                getattr(node, "finalbody", []),
            ):
                yield from _module_level(block)


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state = {}  # module -> "open" while on the path, "done" after

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target, [*path, target])
                if cycle:
                    return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def _packages_of(module):
    """The packages Python imports before ``module`` (``a.b.c`` -> ``a``, ``a.b``)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _is_ancestor(package, module):
    """Whether ``module`` is ``package`` or inside it: Python has imported a module's packages before the
    module itself, so ``from . import x`` names its package but does not import it anew."""
    return module == package or module.startswith(package + ".")


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph(module_names(PACKAGE_DIR))
    assert len(graph) > 40 and graph["hg3d.tools.sample_data"] >= {"hg3d.tools.synthetic", "hg3d.errors"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def package_graph(root, files):
    """The import graph of a package ``pkg`` made of ``files`` (path under it -> source) in ``root``."""
    for name, source in files.items():
        (root / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "pkg" / name).write_text(source)
    return import_graph(module_names(str(root / "pkg"), "pkg"))


def test_a_deliberate_cycle_is_found(tmp_path):
    files = {
        "__init__.py": "",
        "a.py": "import os\n\nfrom .sub.b import thing\n",
        "sub/__init__.py": "",
        "sub/b.py": "try:\n    from ..c import other\nexcept ImportError:\n    pass\n",
        "c.py": "def late():\n    from . import a\n",
    }
    assert find_cycle(package_graph(tmp_path, files)) is None  # c imports a only inside a function
    graph = package_graph(tmp_path, {"c.py": "from pkg import a\n"})
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    assert graph["pkg.a"] == {"pkg.sub.b", "pkg.sub"}  # the package of b is imported first


def test_a_cycle_through_a_package_init_is_found(tmp_path):
    """``a`` imports ``pkg.sub.helper``, whose package's ``__init__`` imports ``b``, which imports
    ``a``: no file names that cycle whole (the layout that once hid smpl -> datasets -> threedpw ->
    smpl behind ``datasets/safe_pickle.py``)."""
    files = {
        "__init__.py": "",
        "a.py": "from .sub.helper import tool\n",
        "sub/__init__.py": "from .b import thing\n",
        "sub/helper.py": "def tool():\n    pass\n",
        "sub/b.py": "from ..a import user\n",
    }
    graph = package_graph(tmp_path, files)
    assert graph["pkg.a"] == {"pkg.sub.helper", "pkg.sub"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub", "pkg.sub.b", "pkg.a"]


HEAVY = ("torch", "cv2", "hg3d.datasets", "hg3d.trainer", "hg3d.metrics")
TRAINING_STACK = ("hg3d.datasets", "hg3d.trainer", "hg3d.metrics")


def loaded_by(code):
    """Which of ``HEAVY`` a fresh interpreter has loaded after running ``code`` (its stdout before
    them, too)."""
    script = f"import sys\n{code}\nprint('@@', *[m for m in {HEAVY!r} if m in sys.modules])"
    env = {**os.environ, "PYTHONPATH": SRC_DIR}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    output, modules = proc.stdout.rsplit("@@", 1)
    return output, set(modules.split())


@pytest.mark.e2e
def test_the_joint_tables_load_neither_torch_nor_opencv():
    assert loaded_by("import hg3d.joints")[1] == set()


@pytest.mark.e2e
def test_the_package_loads_its_api_when_first_asked_for():
    """``import hg3d`` is light; ``hg3d.Estimator`` then imports the predictor (and torch)."""
    assert loaded_by("import hg3d")[1] == set()
    output, loaded = loaded_by("import hg3d\nprint(hg3d.Estimator.__module__, hg3d.PoseTracker.__name__)")
    assert output.split() == ["hg3d.inference", "PoseTracker"] and "torch" in loaded
    assert not loaded & set(TRAINING_STACK)  # the predictor is apart from training and its metrics


@pytest.mark.e2e
@pytest.mark.parametrize(
    "command", ["train", "demo", "export", "sample_data", "prepare_h36m", "view", "triangulate", "fetch"]
)
def test_help_loads_no_torch(command):
    """A command's ``--help`` prints its flags without importing torch."""
    code = f"from hg3d import commands\ntry:\n    commands.{command}(['--help'])\nexcept SystemExit:\n    pass"
    output, loaded = loaded_by(code)
    assert output.startswith("usage: ") and "--help" in output
    assert not loaded & {"torch", "hg3d.trainer"}


@pytest.mark.e2e
def test_viewing_a_result_loads_no_torch(tmp_path):
    """``hg3d-view`` turns a JSON into a page: no network, so no torch."""
    pose = (np.arange(17 * 3).reshape(17, 3) * 10.0).tolist()
    record = {"image": "person.jpg", "people": [{"index": 0, "joints_3d_h36m_mm": pose, "joints_3d_cam_mm": None}]}
    result = tmp_path / "person.json"
    result.write_text(json.dumps(record))
    output, loaded = loaded_by(f"from hg3d import commands\nprint(commands.view([{str(result)!r}]))")
    assert output.splitlines()[-1] == "0" and (tmp_path / "person.html").stat().st_size > 10_000
    assert "torch" not in loaded and not loaded & set(TRAINING_STACK)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "module",
    [
        "hg3d.demo",
        "hg3d.demo.cli",
        "hg3d.demo.build",
        "hg3d.demo.runner",
        "hg3d.deploy.export",
        "hg3d.deploy.onnx_runtime",
    ],
)
def test_the_demo_and_deployment_load_no_training_code(module):
    assert not loaded_by(f"import {module}")[1] & set(TRAINING_STACK)
