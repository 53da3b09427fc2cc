"""Write a small data root of synthetic people in the real MPII, Human3.6M, 3DPW and MPI-INF-3DHP
layouts (installed: ``hg3d-sample-data``; the code is hg3d/tools/make_sample_data.py):

    python scripts/make_sample_data.py --out data --seed 0
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hg3d.commands import sample_data

if __name__ == "__main__":
    sys.exit(sample_data())
