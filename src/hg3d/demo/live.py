"""Live input: a camera (``--demo 0``), a stream (``rtsp://``, ``http(s)://``) or, with ``--live``, a
video file that plays at its own rate as a camera would.

A reader thread holds only the newest frame: when the model is slower than the source, the frames
it had no time for are dropped (and counted), so that each result is about a recent frame. Each
processed frame becomes one line of ``<name>.jsonl`` at once; the end of the stream, Ctrl-C or
``q`` in the window closes the videos and writes ``<name>.json``, a summary of the run.
"""

import contextlib
import json
import os
import re
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import cv2
import numpy as np

from ..errors import UserError
from ..files import c_stderr_silenced, write_json
from . import records
from .inputs import box_entry, frame_boxes, is_video
from .pipeline import Demo
from .pose_tracker import PoseTracker
from .reader import DEFAULT_FPS, VideoReader, sane_fps
from .tracks import TrackedPoses

STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://")
STREAM_TIMEOUT_MS = 10000  # opening a stream, and waiting for its next frame
READER_JOIN_S = 2.0  # how long stopping waits for the reader thread (a camera read can block)
RATE_WINDOW = 10  # the shown frames/s is over the last this many processed frames


def camera_index(spec):
    """The camera index ``--demo`` names (a number that is not a file's path), else None."""
    return int(spec) if spec.isdigit() and not os.path.exists(spec) else None


def is_stream(spec):
    return spec.lower().startswith(STREAM_PREFIXES)


def is_live_source(spec):
    """Whether ``--demo`` is a camera or a stream: always read live."""
    return camera_index(spec) is not None or is_stream(spec)


def live_name(spec):
    """Output stem: ``camera<index>``, a stream's last path part (else its host), a file's stem."""
    index = camera_index(spec)
    if index is not None:
        return f"camera{index}"
    if is_stream(spec):
        parts = urlsplit(spec)
        stem = os.path.splitext(os.path.basename(parts.path.rstrip("/")))[0] or parts.hostname or "stream"
        return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    return os.path.splitext(os.path.basename(spec))[0]


@dataclass
class LiveFrame:
    index: int  # place among the frames the source delivered (dropped ones included)
    frame: np.ndarray
    time_s: float  # file: its timestamp; camera, stream: seconds since the first frame arrived
    arrival: float  # time.monotonic() when the reader handed it over


class NewestFrame:
    """Frames of ``frames`` (a generator of (frame, time_s)) read by a thread; ``next`` gives the
    newest one not taken yet. ``paced``: hand each frame over at its ``time_s`` after the first (a
    file played like a camera) instead of as soon as it is read. ``arrived == taken + dropped``."""

    def __init__(self, frames, fps, kind, paced):
        self.frames, self.fps, self.kind, self.paced = frames, fps, kind, paced
        self.condition = threading.Condition()
        self.pending, self.ended, self.error = None, False, None
        self.first_arrival = None  # time.monotonic() of the first frame
        self.arrived = self.dropped = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._read, name="hg3d-live-reader", daemon=True)

    def start(self):
        self.thread.start()

    def _read(self):
        start = None
        try:
            for frame, time_s in self.frames:
                if self.paced:
                    start = time.monotonic() - time_s if start is None else start
                    if self.stopping.wait(max(0.0, start + time_s - time.monotonic())):
                        break
                if not self._hand_over(frame, time_s):
                    break
        except Exception as exc:  # handed to the main thread by next()
            self.error = exc
        finally:
            with self.condition:
                self.ended = True
                self.condition.notify_all()
            self.frames.close()  # releases the capture

    def _hand_over(self, frame, time_s):
        with self.condition:
            if self.stopping.is_set():
                return False
            self.dropped += self.pending is not None
            now = time.monotonic()
            self.first_arrival = now if self.first_arrival is None else self.first_arrival
            self.pending = LiveFrame(self.arrived, frame, time_s, now)
            self.arrived += 1
            self.condition.notify_all()
        return True

    def next(self, stop_requested):
        """The newest frame not taken yet, waiting for one; None at the end of the stream or once
        ``stop_requested()`` is true (asked every 0.1 s while waiting)."""
        with self.condition:
            while self.pending is None and not self.ended and not stop_requested():
                self.condition.wait(0.1)
            if stop_requested():
                return None
            item, self.pending = self.pending, None
        if item is None and isinstance(self.error, (cv2.error, OSError)):
            raise UserError(f"reading the live input failed: {self.error}")
        if item is None and self.error is not None:
            raise self.error
        return item

    def stop(self):
        """Stop reading; a frame that arrived and will not be processed counts as dropped."""
        self.stopping.set()
        with self.condition:
            self.dropped += self.pending is not None
            self.pending = None
        if self.thread.is_alive():
            self.thread.join(READER_JOIN_S)


def capture_frames(capture):
    """(frame, seconds since the first frame arrived) of a camera or stream until it ends."""
    start = None
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            now = time.monotonic()
            start = now if start is None else start
            yield frame, now - start
    finally:
        capture.release()


def open_capture(spec):
    """An open ``cv2.VideoCapture`` of a camera or stream, or a one-line UserError on what to check."""
    index = camera_index(spec)
    with c_stderr_silenced():  # OpenCV's backends print their own failure reports
        if index is not None:
            capture = cv2.VideoCapture(index)
        else:
            timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC]
            capture = cv2.VideoCapture(spec, cv2.CAP_ANY, [*timeouts, STREAM_TIMEOUT_MS])
        opened = capture.isOpened()
    if opened:
        return capture
    capture.release()
    if index is not None:
        raise UserError(
            f"--demo {spec}: no camera at index {index} can be opened; check that one is connected and not in "
            f"use by another program, or give another index"
        )
    raise UserError(
        f"--demo {spec}: the stream cannot be opened; check the address, that the stream is running, and "
        f"that this machine can reach it"
    )


def open_live_source(spec):
    """The NewestFrame of ``--demo`` (not started): a camera or stream, else a video file paced by
    its own timestamps (``--live``)."""
    if is_live_source(spec):
        capture = open_capture(spec)
        fps = sane_fps(capture.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
        kind = "camera" if camera_index(spec) is not None else "stream"
        return NewestFrame(capture_frames(capture), fps, kind, paced=False)
    if not os.path.isfile(spec) or not is_video(spec):
        raise UserError(
            f"--live plays one video file as a camera would, and --demo {spec} is not a video file; give a "
            f"video, a camera index (--demo 0) or a stream URL"
        )
    reader = VideoReader(spec)
    if not reader.opened:
        raise UserError(f"--demo {spec} cannot be opened as a video")
    return NewestFrame(reader.frames(), reader.fps, "file", paced=True)


class StopRequest:
    """Why the live loop should stop (None: it should not yet)."""

    def __init__(self):
        self.reason = None

    def requested(self):
        return self.reason is not None

    def request(self, reason):
        self.reason = self.reason or reason

    @contextlib.contextmanager
    def on_sigint(self):
        """Within: the first Ctrl-C asks the loop to stop after the frame at hand, so that its
        files are closed and written; a second one interrupts at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def ask_to_stop(signum, frame):
            self.request("Ctrl-C")
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous = signal.signal(signal.SIGINT, ask_to_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def append_line(handle, record):
    """One JSON line, written in a single call on an unbuffered file: a kill leaves whole lines."""
    data = (json.dumps(record, allow_nan=False) + "\n").encode()
    while data:
        data = data[handle.write(data) :]


def draw_rate(overlay, fps):
    """The overlay with the achieved frames/s in its top-left corner."""
    shown = overlay.copy()
    cv2.putText(shown, f"{fps:.1f} fps", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 255), 2, cv2.LINE_AA)
    return shown


class LiveRun:
    """One live run: each processed frame's people through the demo's PoseTracker, to the jsonl,
    the videos and (with --show) the window."""

    def __init__(self, demo, source, spec):
        self.demo, self.source, self.spec = demo, source, spec
        opt = demo.opt
        self.entry = box_entry(opt, spec)
        self.tracker = PoseTracker(demo.estimator, demo.detector, opt.det_every, opt.smooth_settings, source.fps)
        self.tracked = TrackedPoses(source.fps)
        self.out = os.path.join(opt.out_dir, demo.names[spec])
        self.stop = StopRequest()
        self.latencies_ms, self.done_times = [], deque(maxlen=RATE_WINDOW)
        self.pictures, self.started = None, None

    def run(self):
        """Process frames until the stream ends or a stop is asked; returns the frames processed."""
        with self.stop.on_sigint(), open(self.out + ".jsonl", "wb", buffering=0) as lines:
            self.started = time.monotonic()
            self.source.start()
            completed = False  # an error or a second Ctrl-C keeps the old videos
            try:
                while (item := self.source.next(self.stop.requested)) is not None:
                    self.process(item, lines)
                completed = True
            finally:
                self.source.stop()
                if self.pictures:
                    self.pictures.close(completed)
        self.stop.request("end of stream")
        if not self.latencies_ms and self.stop.reason == "end of stream":
            raise UserError(f"--demo {self.spec}: no frame could be read")
        self.write_summary()
        return len(self.latencies_ms)

    def process(self, item, lines):
        if self.pictures is None:
            self.tracker.intrinsics = self.demo.intrinsics(self.spec, item.frame.shape)
            self.pictures = self.demo.open_pictures(self.spec, self.entry, item.frame.shape, self.source.fps)
            if self.pictures is None:
                raise UserError(f"--demo {self.spec}: the given boxes miss its frames")
        people = self.tracker.step(item.frame, frame_boxes(self.entry, item.index), item.time_s)
        done = time.monotonic()
        latency_ms = (done - item.arrival) * 1000.0
        self.latencies_ms.append(latency_ms)
        self.done_times.append(done)
        self.tracked.add(item.index, people)
        line = {
            "frame": item.index,
            "time_s": round(item.time_s, 4),
            "arrival_s": round(item.arrival - self.source.first_arrival, 4),
            "latency_ms": round(latency_ms, 1),
            "frames_dropped": self.source.dropped,
            **records.people_fields(people),
        }
        append_line(lines, line)
        overlay = self.pictures.write(item.index, item.frame, people, self.tracker.intrinsics)
        if self.demo.show:
            cv2.imshow("hg3d 2D", draw_rate(overlay, self.achieved_fps()))
            if cv2.waitKey(1) & 0xFF == ord("q"):
                self.stop.request("q")

    def achieved_fps(self):
        """Frames processed per second over the last RATE_WINDOW frames."""
        times = self.done_times
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def write_summary(self):
        opt, source, latencies = self.demo.opt, self.source, self.latencies_ms
        elapsed = time.monotonic() - self.started
        record = {
            **records.header(opt, self.demo.detector_label(self.entry), self.tracker.intrinsics),
            "source": os.path.abspath(self.spec) if source.kind == "file" else self.spec,
            "source_kind": source.kind,
            "live": True,
            "fps": source.fps,
            "stopped_by": self.stop.reason,
            "frames_arrived": source.arrived,
            "frames_processed": len(latencies),
            "frames_dropped": source.dropped,
            "mean_latency_ms": round(float(np.mean(latencies)), 1) if latencies else None,
            "max_latency_ms": round(float(np.max(latencies)), 1) if latencies else None,
            "achieved_fps": round(len(latencies) / elapsed, 2) if elapsed > 0 else None,
            "det_every": opt.det_every,
            "smooth": opt.smooth_settings,
            "tracks": self.tracked.summary(),
            "frames_file": os.path.basename(self.out + ".jsonl"),
        }
        write_json(self.out + ".json", record)
        print(
            f"{self.spec} -> {self.out}{{.jsonl,_2d.mp4,_3d.mp4,.json}}: {record['frames_processed']} frames "
            f"processed, {record['frames_dropped']} dropped, mean latency {record['mean_latency_ms']} ms "
            f"(stopped by {record['stopped_by']})"
        )


def run_live_demo(opt):
    """The demo on a camera, a stream, or (``--live``) a video file played at its own rate."""
    if opt.bvh:
        raise UserError("--bvh needs every frame of a video, and live input drops frames; drop --bvh (or --live)")
    source = open_live_source(opt.demo)
    try:
        need_detector = opt.detector != "none" and box_entry(opt, opt.demo) is None
        demo = Demo(opt, {opt.demo: live_name(opt.demo)}, need_detector)
        demo.done = LiveRun(demo, source, opt.demo).run()
    finally:
        source.stop()
    return demo
