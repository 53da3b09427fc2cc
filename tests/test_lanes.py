"""The test lanes hold: every test that runs a command in a subprocess (directly, through a helper
or through a fixture) is marked ``e2e``, so ``scripts/test.sh --fast`` never starts one, and the
fast lane leaves out exactly the markers that pytest.ini registers; the shared helpers live in
tests/helpers, not in conftest.py."""

import ast
import configparser
import glob
import os
import re

from helpers import REPO_DIR

TESTS_DIR = os.path.join(REPO_DIR, "tests")
# What starts another process: the subprocess module's calls and the torchrun / pip helpers use them.
PROCESS_CALLS = {"subprocess.run", "subprocess.Popen", "subprocess.check_output", "subprocess.check_call"}


def called_names(node):
    """The dotted names ``node`` calls, e.g. ``main_py`` or ``subprocess.run``."""
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            names.add(ast.unparse(call.func))
    return names


def process_starters(trees):
    """Names of the functions (helpers and fixtures, in any of ``trees``) that start a process,
    directly or through one another."""
    functions = {f.name: f for tree in trees for f in tree.body if isinstance(f, ast.FunctionDef)}
    starters, grew = set(), True
    while grew:
        found = {
            name
            for name, f in functions.items()
            if called_names(f) & (PROCESS_CALLS | starters)
            or {a.arg for a in f.args.args} & (starters - {name})
            and not name.startswith("test_")
        }
        grew, starters = not found <= starters, starters | found
    return starters


def marks(decorators):
    return {ast.unparse(d).removeprefix("pytest.mark.").split("(")[0] for d in decorators}


def module_marks(tree):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, ast.List) else [node.value]
            return marks(values)
    return set()


def test_every_test_that_starts_a_process_is_marked_e2e():
    shared = [ast.parse(open(os.path.join(TESTS_DIR, p)).read()) for p in ("conftest.py", "helpers/__init__.py")]
    unmarked = []
    for path in sorted(glob.glob(os.path.join(TESTS_DIR, "test_*.py"))):
        tree = ast.parse(open(path).read())
        starters = process_starters([*shared, tree])
        for f in tree.body:
            if not (isinstance(f, ast.FunctionDef) and f.name.startswith("test_")):
                continue
            starts = called_names(f) & (PROCESS_CALLS | starters) or {a.arg for a in f.args.args} & starters
            if starts and "e2e" not in marks(f.decorator_list) | module_marks(tree):
                unmarked.append(f"{os.path.basename(path)}::{f.name} ({', '.join(sorted(starts))})")
    assert unmarked == []


def test_the_fast_lane_leaves_out_the_registered_markers():
    ini = configparser.ConfigParser()
    ini.read(os.path.join(REPO_DIR, "pytest.ini"))
    registered = {line.split(":")[0].strip() for line in ini["pytest"]["markers"].strip().splitlines()}
    assert registered == {"slow", "browser", "e2e"} and "--strict-markers" in ini["pytest"]["addopts"]
    script = open(os.path.join(REPO_DIR, "scripts", "test.sh")).read()
    expression = re.search(r'-m "([^"]+)"', script).group(1)
    assert set(re.findall(r"not (\w+)", expression)) == registered


def test_shared_helpers_come_from_the_helpers_package():
    """conftest.py holds fixtures only; a test imports constants and helpers from tests/helpers."""
    importers = [
        os.path.relpath(path, TESTS_DIR)
        for path in glob.glob(os.path.join(TESTS_DIR, "**", "*.py"), recursive=True)
        if re.search(r"^\s*(from conftest import|import conftest)", open(path).read(), re.M)
    ]
    assert importers == []
