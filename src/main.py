"""Train, validate and test hg3d: ``python main.py --help``."""
import sys

from hg3d.run import cli, run

if __name__ == "__main__":
    sys.exit(cli(run))
