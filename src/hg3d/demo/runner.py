"""The demo's one frame loop, ``run(source, tracker, sinks, stop)``: images, videos, files played
live, cameras and streams all go through it.

The source (``sources``) gives frames; the tracker (``ImagePeople`` for independent images, a batch
at a time; ``TrackedPeople`` for the frames of one video, camera or stream) finds their people; each
``FrameResult`` goes to every sink (``sinks``). The sinks are opened once the source has delivered
its first frame, and closed with why the run stopped: ``"end of stream"``, ``"stalled"`` (a stream
that sent no frame for its read timeout), ``"Ctrl-C"`` (SIGINT), ``"SIGTERM"`` (``docker stop``,
systemd, ``kill``), ``"q"`` (the window), or None when it failed. A stopped run keeps what it
processed: whole videos, the JSON of the frames so far. Latency (from a live frame's arrival to
its people) and the frames a live source dropped are counted here.
"""

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from ..inference import box_outside
from .boxes import all_boxes, frame_boxes, image_boxes
from .pipeline import Pipeline, wanted
from .pose_tracker import find_people, label_people
from .sinks import people_fields
from .sources import Frame, Skipped, shown
from .tracking import TrackedPoses

STOP_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class StopRequest:
    """Why the loop should stop (None: it should not yet)."""

    def __init__(self):
        self.reason = None

    def requested(self):
        return self.reason is not None

    def request(self, reason):
        self.reason = self.reason or reason

    @contextlib.contextmanager
    def on_signals(self):
        """Within: the first SIGINT (Ctrl-C) or SIGTERM asks the loop to stop after the frame at
        hand, so that its files are closed and written; a second one ends the process at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def ask_to_stop(signum, frame):
            self.request(STOP_SIGNALS[signum])
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

        previous = {sig: signal.signal(sig, ask_to_stop) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@dataclass
class FrameResult:
    """One processed frame: its people (dicts as ``Estimator.predict`` gives, labelled), the camera
    that placed them, the detector label of the JSON; for live frames the latency and the frames
    dropped so far; what sinks made of it (the 2D overlay, the suffixes written for an image)."""

    frame: Frame
    people: list
    intrinsics: object
    detector: str
    latency_ms: float | None = None
    frames_dropped: int | None = None
    done: float | None = None  # time.monotonic() when its people were found
    overlay: np.ndarray | None = None
    written: list = field(default_factory=list)
    _fields: dict | None = None

    def fields(self):
        """The people as the JSON and the jsonl hold them (computed once)."""
        if self._fields is None:
            self._fields = people_fields(self.people)
        return self._fields


class Run:
    """What the sinks see of a run: the source, the tracker, the first frame, the counts, and the
    suffixes of the files written so far (for the summary line)."""

    def __init__(self, source, tracker, first):
        self.source, self.tracker, self.first = source, tracker, first
        self.latencies_ms, self.processed, self.written = [], 0, []
        self.started = time.monotonic()
        self.stopped_by = None

    def count(self, result):
        self.processed += 1
        if result.frame.arrival is not None:
            result.latency_ms = (result.done - result.frame.arrival) * 1000.0
            result.frames_dropped = self.source.feed.dropped
            self.latencies_ms.append(result.latency_ms)

    def live_summary(self):
        """A live run's counts for its JSON."""
        latencies, feed = self.latencies_ms, self.source.feed
        elapsed = time.monotonic() - self.started
        return {
            "stopped_by": self.stopped_by,
            "frames_arrived": feed.arrived,
            "frames_processed": self.processed,
            "frames_dropped": feed.dropped,
            "mean_latency_ms": round(float(np.mean(latencies)), 1) if latencies else None,
            "max_latency_ms": round(float(np.max(latencies)), 1) if latencies else None,
            "achieved_fps": round(self.processed / elapsed, 2) if elapsed > 0 else None,
        }


def _batches(frames, size):
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(source, tracker, sinks, stop, pipeline="auto"):
    """Every frame of ``source`` through ``tracker`` to the ``sinks``, until the source ends or
    ``stop`` is requested; returns the ``Run`` (None when no frame arrived: nothing was opened).
    ``pipeline`` (``--pipeline``: auto, on or off): whether frames are read and their people
    detected ahead in threads (``pipeline.wanted``), the same results sooner. The source is closed
    in any case; on an error the sinks are closed with None."""
    current, opened, completed, frames = None, [], False, None
    try:
        frames = Pipeline(source, tracker, stop.requested, wanted(pipeline, tracker.device_type))
        for batch in _batches(frames, tracker.batch_size):
            if current is None:
                problem = tracker.check(batch[0])
                if problem:
                    raise Skipped(problem)
                current = Run(source, tracker, batch[0])
                for sink in sinks:
                    sink.open(current)
                    opened.append(sink)
            for result in tracker.step(batch):
                current.count(result)
                for sink in sinks:
                    sink.write(result)
        completed = True
    finally:
        if frames is not None:
            frames.close()
        source.close()
        if current is not None:
            current.stopped_by = (stop.reason or getattr(source, "ended_by", "end of stream")) if completed else None
            _close(opened, current.stopped_by)
    return current


def _close(sinks, stopped_by):
    """Close every sink; when one fails the others are still closed (with None: keep nothing
    half-made), and the first failure is raised."""
    failure = None
    for sink in sinks:
        try:
            sink.close(stopped_by if failure is None else None)
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


def detector_label(given, detector):
    return "given boxes" if given is not None else (detector.name if detector else "none")


class ImagePeople:
    """The people of independent images, a batch at a time (all crops of a batch through the
    network together): the boxes given for each (``boxes_for(path)``), else the detector's, else
    the whole image; each image placed by the camera the policy gives it (its own EXIF). An image
    whose given boxes miss it is skipped with a line on ``log`` (an error when it is the only one)."""

    def __init__(self, estimator, detector, camera, boxes_for, batch_size, single, log=print):
        self.estimator, self.detector, self.camera, self.boxes_for = estimator, detector, camera, boxes_for
        self.batch_size, self.single, self.log = batch_size, single, log

    @property
    def device_type(self):
        return self.estimator.device.type

    def check(self, frame):
        return None

    def _usable(self, frame):
        """The boxes given for an image (None: none given), or False when they miss it."""
        given = image_boxes(self.boxes_for(frame.path), shown(frame.path))
        problem = given and next((p for p in (box_outside(b, frame.image.shape) for b in given) if p), None)
        if not problem:
            return given
        if self.single:
            raise UserError(f"{shown(frame.path)}: {problem} (check --bbox/--bboxes)")
        self.log(f"skipping {shown(frame.path)}: {problem} (check --bbox/--bboxes)")
        return False

    def prepare(self, frame):
        """The pipeline's detection stage: the people of an image without given boxes, found ahead."""
        if self.boxes_for(frame.path) is None:
            frame.detected = self.detector([frame.image])[0]
        return frame

    def step(self, frames):
        kept = [(frame, given) for frame in frames if (given := self._usable(frame)) is not False]
        images = [frame.image for frame, _ in kept]
        found = find_people(self.detector, images, [given for _, given in kept], [frame.detected for frame, _ in kept])
        cameras = [self.camera.for_frame(frame.image.shape, frame.path) for frame, _ in kept]
        people = self.estimator.predict_batch(images, [boxes for boxes, _, _ in found], cameras) if kept else []
        done = time.monotonic()
        return [
            FrameResult(
                frame, label_people(persons, scores, source), camera, detector_label(given, self.detector), done=done
            )
            for (frame, given), persons, (_, scores, source), camera in zip(kept, people, found, cameras)
        ]


class TrackedPeople:
    """The people of the frames of one video, camera or stream through a ``PoseTracker`` (boxes,
    tracks, smoothing, the camera it chose on the first frame); ``entry``: the boxes given for the
    source (or None); ``refine``: called with each frame and its people before they are kept (live
    ``--temporal``, ``demo.temporal.CausalRefiner``), or None. What each track did is kept in
    ``tracked`` (``TrackedPoses``) for the JSON's track list and the BVH export; ``detector``: the
    one its frames may need (None with given boxes)."""

    batch_size = 1

    def __init__(self, pose_tracker, entry, detector, refine=None):
        self.pose_tracker, self.entry, self.refine = pose_tracker, entry, refine
        self.label = detector_label(entry, detector)
        self.detector = pose_tracker.detector if entry is None else None
        self.tracked = TrackedPoses(pose_tracker.fps)
        self.prepared = 0

    @property
    def intrinsics(self):
        return self.pose_tracker.intrinsics

    @property
    def device_type(self):
        return self.pose_tracker.estimator.device.type

    def check(self, frame):
        """Why the given boxes cannot be used on this source's frames (every frame has the first
        one's size), or None."""
        if self.entry is None:
            return None
        problem = next((p for p in (box_outside(b, frame.image.shape) for b in all_boxes(self.entry)) if p), None)
        return problem and f"{problem} (check --bbox/--bboxes)"

    def prepare(self, frame):
        """The pipeline's detection stage: a frame's people found ahead when the pose tracker is
        due to run its detector on it (every frame given to ``step`` must have been prepared)."""
        if self.pose_tracker.detection_due(self.prepared):
            frame.detected = self.detector([frame.image])[0]
        self.prepared += 1
        return frame

    def step(self, frames):
        (frame,) = frames
        given = frame_boxes(self.entry, frame.index)
        people = self.pose_tracker.step(frame.image, given, frame.time_s, frame.detected)
        if self.refine is not None:
            self.refine(frame, people)
        self.tracked.add(frame.index, people)
        return [FrameResult(frame, people, self.intrinsics, self.label, done=time.monotonic())]
