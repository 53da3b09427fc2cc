"""People in a world frame from the demo's JSON of several calibrated cameras (installed:
``hg3d-triangulate``), e.g. ``python scripts/triangulate.py --calib Calib.toml --views exp/demo/cam1.json
exp/demo/cam2.json`` -> ``exp/triangulate/cam1.json``.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hg3d.commands import triangulate

if __name__ == "__main__":
    sys.exit(triangulate())
