"""The commands: ``hg3d-train`` (= ``python src/main.py``), ``hg3d-demo``, ``hg3d-export``, ``hg3d-sample-data``,
``hg3d-prepare-h36m``, ``hg3d-view``, ``hg3d-triangulate``, ``hg3d-fetch``.

The scripts in src/ and scripts/ call these same functions, so both give the same flags, one-line
errors and exit codes (``run_command``: a user error prints ``error: ...`` and exits with status
2). Each imports its pipeline only when it runs: the demo and export never load the training code.
"""

import importlib
import sys

from .errors import UserError
from .redaction import redact


def user_error_line(exc):
    """The user-facing line of an error, also when a DataLoader worker wrapped it in its traceback."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    line = lines[-1] if lines else type(exc).__name__
    marker = "UserError: "
    return line.split(marker, 1)[1] if marker in line else line


def run_command(entry, argv=None):
    """Run ``entry(argv)`` as a command: user errors become one line on stderr (stream passwords
    shown as ``***``) and exit status 2, Ctrl-C status 130; returns the exit status."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # we report bad images ourselves
    try:
        entry(argv)
    except UserError as exc:
        print(f"error: {redact(user_error_line(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _command(module, entry, doc, parser=None):
    """A command function that imports ``entry`` from ``module`` (relative to hg3d) only when it runs.

    ``parser``: (module, function) of the command's parser where ``module`` is heavy (torch): the
    command line is checked with it first, so ``--help`` and a mistyped flag are answered before
    the pipeline loads; ``entry`` then parses the same line itself.
    """

    def command(argv=None):
        def run(argv):
            if parser is not None:
                getattr(importlib.import_module(parser[0], __package__), parser[1])().parse_args(argv)
            getattr(importlib.import_module(module, __package__), entry)(argv)

        return run_command(run, argv)

    command.__doc__ = doc
    return command


train = _command(".train", "run", "Train, validate or test (``--test``).", parser=(".train_options", "build_parser"))
demo = _command(
    ".demo",
    "run_demo",
    "2D and 3D poses of the person in images, folders or videos.",
    parser=(".demo.options", "build_parser"),
)
export = _command(".deploy.cli", "run_export", "Export a checkpoint to ONNX or TorchScript.")
sample_data = _command(
    ".tools.make_sample_data",
    "main",
    "Synthetic MPII, Human3.6M, 3DPW and MPI-INF-3DHP roots in the real layouts (or the demo's sample photos).",
)
prepare_h36m = _command(
    ".tools.prepare_h36m", "main", "Convert the official Human3.6M release into the layout ``--dataset h36m`` reads."
)
view = _command(".viewer.cli", "run_view", "The 3D viewer (one self-contained HTML file) of a demo result.")
triangulate = _command(
    ".multiview", "run_triangulate", "People in a world frame from the demo's JSON of several calibrated cameras."
)
fetch = _command(
    ".weights", "run_fetch", "Download released models and detector weights into torch's hub cache, or list it."
)
