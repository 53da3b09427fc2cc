"""Export a checkpoint for deployment (installed: ``hg3d-export``), e.g.
``python scripts/export.py --load_model models/fusion_3d_var.pth --format onnx --out hg3d.onnx``.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hg3d.commands import export

if __name__ == "__main__":
    sys.exit(export())
