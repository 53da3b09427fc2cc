"""hg3d.PoseTracker, one frame at a time: two generated people walking apart, found by a detector
that knows where they are (and lists them in any order), followed with their ids, smoothed with
the frames' times, and boxes carried between detections."""

import numpy as np
import pytest

import hg3d
from hg3d.camera import Intrinsics, project
from hg3d.demo.smoothing import SMOOTH_2D, SMOOTH_3D
from hg3d.inference import Estimator
from hg3d.placement import place_person
from hg3d.skeleton import to_h36m_order
from hg3d.tools.synthetic import H36M_TO_MPII, camera_intrinsics, random_background, random_pose, render_person
from test_smoothing import one_euro_by_hand

WIDTH, HEIGHT, FRAMES = 192, 128, 5
STEP_MM = 60  # each person moves this far a frame (about 5 px), in opposite directions


CAMERA = camera_intrinsics(WIDTH, HEIGHT)  # the synthetic scene's camera matrix
INTRINSICS = Intrinsics(CAMERA[0, 0], CAMERA[1, 1], CAMERA[0, 2], CAMERA[1, 2])


def walking_pair():
    """FRAMES pictures of two people walking apart, and per frame their true boxes, MPII-16 2D
    joints and H36M-17 camera-frame 3D joints (mm) (A, B)."""
    rng = np.random.default_rng(4)
    background = random_background(rng, WIDTH, HEIGHT)
    poses = [random_pose(rng) + [x, 0, 3500] for x in (-500, 500)]
    frames, boxes, joints, joints_3d = [], [], [], []
    for t in range(FRAMES):
        image, frame_boxes, frame_joints, frame_3d = background.copy(), [], [], []
        for person, (pose, direction) in enumerate(zip(poses, (-1, 1))):
            moved = pose + [direction * STEP_MM * t, 0, 0]
            uv = render_person(image, moved, CAMERA, np.random.default_rng(person))
            low, high = uv.min(0), uv.max(0)
            frame_boxes.append(np.concatenate([low - 0.1 * (high - low), 1.2 * (high - low)]))
            frame_joints.append(uv[H36M_TO_MPII])
            frame_3d.append(moved)
        frames.append(image)
        boxes.append(frame_boxes)
        joints.append(frame_joints)
        joints_3d.append(frame_3d)
    return frames, boxes, joints, joints_3d


class KnownPeople:
    """A detector that returns the true boxes of frame ``frame`` (set by the test), shuffled, and
    notes the frames it ran on."""

    def __init__(self, boxes):
        self.boxes, self.frame, self.calls, self.rng = boxes, 0, [], np.random.default_rng(0)

    def __call__(self, images):
        self.calls.append(self.frame)
        order = self.rng.permutation(len(self.boxes[self.frame]))
        return [(np.array(self.boxes[self.frame])[order], np.array([0.9, 0.8])[order])]


@pytest.fixture(scope="module")
def scene():
    return walking_pair()


@pytest.fixture(scope="module")
def estimator(resnet18_3d_checkpoint):
    return Estimator.from_checkpoint(resnet18_3d_checkpoint, arch="msra_18", input_w=64, input_h=64)


def who(person, truth):
    """Which true person (0: A, 1: B) a found person's box is."""
    return int(np.argmin([np.abs(np.asarray(person["box"]) - box).sum() for box in truth]))


def test_is_the_public_api():
    assert hg3d.PoseTracker is hg3d.demo.pose_tracker.PoseTracker and "PoseTracker" in hg3d.__all__


def test_ids_follow_the_people_whatever_the_detector_order(scene, estimator):
    frames, boxes, _, _ = scene
    detector = KnownPeople(boxes)
    tracker = hg3d.PoseTracker(estimator, detector)
    ids = {0: set(), 1: set()}
    for t, frame in enumerate(frames):
        detector.frame = t
        people = tracker.step(frame)
        assert len(people) == 2 and {p["box_source"] for p in people} == {"detector"}
        for person in people:
            ids[who(person, boxes[t])].add(person["track_id"])
            assert person["score"] in (0.9, 0.8) and person["joints_3d_mm"].shape == (16, 3)
    assert len(ids[0]) == len(ids[1]) == 1 and ids[0] != ids[1]
    assert detector.calls == list(range(FRAMES))


def test_smoothing_uses_the_given_times(scene, estimator):
    """Each person's joints are the One-Euro filter (computed by hand) of the network's raw output
    on their true boxes, at the times given to step (irregular), and H36M-17 follows MPII-16."""
    frames, boxes, _, _ = scene
    times = [0.0, 0.04, 0.1, 0.12, 0.3]
    tracker = hg3d.PoseTracker(estimator, smoothing=True)
    smoothed = {0: [], 1: []}
    for t, frame in enumerate(frames):
        for person in tracker.step(frame, boxes=boxes[t], time_s=times[t]):
            assert person["box_source"] == "given"
            smoothed[person["index"]].append(person)
    for index in (0, 1):
        assert {p["track_id"] for p in smoothed[index]} == {index + 1}
        raw = [estimator.predict(frame, [boxes[t][index]])[0] for t, frame in enumerate(frames)]
        for key, settings in (("joints_2d", SMOOTH_2D), ("joints_3d_mm", SMOOTH_3D)):
            series = np.array([r[key] for r in raw])
            expected = np.zeros_like(series)
            for joint, axis in np.ndindex(series.shape[1:]):
                expected[:, joint, axis] = one_euro_by_hand(series[:, joint, axis].tolist(), times, **settings)[0]
            np.testing.assert_allclose([p[key] for p in smoothed[index]], expected, atol=1e-6, err_msg=key)
            assert not np.allclose(expected[-1], series[-1], atol=0.05)
        for person in smoothed[index]:
            np.testing.assert_allclose(person["joints_3d_h36m_mm"], to_h36m_order(person["joints_3d_mm"]))


def test_fps_times_the_frames_when_no_time_is_given(scene, estimator):
    frames, boxes, _, _ = scene
    by_fps = hg3d.PoseTracker(estimator, smoothing=True, fps=25)
    by_time = hg3d.PoseTracker(estimator, smoothing=True)
    for t, frame in enumerate(frames):
        a = by_fps.step(frame, boxes[t][:1])[0]
        b = by_time.step(frame, boxes[t][:1], time_s=t / 25)[0]
        np.testing.assert_array_equal(a["joints_2d"], b["joints_2d"])
    with pytest.raises(ValueError, match="time"):
        hg3d.PoseTracker(estimator, smoothing=True).step(frames[0])


class TrueJoints:
    """An estimator that knows the people: for each box, the true 2D joints and root-relative 3D
    pose of the person it covers (a perfect network), placed by the camera it is given as
    ``Estimator`` places people; so the boxes carried from the poses are the true ones."""

    def __init__(self, boxes, joints, joints_3d):
        self.boxes, self.joints, self.joints_3d, self.frame = boxes, joints, joints_3d, 0

    def predict(self, image, boxes, intrinsics=None):
        truth = self.boxes[self.frame]
        people = []
        for box in boxes:
            person = who({"box": box}, truth)
            relative = self.joints_3d[self.frame][person] - self.joints_3d[self.frame][person][0]
            found = {
                "box": np.asarray(box),
                "joints_2d": self.joints[self.frame][person],
                "joints_3d_mm": relative[H36M_TO_MPII],
                "joints_3d_h36m_mm": relative,
            }
            people.append(place_person(found, intrinsics or Intrinsics.from_fov(WIDTH, HEIGHT)))
        return people


def test_boxes_are_carried_between_detections(scene):
    """det_every=3 with a perfect network: the detector runs on frames 0 and 3; in between each
    person's box is the box of their previous 2D joints (cut to the frame), and keeps its id."""
    frames, boxes, joints, joints_3d = scene
    detector, estimator = KnownPeople(boxes), TrueJoints(boxes, joints, joints_3d)
    tracker = hg3d.PoseTracker(estimator, detector, det_every=3)
    sources, ids = [], []
    for t, frame in enumerate(frames):
        detector.frame = estimator.frame = t
        people = tracker.step(frame)
        sources.append({p["box_source"] for p in people})
        ids.append({who(p, boxes[t]): p["track_id"] for p in people})
        for person in (p for p in people if p["box_source"] == "previous pose"):
            previous = joints[t - 1][who(person, boxes[t])]  # last frame's joints, 10 % padded, cut to the frame
            size = previous.max(0) - previous.min(0)
            low = np.maximum(previous.min(0) - 0.1 * size, 0)
            high = np.minimum(previous.max(0) + 0.1 * size, [WIDTH, HEIGHT])
            np.testing.assert_allclose(person["box"], np.concatenate([low, high - low]), atol=1e-9)
    assert detector.calls == [0, 3]
    assert sources == [{"detector"}, {"previous pose"}, {"previous pose"}, {"detector"}, {"previous pose"}]
    assert ids == [{0: 1, 1: 2}] * FRAMES or ids == [{0: 2, 1: 1}] * FRAMES


def test_ended_tracks_leave_no_filters(scene):
    """A smoothed person missed for more than max_missed frames: their track and its filters go."""
    frames, boxes, joints, joints_3d = scene
    estimator = TrueJoints(boxes, joints, joints_3d)
    tracker = hg3d.PoseTracker(estimator, smoothing=True, fps=25, max_missed=1)
    for t, kept in enumerate([2, 1, 1, 1]):
        estimator.frame = t
        tracker.step(frames[t], boxes[t][:kept])
        assert set(tracker.smoother.filters) == set(tracker.tracker.tracks) == ({1, 2} if t < 2 else {1})


def test_perfect_network_places_each_person_at_their_true_root(scene):
    """True 2D and root-relative 3D joints and the scene's camera: every person's root is their
    true pelvis (< 1 mm), joints_3d_cam_mm - root is the root-relative pose, and projecting
    joints_3d_cam_mm lands on the 2D joints."""
    frames, boxes, joints, joints_3d = scene
    estimator = TrueJoints(boxes, joints, joints_3d)
    tracker = hg3d.PoseTracker(estimator, intrinsics=INTRINSICS)
    for t, frame in enumerate(frames):
        estimator.frame = t
        for person in tracker.step(frame, boxes[t]):
            truth = joints_3d[t][person["index"]]
            np.testing.assert_allclose(person["root_cam_mm"], truth[0], atol=1.0)
            np.testing.assert_allclose(person["joints_3d_cam_mm"] - person["root_cam_mm"], person["joints_3d_h36m_mm"])
            np.testing.assert_allclose(
                project(person["joints_3d_cam_mm"], INTRINSICS)[H36M_TO_MPII], joints[t][person["index"]], atol=0.01
            )
            assert person["placement_note"] is None


def test_without_intrinsics_the_frame_field_of_view_is_used(scene):
    """No camera given: the estimator's default (55 degrees over the frame): the root differs
    from the true one in depth, by the ratio of the focal lengths."""
    frames, boxes, joints, joints_3d = scene
    estimator = TrueJoints(boxes, joints, joints_3d)
    person = hg3d.PoseTracker(estimator).step(frames[0], boxes[0][:1])[0]
    ratio = Intrinsics.from_fov(WIDTH, HEIGHT).fx / INTRINSICS.fx
    assert abs(person["root_cam_mm"][2] / joints_3d[0][0][0, 2] - ratio) < 0.05 and abs(ratio - 1) > 0.1


def test_smoothing_filters_the_root_and_the_camera_joints_follow(scene):
    """With smoothing, root_cam_mm is the One-Euro filter (3D settings, by hand) of the perfect
    network's raw roots, and joints_3d_cam_mm is the smoothed H36M-17 pose plus it."""
    frames, boxes, joints, joints_3d = scene
    estimator = TrueJoints(boxes, joints, joints_3d)
    times = [0.0, 0.04, 0.1, 0.12, 0.3]
    tracker = hg3d.PoseTracker(estimator, smoothing=True, intrinsics=INTRINSICS)
    smoothed, raw = [], []
    for t, frame in enumerate(frames):
        estimator.frame = t
        smoothed.append(tracker.step(frame, boxes[t][:1], time_s=times[t])[0])
        raw.append(estimator.predict(frame, boxes[t][:1], INTRINSICS)[0]["root_cam_mm"])
    raw = np.array(raw)
    expected = np.stack([one_euro_by_hand(raw[:, axis].tolist(), times, **SMOOTH_3D)[0] for axis in range(3)], 1)
    np.testing.assert_allclose([p["root_cam_mm"] for p in smoothed], expected, atol=1e-6)
    assert np.abs(expected[-1] - raw[-1]).max() > 5
    for person in smoothed:
        np.testing.assert_allclose(person["joints_3d_cam_mm"], person["joints_3d_h36m_mm"] + person["root_cam_mm"])
