"""``PoseTracker``: the people of a stream of frames, one frame at a time: person boxes (given,
detected, or carried over from the previous poses), 2D/3D poses, track ids, smoothing.

    tracker = hg3d.PoseTracker(estimator, detector=None, det_every=1, smoothing=True, fps=30)
    for frame in frames:
        people = tracker.step(frame)  # dicts as Estimator.predict gives, plus track_id, ...
"""

import numpy as np

from .smoothing import DEFAULT_SMOOTHING, TrackSmoother
from .tracking import Tracker

POSE_BOX_PAD = 0.1  # between detections a person's box is its 2D joints' box, 10% padded each side


def pose_box(joints_2d):
    """x, y, w, h around 2D joints (N, 2), padded by ``POSE_BOX_PAD`` of its size on each side."""
    low, high = np.min(joints_2d, 0), np.max(joints_2d, 0)
    size = np.maximum(high - low, 1.0)
    return np.concatenate([low - POSE_BOX_PAD * size, size * (1 + 2 * POSE_BOX_PAD)])


def clip_box(box, image_shape):
    """The part of box x, y, w, h inside an image of ``image_shape``, or None when less than a
    pixel of it is left in either direction."""
    height, width = image_shape[:2]
    low = np.clip(box[:2], 0, [width, height])
    high = np.clip(np.asarray(box[:2]) + box[2:], 0, [width, height])
    return None if np.any(high - low < 1) else np.concatenate([low, high - low])


def carried_boxes(people, image_shape):
    """The boxes of the previous frame's people for this frame: their 2D joints' boxes clipped to
    the image; None (detect again) when someone's box has nothing left inside, as when a person
    walks out of the picture or a pose decodes beyond it."""
    boxes = [clip_box(pose_box(p["joints_2d"]), image_shape) for p in people]
    return None if any(box is None for box in boxes) else boxes


def find_people(detector, images, given, detected=None):
    """Per image (boxes or None for the whole image, scores, source) from the given boxes (a list,
    or None), else the detector (``detected``: its (boxes, scores) found ahead, None where not; one
    call for the other images without given boxes), else the whole image. ``detector``: a
    callable, images -> [(boxes (N, 4) x, y, w, h, scores (N,))], or None."""
    detected = list(detected) if detected is not None else [None] * len(images)
    to_detect = [i for i, g in enumerate(given) if g is None and detected[i] is None] if detector else []
    for i, people in zip(to_detect, detector([images[i] for i in to_detect]) if to_detect else []):
        detected[i] = people
    found = []
    for boxes, people in zip(given, detected):
        if boxes is not None:
            found.append((list(boxes), [None] * len(boxes), "given"))
        elif detector and people is not None:
            found.append((list(people[0]), list(people[1]), "detector"))
        else:
            found.append((None, [None], "whole image"))
    return found


def label_people(people, scores, source):
    """Add each person's ``index`` (order in the image), ``score`` and ``box_source``."""
    for index, (person, score) in enumerate(zip(people, scores)):
        person.update(index=index, score=score, box_source=source)
    return people


class PoseTracker:
    """The people of successive frames of one stream (a video, a camera), with track ids.

    ``estimator``: an ``hg3d.Estimator``. ``detector``: a callable, images -> [(boxes, scores)]
    (``hg3d.demo.detection.PersonDetector``), or None for the whole frame as one person. With a
    detector, it runs every ``det_every`` frames; in between, each person's box is the box of their
    previous 2D joints (10 % padded, cut to the frame), and the detector runs again as soon as one
    of those boxes has nothing left inside the frame. ``smoothing``: None (off), True (the demo's
    ``--smooth`` settings) or {"2d_px": {...}, "3d_mm": {...}} One-Euro settings. A frame's time is
    the ``time_s`` given to ``step``, else its index / ``fps``. ``min_iou``, ``max_missed``: the
    tracker's (see ``Tracker``). ``camera``: what places the people (``root_cam_mm``,
    ``joints_3d_cam_mm``): a ``camera.Intrinsics``, or a ``camera.CameraPolicy`` that chooses the
    intrinsics on the first frame (from ``source_path``'s EXIF when the frames come from a file);
    None: the estimator's own. ``intrinsics``: the camera chosen (None before the first frame).
    """

    def __init__(
        self,
        estimator,
        detector=None,
        det_every=1,
        smoothing=None,
        fps=None,
        min_iou=0.3,
        max_missed=5,
        camera=None,
        source_path=None,
    ):
        if det_every < 1:
            raise ValueError(f"det_every must be >= 1, got {det_every}")
        self.estimator, self.detector, self.det_every, self.fps = estimator, detector, det_every, fps
        self.smoothing = DEFAULT_SMOOTHING if smoothing is True else smoothing or None
        self.smoother = TrackSmoother(self.smoothing) if self.smoothing else None
        self.tracker = Tracker(min_iou, max_missed)
        self.camera, self.source_path, self.intrinsics = camera, source_path, None
        self.frame_index, self.previous = 0, []

    def step(self, frame, boxes=None, time_s=None, detected=None):
        """The people of the next BGR ``frame``: dicts as ``Estimator.predict`` gives (``box``,
        ``joints_2d``, ``joints_3d_mm``, ``root_cam_mm``, ...) plus ``index``, ``score``, ``box_source`` and
        ``track_id``, smoothed when smoothing is on. ``boxes``: this frame's person boxes
        [[x, y, w, h], ...] (an empty list: nobody), or None to find them. ``detected``: the
        detector's (boxes, scores) for this frame when found ahead (the demo's pipeline does, on the
        frames ``detection_due`` names), used instead of running the detector here."""
        time_s = self._time(time_s)
        if self.intrinsics is None and self.camera is not None:
            self.intrinsics = self.camera.for_frame(frame.shape, self.source_path)
        found, scores, source = self._boxes(frame, boxes, detected)
        people = label_people(self.estimator.predict(frame, found, self.intrinsics), scores, source)
        for person, track_id in zip(people, self.tracker.update([p["box"] for p in people])):
            person["track_id"] = track_id
            if self.smoother:
                self.smoother(person, time_s)
        if self.smoother:
            self.smoother.keep_only(self.tracker.tracks)
        self.frame_index, self.previous = self.frame_index + 1, people
        return people

    def _time(self, time_s):
        if time_s is not None:
            return float(time_s)
        if self.fps:
            return self.frame_index / self.fps
        if self.smoother:
            raise ValueError("PoseTracker smoothing needs each frame's time: give fps= or step(..., time_s=)")
        return None

    def detection_due(self, frame_number):
        """Whether the detector runs on the ``frame_number``-th frame stepped (0: the first)
        whatever the previous poses: every ``det_every``-th; on the others it runs only when the
        previous poses leave no box to carry over."""
        return self.detector is not None and frame_number % self.det_every == 0

    def _boxes(self, frame, given, detected):
        """(boxes or None for the whole frame, scores, source) of this frame."""
        if given is None and self.detector and not self.detection_due(self.frame_index) and self.previous:
            carried = carried_boxes(self.previous, frame.shape)
            if carried is not None:
                return carried, [None] * len(carried), "previous pose"
        return find_people(self.detector, [frame], [given], [detected])[0]
