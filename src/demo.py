"""Run hg3d on images, folders or videos: ``python demo.py --demo <path> [--load_model ...]``.

Installed, the same command is ``hg3d-demo``.
"""

import sys

from hg3d.commands import demo

if __name__ == "__main__":
    sys.exit(demo())
