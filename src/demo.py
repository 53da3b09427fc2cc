"""2D and 3D poses of images, folders and videos: ``python demo.py --demo <path>`` (--help)."""
import sys

from hg3d.demo import run_demo
from hg3d.run import cli

if __name__ == "__main__":
    sys.exit(cli(run_demo))
