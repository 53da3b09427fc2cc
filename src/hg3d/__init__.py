"""hg3d: weakly-supervised 3D human pose estimation (Zhou et al., ICCV 2017), rebuilt.

``hg3d.Estimator.from_checkpoint(path).predict(image, boxes=None)`` runs a checkpoint on an image
array and returns, per person, the numbers the demo's JSON holds; ``hg3d.PoseTracker(estimator,
...).step(frame)`` does the same for a stream of frames, with detection, track ids and smoothing
(see docs/demo.md). ``hg3d.triangulate(cameras, joints_2d, confidence)`` puts the joints seen
by several calibrated cameras in their world frame (docs/multiview.md).

Each is imported when first asked for, so that ``import hg3d.joints`` (or a command's ``--help``)
does not load torch.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {"Estimator": ".inference", "PoseTracker": ".demo.pose_tracker", "triangulate": ".triangulation"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Estimator", "PoseTracker", "__version__", "triangulate"]
