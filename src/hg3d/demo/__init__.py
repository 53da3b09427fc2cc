"""The demo: people in images, folders and videos -> 2D/3D pictures, videos and JSON.

detection (torchvision person detector) -> inference (hg3d.inference.Estimator) -> tracking
(IoU + Hungarian) -> smoothing (One-Euro) -> render / records; ``cli`` turns flags into a run.
"""

from .cli import run_demo

__all__ = ["run_demo"]
