"""Tracking: IoU, and ids kept through crossing, entering and leaving people with shuffled boxes."""

import numpy as np

from hg3d.demo.tracking import Tracker, iou_matrix


def test_iou_matrix():
    a = [[0, 0, 10, 10], [100, 100, 5, 5]]
    b = [[5, 0, 10, 10], [0, 0, 10, 10], [50, 50, 1, 1]]
    expected = [[50 / 150, 1, 0], [0, 0, 0]]
    np.testing.assert_allclose(iou_matrix(a, b), expected)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_iou_matrix_of_boxes_in_space():
    a = [[0, 0, 0, 10, 10, 10]]
    b = [[5, 0, 0, 10, 10, 10], [0, 0, 5, 10, 10, 20], [0, 0, 10, 10, 10, 10]]
    np.testing.assert_allclose(iou_matrix(a, b, dims=3), [[500 / 1500, 500 / 2500, 0]])


def test_a_tracker_in_space_follows_people_in_three_dimensions():
    """Two people 3D boxes (mm), listed in either order, walking past each other: one id each."""
    tracker, seen = Tracker(dims=3), {"A": set(), "B": set()}
    for frame in range(20):
        boxes = {"A": [-900 + 60 * frame, 0, 0, 500, 300, 1700], "B": [900 - 60 * frame, 500, 0, 500, 300, 1700]}
        names = ["A", "B"] if frame % 2 else ["B", "A"]
        for name, track_id in zip(names, tracker.update([boxes[n] for n in names])):
            seen[name].add(track_id)
    assert seen == {"A": {1}, "B": {2}} or seen == {"A": {2}, "B": {1}}


def people_boxes(frame):
    """Ground-truth boxes {person: x, y, w, h} of frame 0..39: A walks right, B walks left (they
    cross around frame 20, B a little lower), C enters at frame 10, A leaves after frame 29."""
    boxes = {"B": [300 - 8 * frame, 110, 40, 100]}
    if frame < 30:
        boxes["A"] = [20 + 8 * frame, 100, 40, 100]
    if frame >= 10:
        boxes["C"] = [400, 20 + frame, 50, 120]
    return boxes


def test_ids_follow_people_through_crossing_entering_leaving():
    rng = np.random.default_rng(0)
    tracker, seen = Tracker(), {}
    for frame in range(40):
        truth = people_boxes(frame)
        names = list(truth)
        rng.shuffle(names)  # the detector gives boxes in any order
        boxes = np.array([truth[n] for n in names], float) + rng.normal(0, 1.5, (len(names), 4))
        for name, track_id in zip(names, tracker.update(boxes)):
            seen.setdefault(name, set()).add(track_id)
    assert all(len(ids) == 1 for ids in seen.values()), seen  # one id per person, all along
    assert len({next(iter(ids)) for ids in seen.values()}) == 3  # three different ids
    assert sorted(next(iter(seen[n])) for n in ("A", "B")) == [1, 2] and seen["C"] == {3}


def test_track_ends_after_missed_frames_and_ids_are_not_reused():
    tracker = Tracker(max_missed=2)
    box = [[0, 0, 10, 10]]
    assert tracker.update(box) == [1]
    tracker.update([])
    tracker.update([])
    assert tracker.update(box) == [1]  # missed 2 frames: still the same person
    for _ in range(3):
        tracker.update([])
    assert tracker.update(box) == [2]  # missed 3 > 2 frames: the track had ended
    assert tracker.update([[500, 500, 10, 10], [1, 1, 10, 10]]) == [3, 2]  # far box: a new id


def test_pairs_below_min_iou_cannot_outbid_the_best_overlap():
    """Box a overlaps track 1 at IoU 0.905 (and track 2 at 0.026), box b overlaps track 1 at
    0.887 only. Counting the 0.026 pair in the sum would give track 1 to b (0.887 + 0.026 >
    0.905) and then drop a's pair: a, the best overlap, would lose the id."""
    tracks = [[0, 0, 100, 100], [100, 0, 100, 100]]
    a, b = [5, 0, 100, 100], [-6, 0, 100, 100]
    # IoU by hand: a with track 1: 95 x 100 / (2 x 10000 - 9500); a with track 2: 5 x 100 / 19500
    expected = [[9500 / 10500, 500 / 19500], [9400 / 10600, 0]]
    np.testing.assert_allclose(iou_matrix([a, b], tracks), expected)
    tracker = Tracker(min_iou=0.3)
    assert tracker.update(tracks) == [1, 2]
    assert tracker.update([a, b]) == [1, 3]


def test_an_iou_of_exactly_min_iou_is_allowed():
    """Only pairs below min_iou are ruled out: at exactly min_iou the box keeps its track. The two
    boxes overlap by 2 of a union of 4, an IoU of exactly 0.5 in floating point."""
    first, moved = [0, 0, 3, 1], [1, 0, 3, 1]
    assert iou_matrix([moved], [first])[0, 0] == 0.5
    at_the_gate = Tracker(min_iou=0.5)
    assert at_the_gate.update([first]) == [1] and at_the_gate.update([moved]) == [1]
    just_above = Tracker(min_iou=np.nextafter(0.5, 1.0))
    assert just_above.update([first]) == [1] and just_above.update([moved]) == [2]


def test_velocity_after_a_gap_is_per_frame():
    """A box 100 px wide moving 30 px a frame, missed for 3 frames, found where its motion puts
    it: the track keeps its id, and its velocity is the 120 px of those 4 frames divided by 4, so
    the next frame is predicted 30 px on (at 120 px a frame the prediction would overlap the next
    box at IoU 10 / 190, and a new id would start)."""
    tracker = Tracker()
    frames = {0: 0, 1: 1, 5: 5, 6: 6, 7: 7}  # frame -> position step; frames 2, 3, 4 have no box
    for frame in range(8):
        boxes = [[100 + 30 * frames[frame], 50, 100, 100]] if frame in frames else []
        assert tracker.update(boxes) == ([1] if boxes else [])
    np.testing.assert_allclose(tracker.tracks[1]["velocity"], [30, 0, 0, 0])
