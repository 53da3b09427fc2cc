"""Write the 3D viewer of a demo result (installed: ``hg3d-view``), e.g.
``python scripts/view.py exp/demo/clip.json`` -> ``exp/demo/clip.html``.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hg3d.commands import view

if __name__ == "__main__":
    sys.exit(view())
