"""Drawing never fails on numbers far outside the picture: lines towards a far point are clipped
along their true direction, points that are not numbers are left out, the scene views stop at 50 m."""

import numpy as np

from hg3d.camera import Intrinsics
from hg3d.visualize import (
    PANEL_PX,
    SCENE_MAX_DEPTH_MM,
    SCENE_PANELS,
    draw_people_2d,
    draw_people_3d,
    draw_scene,
    draw_skeleton_2d,
    scene_depth_mm,
)

BLACK = np.zeros((100, 100, 3), np.uint8)


def lit(picture, x, y):
    return picture[y, x].any()


def test_a_line_towards_a_far_point_keeps_its_direction():
    """From (10, 10) towards a point 2e12 px right and 1e12 px down: slope 1/2 across the picture."""
    picture = draw_skeleton_2d(BLACK, [(10.0, 10.0), (10 + 2e12, 10 + 1e12)], edges=[(0, 1)])
    assert lit(picture, 90, 50) and lit(picture, 50, 30)
    assert not lit(picture, 90, 90) and not lit(picture, 50, 50)  # not towards the clipped corner


def test_huge_and_missing_2d_values_draw_what_is_in_the_picture():
    joints = np.full((16, 2), 30.0)
    joints[:8] = 1e300
    joints[8] = np.nan
    box = [5, 5, 1e300, 1e300]  # its top-left corner is in the picture, the rest far beyond it
    picture = draw_people_2d(BLACK, [{"joints_2d": joints, "box": box, "index": 0}])
    assert lit(picture, 60, 5) and lit(picture, 5, 60)  # the box's top and left sides
    assert lit(picture, 30, 30)  # the joints that are in the picture


def test_huge_3d_poses_and_far_placements_draw():
    person = {"index": 0, "joints_3d_mm": np.random.default_rng(0).normal(size=(16, 3)) * 1e305}
    assert draw_people_3d([person]).shape == (PANEL_PX, PANEL_PX, 3)
    near = np.zeros((17, 3)) + [0, 0, 4000.0]
    near[1:, 1] = np.linspace(-800, 800, 16)  # a standing person 4 m in front of the camera
    far = near * 1e300
    camera = Intrinsics(1.0, 1.0, 1e6, 1e6)  # the widest camera allowed, its principal point far off
    people = [{"index": 0, "joints_3d_cam_mm": far}, {"index": 1, "joints_3d_cam_mm": near}]
    assert scene_depth_mm(people) == SCENE_MAX_DEPTH_MM
    picture = draw_scene(people, camera)
    assert picture.shape == (PANEL_PX, SCENE_PANELS * PANEL_PX, 3)
    clear = draw_scene([people[0]], camera)
    assert (picture != clear).any()  # the near person is drawn
