"""BVH export: files written from a generated motion with known 3D poses, read back by an
independent library (bvhio) and checked by forward kinematics."""

import itertools
import tracemalloc
from pathlib import Path

import bvhio
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hg3d.bvh import ROOT_MODES, export_tracks, write_bvh
from hg3d.demo.tracking import TrackedPoses
from hg3d.errors import UserError
from hg3d.joints import H36M_JOINTS, H36M_PARENTS
from hg3d.tools.synthetic import REST_POSE

FPS = 30
NUM_FRAMES = 60
J = {name: i for i, name in enumerate(H36M_JOINTS)}
CHILDREN = {j: [c for c, p in enumerate(H36M_PARENTS) if p == j] for j in range(len(H36M_JOINTS))}
SINGLE_CHILD = [j for j, kids in CHILDREN.items() if len(kids) == 1]
SINGLE_CHILD_BONES = [CHILDREN[j][0] for j in SINGLE_CHILD]  # bones named by their child joint
TORSO = [J["pelvis"], J["thorax"]]
OUTLIER_FRAME, OUTLIER_BONE = 17, J["l_elbow"]


def subtree(joint):
    return [joint] + [j for c in CHILDREN[joint] for j in subtree(c)]


def turn(pose, about, moved, rotvec_deg):
    moved = list(moved)
    rotation = Rotation.from_rotvec(np.deg2rad(rotvec_deg))
    pose[moved] = rotation.apply(pose[moved] - pose[about]) + pose[about]


def smooth_motion():
    """A person walking on the spot while turning 300 degrees about the vertical (H36M-17, mm,
    camera frame: y down, facing the camera at the start). Limbs swing and bend; the spine tilts
    against the hips and the shoulders shrug (pelvis and thorax are not rigid, as predictions
    are not); bone lengths wobble by 3%, and one frame has a forearm 1.8 times too long (the
    median must ignore it). Bone stretches move whole subtrees, so they change no direction."""
    frames = []
    for t in range(NUM_FRAMES):
        phase = 2 * np.pi * t / NUM_FRAMES
        swing = np.sin(phase)
        pose = REST_POSE.copy()
        turn(pose, J["pelvis"], subtree(J["spine"]), (10 * np.sin(2 * phase), 0, 6 * swing))
        turn(pose, J["thorax"], subtree(J["l_shoulder"]), (0, 0, -6 * (1 + swing)))
        turn(pose, J["thorax"], subtree(J["r_shoulder"]), (0, 4 * swing, 5 * np.cos(phase)))
        for side, sign in (("r", 1), ("l", -1)):
            # +x turns a hanging bone backwards; +z turns the right side's outwards
            turn(pose, J[f"{side}_hip"], subtree(J[f"{side}_knee"]), (sign * 30 * swing, 0, sign * 5))
            turn(pose, J[f"{side}_knee"], subtree(J[f"{side}_ankle"]), (25 - sign * 20 * swing, 0, 0))
            turn(
                pose,
                J[f"{side}_shoulder"],
                subtree(J[f"{side}_elbow"]),
                (-sign * 25 * swing, 10 * np.cos(phase), sign * (3 + 3 * swing)),
            )
            turn(pose, J[f"{side}_elbow"], subtree(J[f"{side}_wrist"]), (-30 - sign * 15 * swing, 0, 0))
        turn(pose, J["neck"], [J["head"]], (12 * np.sin(3 * phase), 20 * swing, 0))
        for joint in range(1, len(H36M_JOINTS)):
            stretch = 0.03 * np.sin(phase + joint) + (0.8 if (t, joint) == (OUTLIER_FRAME, OUTLIER_BONE) else 0)
            moved = subtree(joint)
            pose[moved] += stretch * (pose[joint] - pose[H36M_PARENTS[joint]])
        facing = Rotation.from_rotvec([np.deg2rad(5 * swing), np.deg2rad(300 * t / NUM_FRAMES), 0])
        frames.append(facing.apply(pose))
    return np.stack(frames)


def to_bvh_axes(points):
    """Camera frame (y down, z forward) to the Y-up frame the README documents."""
    return np.asarray(points) * (1, -1, -1)


def bones(points):
    return points - points[..., np.maximum(H36M_PARENTS, 0), :]


def angles_deg(a, b):
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def read_positions(path):
    """World joint positions (T, 17, 3) by bvhio's forward kinematics, in H36M order by name."""
    root = bvhio.readAsHierarchy(str(path))
    joints = {joint.Name: joint for joint, _, _ in root.layout()}
    positions = []
    for frame in range(bvhio.readAsBvh(str(path), loadKeyFrames=False).FrameCount):
        root.loadPose(frame)
        positions.append([tuple(joints[name].PositionWorld) for name in H36M_JOINTS])
    return np.array(positions, np.float64)


def read_channels(path):
    """{joint name: (OFFSET, channel names, (T, n) values)} as the file states them."""
    bvh = bvhio.readAsBvh(str(path), loadKeyFrames=False)
    layout = [joint for joint, _, _ in bvh.Root.layout()]
    motion = np.loadtxt(str(path), skiprows=Path(path).read_text().split("\n").index("MOTION") + 3, ndmin=2)
    out, column = {}, 0
    for joint in layout:
        n = len(joint.Channels)
        out[joint.Name] = (np.array(tuple(joint.Offset)), joint.Channels, motion[:, column : column + n])
        column += n
    assert column == motion.shape[1]
    return out


def local_rotations(channels, name):
    """The rotation a joint's channels state, in the order the file declares."""
    _, names, values = channels[name]
    rotation_columns = [i for i, c in enumerate(names) if c.endswith("rotation")]
    order = "".join(names[i][0] for i in rotation_columns)
    return Rotation.from_euler(order, values[:, rotation_columns], degrees=True)


@pytest.fixture(scope="module")
def motion():
    return smooth_motion()


@pytest.fixture(scope="module")
def exported(tmp_path_factory, motion):
    path = tmp_path_factory.mktemp("bvh") / "walk.bvh"
    write_bvh(str(path), motion, FPS)
    return path, read_positions(path)


def test_hierarchy_names_channels_and_frame_time(exported):
    path, _ = exported
    bvh = bvhio.readAsBvh(str(path))
    layout = bvh.Root.layout()
    assert [joint.Name for joint, _, _ in layout] == list(H36M_JOINTS)
    parent_of = {child.Name: joint.Name for joint, _, _ in layout for child in joint.Children}
    for name, parent in zip(H36M_JOINTS, H36M_PARENTS):
        assert parent_of.get(name) == (H36M_JOINTS[parent] if parent >= 0 else None), name
    leaves = {joint.Name for joint, _, _ in layout if not joint.Children}
    assert leaves == {"r_ankle", "l_ankle", "head", "l_wrist", "r_wrist"}
    text = path.read_text()
    assert text.count("End Site") == 5 and text.count("ROOT") == 1 and text.count("JOINT") == 16
    assert bvh.Root.Channels[:3] == ["Xposition", "Yposition", "Zposition"]
    for joint, _, _ in layout:
        assert [c for c in joint.Channels if c.endswith("position")] == (
            ["Xposition", "Yposition", "Zposition"] if joint is bvh.Root else []
        )
        assert len([c for c in joint.Channels if c.endswith("rotation")]) == 3
    assert bvh.FrameCount == NUM_FRAMES
    root_position = read_channels(path)["pelvis"][2][:, :3]
    assert tuple(bvh.Root.Offset) == (0, 0, 0) and not root_position.any()  # documented: zero
    assert bvh.FrameTime == pytest.approx(1 / FPS, rel=1e-6)


def test_single_child_bones_follow_the_source_on_every_frame(exported, motion):
    _, positions = exported
    error = angles_deg(bones(positions)[:, SINGLE_CHILD_BONES], bones(to_bvh_axes(motion))[:, SINGLE_CHILD_BONES])
    assert error.max() < 0.5, error.max(axis=0)


def random_rigid_torso_pose(rng):
    """A random pose whose pelvis and thorax keep the rest shape: every joint with one child, the
    hips, shoulders and neck bent about random axes (up to 90 degrees), then any facing."""
    pose = REST_POSE.copy()
    for name in (
        "r_hip",
        "r_knee",
        "l_hip",
        "l_knee",
        "l_shoulder",
        "l_elbow",
        "r_shoulder",
        "r_elbow",
        "spine",
        "neck",
    ):
        joint = J[name]
        axis = rng.normal(size=3)
        turn(pose, joint, subtree(joint)[1:], axis / np.linalg.norm(axis) * rng.uniform(-90, 90))
    return Rotation.random(random_state=rng).apply(pose)


def test_any_pose_is_exact_when_the_torso_is_rigid(tmp_path):
    """Unrelated random poses (any facing, limbs bent about random axes), then sitting poses at
    and near the Euler order's gimbal lock (thigh and shin at 90 degrees to their parent bones):
    with a rigid pelvis and thorax, every bone of every frame is read back along the source bone."""
    rng = np.random.default_rng(3)
    poses = [random_rigid_torso_pose(rng) for _ in range(40)]
    for tilt in (0, 0.01, -0.3):
        sitting = REST_POSE.copy()
        turn(sitting, J["r_hip"], subtree(J["r_knee"]), (-90 + tilt, 0, tilt))
        turn(sitting, J["l_knee"], [J["l_ankle"]], (90, tilt, 0))
        poses.append(sitting)
    poses = np.stack(poses)
    write_bvh(str(tmp_path / "random.bvh"), poses, FPS)
    error = angles_deg(bones(read_positions(tmp_path / "random.bvh"))[:, 1:], bones(to_bvh_axes(poses))[:, 1:])
    assert error.max() < 0.5, error.max(axis=0)


def test_pelvis_and_thorax_bones_are_the_best_fit(exported, motion):
    path, positions = exported
    channels = read_channels(path)
    source = bones(to_bvh_axes(motion))
    worst_fit = 0
    for joint in TORSO:
        kids = CHILDREN[joint]
        rest = np.stack([channels[H36M_JOINTS[c]][0] for c in kids])
        rest /= np.linalg.norm(rest, axis=1, keepdims=True)
        for t in range(NUM_FRAMES):
            target = source[t, kids] / np.linalg.norm(source[t, kids], axis=1, keepdims=True)
            fit, _ = Rotation.align_vectors(target, rest)
            exported_dirs = positions[t, kids] - positions[t, joint]
            assert angles_deg(exported_dirs, fit.apply(rest)).max() < 0.5, (H36M_JOINTS[joint], t)
            worst_fit = max(worst_fit, angles_deg(target, fit.apply(rest)).max())
    assert worst_fit > 1  # the torso really bends in this motion: the fit is not trivially exact


def test_pelvis_and_thorax_rest_shapes_are_the_track_median(tmp_path, motion):
    """Rest angles between the child bones of the pelvis and of the thorax come from the track's
    median pose: exactly the median angle to the upward bone (spine, neck), and close to the
    median for the other pairs (a median shape is not a median of each angle). The track starts
    bent, so its first frame would not do; one frame has the spine thrown 60 degrees off (a bad
    prediction), which a mean would feel."""
    track = motion[5:55].copy()
    turn(track[30], J["pelvis"], subtree(J["spine"]), (60, 0, 0))
    write_bvh(str(tmp_path / "part.bvh"), track, FPS)
    channels = read_channels(tmp_path / "part.bvh")
    source = bones(track)
    for joint, up in ((J["pelvis"], J["spine"]), (J["thorax"], J["neck"])):
        for a, b in itertools.combinations(CHILDREN[joint], 2):
            rest = angles_deg(channels[H36M_JOINTS[a]][0], channels[H36M_JOINTS[b]][0])
            angles = angles_deg(source[:, a], source[:, b])
            tolerance = 0.05 if up in (a, b) else 2
            assert abs(rest - np.median(angles)) < tolerance, (H36M_JOINTS[a], H36M_JOINTS[b])
            if up in (a, b):
                assert abs(angles[0] - np.median(angles)) > 1


def test_bone_lengths_are_constant_and_the_median(exported, motion):
    _, positions = exported
    lengths = np.linalg.norm(bones(positions)[:, 1:], axis=-1)
    source = np.linalg.norm(bones(motion)[:, 1:], axis=-1)
    assert np.ptp(lengths, axis=0).max() < 0.05
    np.testing.assert_allclose(lengths[0], np.median(source, axis=0), atol=0.05)


def test_y_is_up_and_the_person_faces_plus_z(tmp_path):
    still = np.repeat(REST_POSE[None], 3, axis=0)  # standing, facing the camera
    still[:, J["neck"], 2] -= 30  # the nose towards the camera
    write_bvh(str(tmp_path / "still.bvh"), still, FPS)
    pose = read_positions(tmp_path / "still.bvh")[0]
    assert pose[J["head"], 1] > pose[J["thorax"], 1] > 0 > pose[J["r_knee"], 1] > pose[J["r_ankle"], 1]
    assert pose[J["l_hip"], 0] > 0 > pose[J["r_hip"], 0] and pose[J["l_wrist"], 0] > 0
    assert pose[J["neck"], 2] > pose[J["thorax"], 2]  # the nose is in front
    np.testing.assert_allclose(pose, to_bvh_axes(still[0]), atol=0.05)


def test_the_declared_euler_order_is_the_one_used(exported, motion):
    path, _ = exported
    text = path.read_text()
    declared = {tuple(line.split()[-3:]) for line in text.splitlines() if "CHANNELS" in line}
    assert len(declared) == 1  # one order for every joint
    order = [c for c in text.split("CHANNELS 6 ")[1].split("\n")[0].split() if c.endswith("rotation")]
    source = bones(to_bvh_axes(motion))[:, SINGLE_CHILD_BONES]
    for other in itertools.permutations(order):
        relabelled = path.parent / f"relabelled_{''.join(c[0] for c in other)}.bvh"
        relabelled.write_text(text.replace(" ".join(order), " ".join(other)))
        error = angles_deg(bones(read_positions(relabelled))[:, SINGLE_CHILD_BONES], source).max()
        assert (error < 0.5) == (list(other) == order), (other, error)


def test_limbs_carry_their_parents_twist(exported):
    """A single-child joint turns by the smallest rotation: no component about its own bone."""
    path, _ = exported
    channels = read_channels(path)
    for joint in SINGLE_CHILD:
        rest = channels[H36M_JOINTS[CHILDREN[joint][0]]][0]
        twist = local_rotations(channels, H36M_JOINTS[joint]).as_rotvec() @ (rest / np.linalg.norm(rest))
        assert np.degrees(np.abs(twist)).max() < 0.1, H36M_JOINTS[joint]


def test_no_rotation_channel_jumps_between_frames(exported):
    channels = read_channels(exported[0])
    for name, (_, names, values) in channels.items():
        rotation_values = values[:, [i for i, c in enumerate(names) if c.endswith("rotation")]]
        # the motion turns at most ~6 degrees per frame; the root turns through 180 degrees
        assert np.abs(np.diff(rotation_values, axis=0)).max() < 20, name


def test_missed_frames_repeat_the_previous_pose(tmp_path, motion):
    track = list(motion[:30])
    for t in (0, 1, 12, 13, 29):
        track[t] = None
    track[20] = np.full((17, 3), np.nan)
    track[21] = motion[21].copy()
    track[21][J["r_wrist"]] = track[21][J["r_elbow"]]  # a zero-length forearm: no direction
    paths, messages = export_tracks(str(tmp_path), "clip", {3: (100, track)}, FPS, min_frames=10)
    assert paths == [str(tmp_path / "clip_track3.bvh")]
    assert "27 frames from frame 102" in messages[0] and "4 missed" in messages[0]
    channels = read_channels(paths[0])
    rows = np.concatenate([values for _, _, values in channels.values()], axis=1)
    assert len(rows) == 27  # frames 2..28 of the track
    for missed, previous in ((12, 11), (13, 11), (20, 19), (21, 19)):
        np.testing.assert_array_equal(rows[missed - 2], rows[previous - 2])
    assert np.abs(rows[14 - 2] - rows[11 - 2]).max() > 0.5  # the pose moves on afterwards
    positions = read_positions(paths[0])
    seen = [t for t in range(2, 29) if t not in (12, 13, 20, 21)]
    error = angles_deg(
        bones(positions[np.array(seen) - 2])[:, SINGLE_CHILD_BONES],
        bones(to_bvh_axes(motion[seen]))[:, SINGLE_CHILD_BONES],
    )
    assert error.max() < 0.5


def test_a_short_track_writes_nothing_and_says_so(tmp_path, motion):
    short = [None] * 5 + list(motion[:9]) + [None] * 5
    paths, messages = export_tracks(str(tmp_path), "clip", {1: (0, short), 2: (0, motion[:10])}, FPS, min_frames=10)
    assert paths == [str(tmp_path / "clip_track2.bvh")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip_track2.bvh"]
    assert messages[0] == "track 1: seen in 9 frame(s), fewer than 10: no BVH written"


def test_tracks_of_a_long_video_take_memory_by_their_own_span(tmp_path, motion):
    """--bvh on a 5000-frame video with 10 people seen for 12 frames each: the poses handed to the
    export cover each track's 12 frames (a full-length array per track would take 20 MB here, and
    0.8 GB for 100 tracks in 20,000 frames), and each file says where its track starts."""
    tracked = TrackedPoses(fps=FPS)
    for frame in range(5000):
        tracked.add(
            frame, [{"track_id": frame // 500 + 1, "joints_3d_h36m_mm": motion[frame % 12]}] if frame % 500 < 12 else []
        )
    tracemalloc.start()
    spans = tracked.spans()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1e6 and all(len(poses) == len(roots) == 12 for _, poses, roots in spans.values())
    paths, messages = export_tracks(str(tmp_path), "clip", spans, FPS, min_frames=10)
    assert len(paths) == 10 and messages[3].endswith("clip_track4.bvh, 12 frames from frame 1500")


def test_a_video_without_frame_rate_is_a_user_error(tmp_path, motion):
    with pytest.raises(UserError, match="frame rate"):
        write_bvh(str(tmp_path / "x.bvh"), motion, 0)
    assert not list(tmp_path.iterdir())


def walking_roots():
    """A pelvis walking a half circle of 1.5 m radius 4 m in front of the camera (camera frame,
    mm), bobbing 3 cm; frames 0-1 and 20 not placed (NaN)."""
    angle = np.linspace(0, np.pi, NUM_FRAMES)
    roots = np.stack([1500 * np.cos(angle), 100 + 30 * np.sin(6 * angle), 4000 + 1500 * np.sin(angle)], 1)
    roots[[0, 1, 20]] = np.nan
    return roots


@pytest.fixture(scope="module")
def root_modes(tmp_path_factory, motion):
    """{mode: pelvis-world positions (T, 3) and all joints (T, 17, 3) as bvhio reads them} of one
    track exported through TrackedPoses with a root per frame, in each --bvh_root mode."""
    tracked = TrackedPoses(fps=FPS)
    for frame, (pose, root) in enumerate(zip(motion, walking_roots())):
        placed = None if np.isnan(root).any() else root
        tracked.add(frame, [{"track_id": 1, "joints_3d_h36m_mm": pose, "root_cam_mm": placed}])
    out = {}
    for mode in ROOT_MODES:
        folder = tmp_path_factory.mktemp(mode)
        paths, _ = export_tracks(str(folder), "clip", tracked.spans(), FPS, root_mode=mode)
        out[mode] = read_positions(paths[0])
    return out


def test_root_motion_in_each_bvh_root_mode(root_modes):
    """camera: the pelvis is the camera-frame root in BVH axes (x, -y, -z); start: the same moved
    so that the first placed root is the origin; fixed: the origin. Unplaced frames repeat the
    previous root (the first placed one at the start). The skeleton around the pelvis is the same
    in every mode."""
    roots = walking_roots()
    roots[[0, 1]] = roots[2]
    roots[20] = roots[19]
    expected = {"camera": to_bvh_axes(roots), "start": to_bvh_axes(roots - roots[2]), "fixed": np.zeros_like(roots)}
    pelvis = J["pelvis"]
    for mode, positions in root_modes.items():
        np.testing.assert_allclose(positions[:, pelvis], expected[mode], atol=1e-3, err_msg=mode)
        relative = positions - positions[:, pelvis : pelvis + 1]
        fixed = root_modes["fixed"]
        np.testing.assert_allclose(relative, fixed - fixed[:, pelvis : pelvis + 1], atol=1e-3, err_msg=mode)
    assert np.ptp(root_modes["camera"][:, pelvis, 2]) > 1000  # it really walks


def test_a_track_never_placed_stays_at_the_origin(tmp_path, motion):
    roots = np.full((12, 3), np.nan)
    paths, _ = export_tracks(str(tmp_path), "clip", {1: (0, motion[:12], roots)}, FPS, root_mode="camera")
    np.testing.assert_allclose(read_positions(paths[0])[:, J["pelvis"]], 0, atol=1e-6)
