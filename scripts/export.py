"""Export a checkpoint for deployment:

    python scripts/export.py --load_model models/fusion_3d_var.pth --format onnx --out hg3d.onnx
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hg3d.export import run_export  # noqa: E402
from hg3d.run import cli  # noqa: E402

if __name__ == "__main__":
    sys.exit(cli(run_export))
