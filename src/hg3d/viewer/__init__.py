"""The 3D viewer: one self-contained HTML page per demo result (three.js vendored, poses inlined),
written by ``write_viewer`` and the ``hg3d-view`` command (``cli.run_view``)."""

from .page import write_viewer

__all__ = ["write_viewer"]
