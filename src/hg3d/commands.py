"""The commands: ``hg3d-train`` (= ``python src/main.py``), ``hg3d-demo``, ``hg3d-export``, ``hg3d-sample-data``,
``hg3d-prepare-h36m``, ``hg3d-view``.

The scripts in src/ and scripts/ call these same functions, so both give the same flags, one-line
errors and exit codes (run.cli: a user error prints ``error: ...`` and exits with status 2). Each
imports its pipeline only when it runs.
"""


def _as_command(entry, argv):
    from .run import cli

    return cli(entry, argv)


def train(argv=None):
    """Train, validate or test (``--test``)."""
    from .run import run

    return _as_command(run, argv)


def demo(argv=None):
    """2D and 3D poses of the person in images, folders or videos."""
    from .demo import run_demo

    return _as_command(run_demo, argv)


def export(argv=None):
    """Export a checkpoint to ONNX or TorchScript."""
    from .export import run_export

    return _as_command(run_export, argv)


def sample_data(argv=None):
    """Synthetic MPII, Human3.6M, 3DPW and MPI-INF-3DHP roots in the real layouts (or the demo's sample photos)."""
    from .tools.make_sample_data import main

    return _as_command(main, argv)


def prepare_h36m(argv=None):
    """Convert the official Human3.6M release into the layout ``--dataset h36m`` reads."""
    from .tools.prepare_h36m import main

    return _as_command(main, argv)


def view(argv=None):
    """The 3D viewer (one self-contained HTML file) of a demo result."""
    from .viewer.cli import run_view

    return _as_command(run_view, argv)
