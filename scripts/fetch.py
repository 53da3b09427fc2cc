"""Download released hg3d models and the demo's detector weights into torch's hub cache, or list
it (installed: ``hg3d-fetch``), e.g. ``python scripts/fetch.py fusion_3d_var --detector auto``.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hg3d.commands import fetch

if __name__ == "__main__":
    sys.exit(fetch())
