"""hg3d: weakly-supervised 3D human pose estimation (Zhou et al., ICCV 2017), rebuilt.

``hg3d.Estimator.from_checkpoint(path).predict(image, boxes=None)`` runs a checkpoint on an image
array and returns, per person, the numbers the demo's JSON holds (see docs/demo.md).
"""

__version__ = "0.1.0"

from .inference import Estimator

__all__ = ["Estimator", "__version__"]
