"""The demo: people in images, folders, videos, cameras and streams -> 2D/3D pictures, videos,
JSON (and JSON Lines), BVH and the viewer page.

sources (image files, video files, cameras and streams; the live ones keep the newest frame) ->
runner (the one frame loop: ImagePeople for images, TrackedPeople for a video, camera or stream, a
pose_tracker each: boxes (boxes: given; detection: torchvision's person detector), the
hg3d.inference.Estimator, tracking (IoU + Hungarian), smoothing (One-Euro)) -> sinks (pictures,
videos, JSON, jsonl, BVH, HTML, the window). build makes the estimator, the detector and the
camera policy; cli turns flags into runs.
"""


def __getattr__(name):
    """``run_demo`` is imported when first asked for, so that ``import hg3d`` (which exports
    ``PoseTracker`` from here) does not load the command line."""
    if name == "run_demo":
        from .cli import run_demo

        return run_demo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["run_demo"]
