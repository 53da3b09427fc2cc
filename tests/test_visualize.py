"""Drawing helpers: sides of the skeleton, the 2D overlay and the headless 3D plot."""

import numpy as np

from hg3d.joints import H36M_BONES, H36M_JOINTS, MPII_EDGES, MPII_JOINTS
from hg3d.visualize import SIDE_COLORS_BGR, draw_skeleton_2d, edge_sides, render_skeleton_3d


def test_edge_sides_of_mpii():
    sides = dict(zip(MPII_EDGES, edge_sides(MPII_EDGES, MPII_JOINTS)))
    assert sides[(0, 1)] == sides[(10, 11)] == "right"  # r_ankle-r_knee, r_wrist-r_elbow
    assert sides[(4, 5)] == sides[(14, 15)] == "left"
    assert sides[(6, 8)] == sides[(8, 9)] == "center"  # pelvis-neck, neck-head
    assert sides[(2, 6)] == "right" and sides[(6, 3)] == "left"  # hips to the pelvis


def test_draw_skeleton_2d_colours_by_side():
    image = np.zeros((200, 300, 3), np.uint8)
    joints = np.zeros((16, 2))
    joints[:, 0] = np.linspace(20, 280, 16)
    joints[:, 1] = 100
    joints[4] = (50, 30)
    joints[5] = (250, 30)  # l_knee -> l_ankle: a horizontal line at y = 30
    canvas = draw_skeleton_2d(image, joints, MPII_EDGES, MPII_JOINTS, box=(5, 5, 290, 190))
    assert image.max() == 0  # the input is left as it is
    assert tuple(canvas[30, 150]) == SIDE_COLORS_BGR["left"]
    assert tuple(canvas[5, 100]) == (160, 160, 160)  # the box outline
    assert canvas[180, 150].max() == 0


def test_render_skeleton_3d_headless():
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 300, (17, 3))
    picture = render_skeleton_3d(pose, H36M_BONES, H36M_JOINTS, title="t", size_px=300)
    assert picture.shape == (300, 300, 3) and picture.dtype == np.uint8
    other = render_skeleton_3d(pose * [1, -1, 1], H36M_BONES, H36M_JOINTS, title="t", size_px=300)
    assert np.abs(picture.astype(int) - other).sum() > 0  # the pose, not just axes, is drawn
    left = np.array(SIDE_COLORS_BGR["left"][::-1])
    assert (np.abs(picture.astype(int) - left).sum(-1) < 30).sum() > 20  # left limbs in their colour
