"""Train, validate and test hg3d: ``python main.py --help`` (installed: ``hg3d-train``)."""

import sys

from hg3d.commands import train

if __name__ == "__main__":
    sys.exit(train())
