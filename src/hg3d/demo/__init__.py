"""The demo: people in images, folders and videos -> 2D/3D pictures, videos, JSON and BVH.

inputs (files, given boxes) -> detection (torchvision person detector) -> pose_tracker (per frame:
boxes, hg3d.inference.Estimator, tracking (IoU + Hungarian), smoothing (One-Euro)) -> records
(JSON), writers (pictures, videos, BVH); reader times a video's frames; pipeline runs images and
videos; live runs cameras, streams and --live files (newest frame kept, a jsonl line per frame);
cli turns flags into a run.
"""


def __getattr__(name):
    """``run_demo`` is imported when first asked for, so that ``import hg3d`` (which exports
    ``PoseTracker`` from here) does not load the command line."""
    if name == "run_demo":
        from .cli import run_demo

        return run_demo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["run_demo"]
