"""Convert the official Human3.6M release into the layout ``--dataset h36m`` reads
(installed: ``hg3d-prepare-h36m``; the code is hg3d/tools/prepare_h36m.py).

    python scripts/prepare_h36m.py --src <official root> --out data/h36m

See ``python scripts/prepare_h36m.py --help`` and docs/datasets.md ("Human3.6M from the official release").
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hg3d.commands import prepare_h36m

if __name__ == "__main__":
    sys.exit(prepare_h36m())
