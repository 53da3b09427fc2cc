"""Run hg3d on images, folders or videos: ``python demo.py --demo <path> [--load_model ...]``."""
import sys

from hg3d.demo import run_demo
from hg3d.run import cli

if __name__ == "__main__":
    sys.exit(cli(run_demo))
