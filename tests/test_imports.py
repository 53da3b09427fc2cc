"""No module of hg3d imports one that imports it back: the graph of module-level imports (read
from each file's syntax tree, so nothing runs) has no cycle. Imports inside functions are left out:
they run late, when both modules are loaded, and are how the commands stay lazy."""

import ast
import os

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
                targets = _targets(node, module, is_package)
                edges.update(t for t in targets if t in modules and not _is_ancestor(t, module))
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


def _is_ancestor(package, module):
    """Whether ``module`` is ``package`` or inside it: Python has imported a module's packages before the
    module itself, so ``from . import x`` names its package but does not import it anew."""
    return module == package or module.startswith(package + ".")


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph(module_names(PACKAGE_DIR))
    assert len(graph) > 40 and graph["hg3d.tools.sample_data"] >= {"hg3d.tools.synthetic", "hg3d.errors"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_a_deliberate_cycle_is_found(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("import os\n\nfrom .sub.b import thing\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("try:\n    from ..c import other\nexcept ImportError:\n    pass\n")
    (package / "c.py").write_text("def late():\n    from . import a\n")
    graph = import_graph(module_names(str(package), "pkg"))
    assert find_cycle(graph) is None  # c imports a only inside a function
    (package / "c.py").write_text("from pkg import a\n")
    assert find_cycle(graph := import_graph(module_names(str(package), "pkg"))) == [
        "pkg.a",
        "pkg.sub.b",
        "pkg.c",
        "pkg.a",
    ]
    assert graph["pkg.a"] == {"pkg.sub.b"}
