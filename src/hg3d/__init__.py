"""hg3d: weakly-supervised 3D human pose estimation (Zhou et al., ICCV 2017), rebuilt."""

__version__ = "0.1.0"
