"""Joint angles on perfect labels: poses built from known angles (in a body frame, then turned and
moved anywhere) give those angles back, for each definition, both sides and both signs."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from helpers import REPO_DIR
from hg3d.angles import ANGLE_NAMES, joint_angles
from hg3d.joints import H36M_JOINTS

FORWARD, UP, RIGHT = np.eye(3)  # the body frame the poses are built in: x forward, y up, z right
ARMS = ("elbow_flexion_r", "elbow_flexion_l", "shoulder_elevation_r", "shoulder_elevation_l")
J = {name: index for index, name in enumerate(H36M_JOINTS)}


def turned(vector, degrees, axis):
    return Rotation.from_rotvec(np.radians(degrees) * np.asarray(axis)).apply(vector)


def thigh_direction(flexion, abduction_out):
    """A unit thigh with hip flexion ``flexion`` and abduction ``abduction_out`` (away from the
    midline) of the right leg, before the left leg mirrors it: atan2(x, -y) and atan2(z, -y)."""
    if abs(flexion) < 90:
        u = np.array([np.tan(np.radians(flexion)), -1.0, np.tan(np.radians(abduction_out))])
    else:  # the knee above the hip: abduction, measured from -y, is near 180 by its definition
        u = np.array([np.sin(np.radians(flexion)), -np.cos(np.radians(flexion)), 0.0])
    return u / np.linalg.norm(u)


def build_pose(a):
    """H36M-17 joints (17, 3) mm in the body frame with the angles of dict ``a`` (trunk upright along y)."""
    p = np.zeros((17, 3))
    p[J["spine"]] = 220 * UP
    p[J["thorax"]] = 450 * UP
    p[J["neck"]] = 520 * UP
    p[J["head"]] = p[J["neck"]] + 120 * turned(UP, a["neck_flexion"], RIGHT)
    for side, out in (("r", RIGHT), ("l", -RIGHT)):
        sign = 1.0 if side == "r" else -1.0
        hip = p[J[f"{side}_hip"]] = 120 * out
        thigh = thigh_direction(a[f"hip_flexion_{side}"], a[f"hip_abduction_{side}"]) * [1, 1, sign]
        knee = p[J[f"{side}_knee"]] = hip + 420 * thigh
        bend_axis = np.cross(thigh, out) / np.linalg.norm(np.cross(thigh, out))
        p[J[f"{side}_ankle"]] = knee + 400 * turned(thigh, a[f"knee_flexion_{side}"], bend_axis)
        shoulder = p[J[f"{side}_shoulder"]] = 450 * UP + 160 * out
        arm = turned(-UP, a[f"shoulder_elevation_{side}"], -sign * FORWARD)
        elbow = p[J[f"{side}_elbow"]] = shoulder + 280 * arm
        p[J[f"{side}_wrist"]] = elbow + 250 * turned(arm, a[f"elbow_flexion_{side}"], FORWARD)
    return p


def up_for(trunk_flexion):
    """The world's up axis, in the body frame, of a trunk leaning forward by ``trunk_flexion``."""
    return turned(UP, trunk_flexion, RIGHT)  # up leans back (-x) for a forward lean


CASES = [
    dict(zip(ANGLE_NAMES, values))
    for values in (
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (35, 80, 10, 120, 30, -15, 20, -10, 45, 100, 25, 30),
        (130, 5, 90, 2, -25, 45, -8, 35, 170, 15, -20, 40),
        (60, 60, 45, 45, 85, 0, 0, 12, 90, 90, 60, 10),
        (15, 100, 150, 30, 0, 70, 25, -30, 20, 130, -45, 75),
    )
]


@pytest.fixture(scope="module")
def placed():
    """Every case turned and moved somewhere else: joints (2, len(CASES), 17, 3) and up (2, len(CASES), 3)."""
    rotations = Rotation.random(2 * len(CASES), random_state=3)
    poses = np.stack([build_pose(case) for case in CASES] * 2)
    ups = np.stack([up_for(case["trunk_flexion"]) for case in CASES] * 2)
    shift = np.random.default_rng(0).normal(0, 2000, (len(poses), 1, 3))
    joints = np.einsum("nij,nkj->nki", rotations.as_matrix(), poses) + shift
    return joints.reshape(2, len(CASES), 17, 3), rotations.apply(ups).reshape(2, len(CASES), 3)


def test_every_angle_comes_back(placed):
    joints, ups = placed
    got = joint_angles(joints, up=ups)
    assert tuple(got) == ANGLE_NAMES and len(ANGLE_NAMES) == 12
    for name in ANGLE_NAMES:
        assert got[name].shape == (2, len(CASES))
        want = np.array([case[name] for case in CASES])
        np.testing.assert_allclose(got[name], np.stack([want, want]), atol=0.1, err_msg=name)


def test_deep_hip_flexion_goes_past_90():
    """A knee raised above the hip (sitting deep, a high kick) reads past 90, on either side."""
    case = dict(CASES[0], hip_flexion_r=120, hip_flexion_l=150)
    got = joint_angles(build_pose(case))
    assert got["hip_flexion_r"] == pytest.approx(120, abs=0.1) and got["hip_flexion_l"] == pytest.approx(150, abs=0.1)


def test_thorax_off_to_the_side_leaves_the_hips(placed):
    """The pelvis frame's y is the trunk with its right-left part removed."""
    joints = placed[0][0].copy()
    before = joint_angles(joints)
    right = joints[:, J["r_hip"]] - joints[:, J["l_hip"]]
    joints[:, J["thorax"]] += 0.4 * right
    after = joint_angles(joints)
    for name in ("hip_flexion_r", "hip_flexion_l", "hip_abduction_r", "hip_abduction_l"):
        np.testing.assert_allclose(after[name], before[name], atol=1e-6, err_msg=name)


def test_without_up_the_trunk_is_nan_and_the_rest_stays(placed):
    joints, ups = placed
    with_up, without = joint_angles(joints, up=ups), joint_angles(joints)
    assert np.isnan(without["trunk_flexion"]).all()
    for name in ANGLE_NAMES:
        if name != "trunk_flexion":
            np.testing.assert_array_equal(without[name], with_up[name])


@pytest.mark.parametrize(
    "joint, nan_angles",
    [
        ("r_knee", {"knee_flexion_r", "hip_flexion_r", "hip_abduction_r"}),
        ("l_wrist", {"elbow_flexion_l"}),
        ("l_hip", set(ANGLE_NAMES) - {"knee_flexion_r", *ARMS, "neck_flexion"}),
        ("thorax", set(ANGLE_NAMES) - {"knee_flexion_r", "knee_flexion_l", "elbow_flexion_r", "elbow_flexion_l"}),
    ],
)
def test_a_missing_joint_gives_nan_where_it_is_used(placed, joint, nan_angles):
    joints, ups = placed
    joints = joints.copy()
    joints[1, 2, J[joint]] = np.nan
    got = joint_angles(joints, up=ups)
    for name in ANGLE_NAMES:
        assert np.isnan(got[name][1, 2]) == (name in nan_angles), name
        assert np.isfinite(got[name][0]).all() and np.isfinite(np.delete(got[name][1], 2)).all(), name


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 3\)"):
        joint_angles(np.zeros((16, 3)))


@pytest.mark.e2e
def test_the_figure_in_the_docs_is_what_the_definitions_draw(tmp_path):
    """docs/angles.svg (docs/motion.md) is what scripts/make_angles_figure.py draws now: its pose,
    built from chosen angles, gives those angles back through ``joint_angles`` (the script checks),
    and the committed picture is up to date."""
    out = tmp_path / "angles.svg"
    script = os.path.join(REPO_DIR, "scripts", "make_angles_figure.py")
    done = subprocess.run([sys.executable, script, "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "knee_flexion_r 45.0" in done.stdout and "hip_abduction_l 20.0" in done.stdout
    assert out.read_text() == Path(REPO_DIR, "docs", "angles.svg").read_text()
