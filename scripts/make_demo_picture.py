"""The README's multi-person demo picture (docs/demo_multi.png): three generated people in one
image, their boxes as the generator knows them (--bboxes), run through demo.py with a checkpoint.

    python scripts/make_demo_picture.py --load_model exp/quickstart_fusion_3d_var/model_last.pth \\
        --arch msra_18 --input_h 128 --input_w 128
"""

import argparse
import json
import os
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from hg3d.demo import run_demo  # noqa: E402
from hg3d.tools.synthetic import camera_intrinsics, place_in_view, random_background, random_pose, render_person  # noqa: E402


def group_scene(rng, width=640, height=360, people=3):
    """An image with ``people`` generated people side by side, and their boxes x, y, w, h."""
    intrinsics = camera_intrinsics(width, height)
    image = random_background(rng, width, height)
    placed = []
    for slot in range(people):
        pose = place_in_view(random_pose(rng), intrinsics, width, height, rng, fill=(0.6, 0.7))
        target_x = (slot + 0.5) / people * width
        pose[:, 0] += (target_x - width / 2) * pose[:, 2].mean() / intrinsics[0, 0]
        placed.append(pose)
    boxes = []
    for pose in sorted(placed, key=lambda p: -p[:, 2].mean()):  # far people first
        uv = render_person(image, pose, intrinsics, rng)
        low, high = uv.min(0), uv.max(0)
        boxes.append(np.concatenate([low - 0.1 * (high - low), 1.2 * (high - low)]).round(1).tolist())
    return image, sorted(boxes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "demo_multi.png"))
    args, demo_flags = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="hg3d-picture-") as work:
        image, boxes = group_scene(np.random.default_rng(args.seed))
        cv2.imwrite(os.path.join(work, "group.png"), image)
        with open(os.path.join(work, "boxes.json"), "w") as handle:
            json.dump({"group.png": boxes}, handle)
        run_demo(
            [
                "--demo",
                os.path.join(work, "group.png"),
                "--bboxes",
                os.path.join(work, "boxes.json"),
                "--out_dir",
                work,
                "--gpus",
                "-1",
                *demo_flags,
            ]
        )
        overlay, panels = (cv2.imread(os.path.join(work, f"group_{k}.png")) for k in ("2d", "3d"))
    panels = cv2.resize(panels, (overlay.shape[1], round(panels.shape[0] * overlay.shape[1] / panels.shape[1])))
    cv2.imwrite(args.out, np.concatenate([overlay, panels], 0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
