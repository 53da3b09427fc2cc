"""The scene view in docs/camera.md (docs/scene_view.png): three generated people at known places
in front of a camera, placed from their true 2D joints and root-relative 3D poses exactly as the
demo places a network's predictions (``placement.place_person``), drawn as the demo's 3D picture
(the scene from above and from the side, then one panel per person).

    python scripts/make_scene_picture.py [--out docs/scene_view.png]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from hg3d.camera import Intrinsics, project  # noqa: E402
from hg3d.demo.writers import write_picture  # noqa: E402
from hg3d.joints import H36M_TO_MPII  # noqa: E402
from hg3d.placement import place_person  # noqa: E402
from hg3d.tools.synthetic import random_pose  # noqa: E402
from hg3d.visualize import draw_people_3d  # noqa: E402

WIDTH, HEIGHT = 1280, 720
PELVIS_PLACES_MM = ((-1200, 100, 3500), (300, 150, 5000), (1600, 80, 7000))  # left near, middle, right far


def placed_people(rng, camera):
    """People standing at PELVIS_PLACES_MM, their true 2D joints and root-relative 3D poses, placed
    as the demo places them."""
    people = []
    for index, place in enumerate(PELVIS_PLACES_MM):
        pose = random_pose(rng)
        relative = pose - pose[0]
        joints_2d = project(relative + place, camera)[H36M_TO_MPII]
        person = {"index": index, "track_id": index + 1, "joints_2d": joints_2d, "joints_3d_h36m_mm": relative}
        person["joints_3d_mm"] = relative[H36M_TO_MPII]
        people.append(place_person(person, camera))
    return people


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "scene_view.png"))
    args = parser.parse_args(argv)
    camera = Intrinsics.from_fov(WIDTH, HEIGHT)
    people = placed_people(np.random.default_rng(2), camera)
    for person, place in zip(people, PELVIS_PLACES_MM):
        print(f"id {person['track_id']}: true pelvis {place}, placed at {np.round(person['root_cam_mm'], 1).tolist()}")
    write_picture(args.out, draw_people_3d(people, intrinsics=camera))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
