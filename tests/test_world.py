"""The floor, the world frame and the foot contacts on perfect labels: a synthetic walk seen by a
tilted camera gives the floor back; a person standing still gives none, and says why."""

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hg3d.errors import UserError
from hg3d.joints import H36M_JOINTS
from hg3d.world import fit_floor, foot_contacts, load_world, world_for_tracks

FPS = 30.0
CYCLE = 30  # frames per gait cycle (1 s); each foot stands for STANCE of them, swings the rest
STANCE = 18
STRIDE_MM = 1200.0
CAMERA_HEIGHT_MM = 1500.0
J = {name: index for index, name in enumerate(H36M_JOINTS)}
# Heights (mm above the ankles' floor) and sideways offsets of the joints that do not swing.
BODY = {
    "pelvis": (900, 0),
    "r_hip": (900, -110),
    "l_hip": (900, 110),
    "spine": (1150, 0),
    "thorax": (1400, 0),
    "neck": (1470, 0),
    "head": (1600, 0),
    "r_shoulder": (1400, -170),
    "l_shoulder": (1400, 170),
    "r_elbow": (1120, -190),
    "l_elbow": (1120, 190),
    "r_wrist": (880, -200),
    "l_wrist": (880, 200),
}


def walk_world(frames, heading_deg=30.0):
    """(T, 17, 3) joints in a world frame (+Y up, ankles on Y = 0) of someone walking at
    STRIDE_MM per CYCLE; and (T, 2) the stance flags of the left and right foot."""
    heading = np.radians(heading_deg)
    forward = np.array([np.cos(heading), 0.0, np.sin(heading)])
    left = np.cross(forward, [0.0, 1.0, 0.0]) * -1.0
    t = np.arange(frames)
    pelvis_along = STRIDE_MM * t / CYCLE
    joints = np.zeros((frames, 17, 3))
    for name, (height, side) in BODY.items():
        joints[:, J[name]] = pelvis_along[:, None] * forward + side * left + [0.0, height, 0.0]
    stance = np.zeros((frames, 2), bool)
    for k, (foot, side, delay) in enumerate((("l", 110, 0), ("r", -110, CYCLE // 2))):
        phase = (t + delay) % CYCLE
        cycles = (t + delay) // CYCLE
        swing = np.clip((phase - STANCE) / (CYCLE - STANCE), 0, 1)  # 0 through the stance, then 0 -> 1
        along = STRIDE_MM * (cycles + (1 - np.cos(np.pi * swing)) / 2) - delay * STRIDE_MM / CYCLE
        lift = 90.0 * np.sin(np.pi * swing) ** 2
        ankle = along[:, None] * forward + side * left + lift[:, None] * [0.0, 1.0, 0.0]
        joints[:, J[f"{foot}_ankle"]] = ankle
        joints[:, J[f"{foot}_knee"]] = (ankle + joints[:, J[f"{foot}_hip"]]) / 2 + 40 * forward
        stance[:, k] = phase < STANCE
    return joints, stance


def tilted_camera(roll_deg=6):
    """(R cam -> world, camera centre in the world): pitched down, rolled and turned, 1.5 m up."""
    level = np.diag([1.0, -1.0, -1.0])  # x right, y down, z forward = (x, -y, -z) of the world
    turn = Rotation.from_euler("YXZ", [25, -18, roll_deg], degrees=True).as_matrix()
    return turn @ level, np.array([1500.0, CAMERA_HEIGHT_MM, 4500.0])


def to_camera(world_points, cam_to_world, centre):
    return (world_points - centre) @ cam_to_world


@pytest.fixture(scope="module", params=[6, 170], ids=["rolled", "upside_down"])
def walk(request):
    joints_w, stance = walk_world(120)
    cam_to_world, centre = tilted_camera(request.param)
    noise = np.random.default_rng(1).normal(0, 2.0, joints_w.shape)
    joints_cam = to_camera(joints_w + noise, cam_to_world, centre)
    joints_cam[50:53] = np.nan  # a few frames without the person
    return joints_cam, stance, cam_to_world, centre, joints_w


@pytest.mark.parametrize("noisy", [True, False])
def test_a_walk_seen_by_a_tilted_camera_gives_the_floor_back(walk, noisy):
    joints_cam, _, cam_to_world, centre, joints_w = walk
    floor = fit_floor(joints_cam if noisy else to_camera(joints_w, cam_to_world, centre), FPS)
    true_up = cam_to_world.T @ [0.0, 1.0, 0.0]
    assert floor.normal is not None, floor.note
    assert np.degrees(np.arccos(np.clip(floor.normal @ true_up, -1, 1))) < 1.0
    assert floor.height_mm == pytest.approx(CAMERA_HEIGHT_MM, abs=10.0)
    assert floor.rmse_mm < 10.0 and "planted ankle positions" in floor.note


def test_the_world_frame_stands_on_the_floor_under_the_first_pelvis(walk):
    joints_cam, _, cam_to_world, _, joints_w = walk
    world, note = world_for_tracks([joints_cam], FPS)
    assert world is not None and world.source == "floor", note
    np.testing.assert_allclose(world.R @ world.R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(world.R) == pytest.approx(1.0)
    pelvis = world.apply(joints_cam[0, J["pelvis"]])
    np.testing.assert_allclose(pelvis, [0.0, 900.0, 0.0], atol=12.0)
    true_up = cam_to_world.T @ [0.0, 1.0, 0.0]
    camera_x_on_floor = np.array([1.0, 0, 0]) - true_up[0] * true_up
    np.testing.assert_allclose(world.R[0], camera_x_on_floor / np.linalg.norm(camera_x_on_floor), atol=0.02)
    # distances and heights come back as in the true world
    in_world = world.apply(joints_cam)
    np.testing.assert_allclose(in_world[80:, J["head"], 1], joints_w[80:, J["head"], 1], atol=15.0)


def test_the_contacts_are_the_stance_frames(walk):
    joints_cam, stance, *_ = walk
    world, _ = world_for_tracks(joints_cam, FPS)
    contacts = foot_contacts(joints_cam, world, FPS)
    seen = np.isfinite(joints_cam).all(axis=(1, 2))
    for k, side in enumerate(("l", "r")):
        flags, truth = contacts[side], stance[:, k]
        # away from the stance's first and last frame (where the foot eases in and out), the flags are the stance
        edges = np.convolve(np.diff(truth.astype(int), prepend=truth[0]) != 0, np.ones(5), "same") > 0
        clear = ~edges & seen & np.roll(seen, 1) & np.roll(seen, -1)
        assert clear.sum() > 60
        np.testing.assert_array_equal(flags[clear], truth[clear], err_msg=side)
        assert not flags[~seen].any()


def test_several_tracks_make_one_floor(walk):
    joints_cam, _, cam_to_world, _, _ = walk
    floor = fit_floor([joints_cam[:40], joints_cam[60:]], FPS)
    assert floor.normal is not None, floor.note
    assert np.degrees(np.arccos(floor.normal @ (cam_to_world.T @ [0.0, 1.0, 0.0]))) < 1.0


def standing(pose, frames=90):
    """``pose`` held still for ``frames`` frames (1 mm of noise), in the tilted camera's frame."""
    still = np.repeat(pose[None], frames, axis=0) + np.random.default_rng(2).normal(0, 1.0, (frames, 17, 3))
    return to_camera(still, *tilted_camera())


def test_a_still_person_shows_no_floor():
    pose = walk_world(1)[0][0]
    for foot in ("l", "r"):  # feet under the hips
        pose[J[f"{foot}_ankle"]] = pose[J[f"{foot}_hip"]] * [1, 0, 1]
    floor = fit_floor(standing(pose), FPS)
    assert floor.normal is None and floor.height_mm is None
    assert "span" in floor.note and "less than 500 mm" in floor.note
    world, note = world_for_tracks(standing(pose), FPS)
    assert world is None and note == floor.note


def test_a_raised_foot_held_still_is_no_contact(walk):
    joints_cam, _, cam_to_world, centre, _ = walk
    world, _ = world_for_tracks(joints_cam, FPS)
    pose = walk_world(1)[0][0]
    pose[J["l_ankle"]] += [0.0, 60.0, 0.0]
    contacts = foot_contacts(to_camera(np.repeat(pose[None], 10, axis=0), cam_to_world, centre), world, FPS)
    assert contacts["r"].all() and not contacts["l"].any()


def test_a_wide_still_stance_is_one_line_and_no_floor():
    floor = fit_floor(standing(walk_world(1)[0][0]), FPS)  # feet 0.6 m apart: two spots, one line
    assert floor.normal is None and "on one line" in floor.note


def test_nobody_placed_shows_no_floor():
    floor = fit_floor(np.full((10, 17, 3), np.nan), FPS)
    assert floor.normal is None and "no person was placed" in floor.note


def test_a_world_file_is_read_and_checked(tmp_path, walk):
    joints_cam, _, cam_to_world, centre, joints_w = walk
    path = tmp_path / "world.json"
    path.write_text(json.dumps({"R": cam_to_world.tolist(), "t": centre.tolist()}))
    world = load_world(str(path))
    np.testing.assert_allclose(world.apply(joints_cam[0]), joints_w[0], atol=10.0)
    assert world.to_json()["source"] == "file"
    for bad, says in (
        ({"R": np.eye(3).tolist()}, "no R and t"),
        ({"R": [[1, 0], [0, 1]], "t": [0, 0, 0]}, "3x3"),
        ({"R": (2 * np.eye(3)).tolist(), "t": [0, 0, 0]}, "not a rotation"),
        ({"R": np.diag([1, 1, -1]).tolist(), "t": [0, 0, 0]}, "not a rotation"),
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(UserError, match=says):
            load_world(str(path))
    path.write_text("{not json")
    with pytest.raises(UserError, match="cannot read --world"):
        load_world(str(path))
