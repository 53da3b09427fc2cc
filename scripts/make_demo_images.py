"""Render the demo's sample pictures in images/: synthetic people (hg3d.synthetic), one per image,
with a bboxes.json of their boxes for ``demo.py --bboxes``.

    python scripts/make_demo_images.py --out images --seed 7

The random streams differ from make_sample_data.py's, so these people are not in the sample
training data.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hg3d.files import atomic_write, write_json  # noqa: E402
from hg3d.run import cli  # noqa: E402
from hg3d.synthetic import random_scene  # noqa: E402

SIZES = ((320, 320), (400, 300), (300, 400), (360, 360))  # (width, height)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "images"))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--count", type=int, default=len(SIZES))
    args = p.parse_args(argv)
    boxes = {}
    for i in range(args.count):
        width, height = SIZES[i % len(SIZES)]
        scene = random_scene(np.random.default_rng([args.seed, 1000 + i]), width, height)
        name = f"person_{i + 1}.jpg"
        path = os.path.join(args.out, name)
        atomic_write(path, lambda tmp: cv2.imwrite(tmp, scene["image"], [cv2.IMWRITE_JPEG_QUALITY, 92]))
        boxes[name] = np.round(scene["box"], 1).tolist()
        print(f"{path}: {width}x{height}")
    write_json(os.path.join(args.out, "bboxes.json"), boxes)


if __name__ == "__main__":
    sys.exit(cli(main))
