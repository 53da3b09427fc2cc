"""hg3d: weakly-supervised 3D human pose estimation (Zhou et al., ICCV 2017), rebuilt.

``hg3d.Estimator.from_checkpoint(path).predict(image, boxes=None)`` runs a checkpoint on an image
array and returns, per person, the numbers the demo's JSON holds; ``hg3d.PoseTracker(estimator,
...).step(frame)`` does the same for a stream of frames, with detection, track ids and smoothing
(see docs/demo.md).
"""

__version__ = "0.1.0"

from .demo.pose_tracker import PoseTracker
from .inference import Estimator

__all__ = ["Estimator", "PoseTracker", "__version__"]
