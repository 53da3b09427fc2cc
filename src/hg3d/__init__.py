"""hg3d: weakly-supervised 3D human pose estimation (Zhou et al., ICCV 2017), rebuilt.

``hg3d.Estimator.from_checkpoint(path).predict(image, boxes=None)`` runs a checkpoint on an image
array and returns, per person, the numbers the demo's JSON holds; ``hg3d.PoseTracker(estimator,
...).step(frame)`` does the same for a stream of frames, with detection, track ids and smoothing
(see docs/demo.md). ``hg3d.triangulate(cameras, joints_2d, confidence)`` puts the joints seen
by several calibrated cameras in their world frame (docs/multiview.md).
"""

__version__ = "0.1.0"

from .demo.pose_tracker import PoseTracker
from .inference import Estimator
from .triangulation import triangulate

__all__ = ["Estimator", "PoseTracker", "__version__", "triangulate"]
