"""Where the demo's frames come from: image files, video files and live cameras and streams, all
behind one protocol, a ``FrameSource``:

- iterating ``frames(should_stop)`` gives ``Frame``s (``index``, ``time_s``, ``image``, and the
  ``path`` of the file the frame was read from, None for a camera or stream);
- ``close()`` releases it (a capture, a reader thread);
- ``info`` is what the JSON says about it; ``fps``, ``live``, ``name`` (how messages name it).

``ImageFiles`` reads images one by one (a corrupt one is skipped with a notice); ``VideoFile``
decodes a video as fast as it can, or (``live``: ``--live``) plays it at its own rate; ``Stream``
reads a camera index or a stream URL. The live ones read in a thread that keeps only the newest
frame: when the model is slower than the source, the frames it had no time for are dropped and
counted (``arrived == taken + dropped``), so that each result is about a recent frame.

A video's times: each frame's own timestamp (OpenCV's ``CAP_PROP_POS_MSEC``, counted from the first
frame), right for constant and variable frame rates alike as long as the first two frames have
finite, increasing timestamps; a later frame whose timestamp is not after the previous one is placed
one frame (1 / fps) after it. A video without usable timestamps is timed by its frame index / fps.
The frame rate (output videos, BVH frame time) is the container's when it is sane (a finite number of
frames per second in [MIN_FPS, MAX_FPS]: 0, NaN and time-base values such as 90000 are not), else
the rate of the first two timestamps, else DEFAULT_FPS.
"""

import itertools
import math
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import cv2
import numpy as np

from ..errors import UserError
from ..files import c_stderr_silenced
from ..redaction import redact

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2"}
# Read as videos without a look inside; any other file that OpenCV opens as a video (and not as an
# image) is a video too.
VIDEO_EXTENSIONS = {
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts", ".m2ts",
    ".ogv",
}  # fmt: skip
# Pictures a folder may hold that the demo does not read: each gets a notice instead of silence.
UNREAD_IMAGE_EXTENSIONS = {".gif", ".heic", ".heif", ".avif", ".svg"}
STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://")
STREAM_TIMEOUT_MS = 10000  # opening a stream, and how long without a frame before it counts as stalled
READER_JOIN_S = 2.0  # how long closing waits for a reader thread (a camera read can block)
MIN_FPS, MAX_FPS = 1.0, 1000.0
DEFAULT_FPS = 25.0
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"


class Skipped(Exception):
    """An input the demo cannot use (a video OpenCV cannot open, given boxes that miss its
    frames): the message says why, without naming it; a folder run skips it with a line."""


def shown(path):
    """``path`` as text that prints and goes into JSON: bytes of a name that are not UTF-8 (a file
    from another system, kept by Python as surrogates) as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def opencv_can_open(path):
    """Whether OpenCV can be given ``path``: its C++ side takes UTF-8, and a name that is not
    (``caf\\xe9.mp4``) can crash it."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _extension(path):
    return os.path.splitext(path)[1].lower()


def sane_fps(value):
    """``value`` as a float when it is a usable frame rate, else None."""
    return float(value) if math.isfinite(value) and MIN_FPS <= value <= MAX_FPS else None


def opens_as_video(path):
    """Whether OpenCV reads a frame of ``path`` as a video (an image file is not one)."""
    if not opencv_can_open(path) or cv2.haveImageReader(path):
        return False
    capture = cv2.VideoCapture(path)
    try:
        return capture.isOpened() and capture.grab()
    finally:
        capture.release()


def is_video(path):
    ext = _extension(path)
    return ext in VIDEO_EXTENSIONS or (ext not in IMAGE_EXTENSIONS and opens_as_video(path))


def find_inputs(path, recursive, log=print):
    """(images, videos) to process for ``path``; a folder lists its images and videos, sorted (a
    file there that is neither is left out; a picture the demo does not read, with a notice)."""
    if not os.path.exists(path):
        raise UserError(f"--demo {shown(path)} does not exist")
    if os.path.isfile(path):
        return ([], [path]) if is_video(path) else ([path], [])
    if recursive:
        files = [os.path.join(d, f) for d, _, names in os.walk(path) for f in names]
    else:
        files = [os.path.join(path, f) for f in os.listdir(path)]
    files = sorted(f for f in files if os.path.isfile(f))
    for unread in (f for f in files if _extension(f) in UNREAD_IMAGE_EXTENSIONS):
        log(f"skipping {shown(unread)}: {_extension(unread)} pictures are not read (convert it to PNG or JPEG)")
    images = [f for f in files if _extension(f) in IMAGE_EXTENSIONS]
    videos = [f for f in files if _extension(f) not in IMAGE_EXTENSIONS | UNREAD_IMAGE_EXTENSIONS and is_video(f)]
    if not images and not videos:
        raise UserError(f"--demo {shown(path)}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) or videos there")
    return images, videos


# The longest suffix the demo adds to an output name (``_00000_2d.png`` with --save_frames,
# ``_track123.bvh``), with room to spare; a name that would not fit the file system is skipped.
OUTPUT_SUFFIX_ROOM = 24
NAME_MAX = 255


def output_names(paths, root, log=print):
    """Output file stem of each input: the path relative to the --demo folder, '/' as '__'; inputs
    that would share a stem (a.jpg and a.png) keep their extension (a_jpg, a_png), and any that
    still share one (x/a.jpg and x__a.jpg) get _2, _3, ... in input order, so that no input
    overwrites another's outputs. Bytes of a name that are not UTF-8 become U+FFFD (every output
    path is one OpenCV and the page can take). An input whose outputs' names would be too long
    for the file system is left out, with a line on ``log``."""
    base = os.path.dirname(root) if os.path.isfile(root) else root
    rel = [os.fsencode(os.path.relpath(path, base).replace(os.sep, "__")).decode("utf-8", "replace") for path in paths]
    stems = [os.path.splitext(r)[0] for r in rel]
    shared = Counter(stems)
    names, taken = {}, set()
    for path, r, stem in zip(paths, rel, stems):
        name = candidate = r.replace(".", "_") if shared[stem] > 1 else stem
        for number in itertools.count(2):
            if candidate not in taken:
                break
            candidate = f"{name}_{number}"
        taken.add(candidate)
        if len(candidate.encode()) + OUTPUT_SUFFIX_ROOM > NAME_MAX:
            log(f"skipping {shown(path)}: its outputs' names would be too long for the file system; rename it")
            continue
        names[path] = candidate
    return names


@dataclass
class Frame:
    index: int  # place in its source (a live source: among the frames it delivered, dropped ones included)
    time_s: float  # a video: its timestamp; a camera or stream: seconds since the first frame arrived
    image: np.ndarray  # BGR
    path: str | None = None  # the file it was read from (its EXIF, its given boxes); None: camera, stream
    arrival: float | None = None  # live: time.monotonic() when the reader handed it over
    detected: tuple | None = None  # the detector's (boxes, scores) when the pipeline found them ahead


def read_image(path):
    """(8-bit BGR image or None when it cannot be decoded, a notice or None). Read as bytes and
    decoded in memory (any file name works; EXIF orientation applied as ``cv2.imread`` does); a
    JPEG that stops before its end marker is decoded as far as it goes (as ``cv2.imread`` would),
    with a notice."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    head, tail = data[:2].tobytes(), data[-64:].tobytes().rstrip(b"\0")
    truncated = head == JPEG_START and not tail.endswith(JPEG_END)
    if truncated:  # the decoder in memory refuses a JPEG without its end: give it one
        data = np.concatenate([data, np.frombuffer(JPEG_END, np.uint8)])
    with c_stderr_silenced():  # libjpeg's own 'Premature end of JPEG file'
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        return None, "cannot be read (corrupt or unsupported format)"
    if truncated:
        return image, f"notice: {shown(path)} is a truncated JPEG (its end is missing): the part that decodes is used"
    return image, None


class ImageFiles:
    """Image files, one ``Frame`` each (time 0); one that cannot be read is skipped with a line (a
    one-line error when it is the only input)."""

    live, fps, info = False, None, {}

    def __init__(self, paths, log=print):
        self.paths, self.log = paths, log
        self.name = shown(paths[0]) if len(paths) == 1 else "images"

    def frames(self, should_stop=lambda: False):
        for index, path in enumerate(self.paths):
            if should_stop():
                return
            image, notice = read_image(path)
            if image is None and len(self.paths) == 1:
                raise UserError(f"image {shown(path)} {notice}")
            if image is None:
                self.log(f"skipping {shown(path)}: {notice}")
                continue
            if notice:
                self.log(notice)
            yield Frame(index, 0.0, image, path)

    def close(self):
        pass


class VideoReader:
    """One pass over a video file: ``frames()`` yields (frame, time_s); ``fps``, ``fps_source``,
    ``time_base``, ``frames_expected`` are known before the first frame, ``frames_read`` after."""

    def __init__(self, path):
        self.capture = cv2.VideoCapture(path)
        self.opened = self.capture.isOpened()
        count = self.capture.get(cv2.CAP_PROP_FRAME_COUNT) if self.opened else 0
        self.frames_expected = int(count) if math.isfinite(count) and count > 0 else None
        self.ahead = [f for f in (self._read(), self._read()) if f is not None] if self.opened else []
        stamps = [stamp for _, stamp in self.ahead]
        timed = len(stamps) == 2 and all(map(math.isfinite, stamps)) and stamps[1] > stamps[0]
        self.time_base = "frame timestamps" if timed else "frame index / fps"
        container = sane_fps(self.capture.get(cv2.CAP_PROP_FPS)) if self.opened else None
        measured = sane_fps(1000.0 / (stamps[1] - stamps[0])) if timed else None
        self.fps, self.fps_source = next(
            (fps, source)
            for fps, source in ((container, "container"), (measured, "frame timestamps"), (DEFAULT_FPS, "assumed"))
            if fps is not None
        )
        self.frames_read = 0

    def _read(self):
        ok, frame = self.capture.read()
        return (frame, self.capture.get(cv2.CAP_PROP_POS_MSEC)) if ok else None

    def frames(self):
        """(BGR frame, time in seconds from the first frame) for every frame that decodes."""
        first = last = None
        try:
            while (item := self.ahead.pop(0) if self.ahead else self._read()) is not None:
                frame, stamp = item
                if self.time_base == "frame index / fps":
                    time_s = self.frames_read / self.fps
                elif first is None:
                    first, time_s = stamp, 0.0
                elif math.isfinite(stamp) and (stamp - first) / 1000.0 > last:
                    time_s = (stamp - first) / 1000.0
                else:  # a timestamp that is missing or not after the previous one
                    time_s = last + 1.0 / self.fps
                last = time_s
                self.frames_read += 1
                yield frame, time_s
        finally:
            self.capture.release()

    def truncated(self):
        """Whether decoding stopped well before the announced frame count (more than 2 frames and
        2 % short: containers that estimate the count can be off by a frame or two)."""
        missing = (self.frames_expected or 0) - self.frames_read
        return missing > max(2, 0.02 * (self.frames_expected or 0))


class NewestFrame:
    """Frames of ``frames`` (a generator of (image, time_s) that returns why it ended) read by a
    thread; ``next`` gives the newest one not taken yet. ``paced``: hand each frame over at its
    ``time_s`` after the first (a file played like a camera) instead of as soon as it is read.
    ``stall_s``: no frame for this long ends the reading as ``"stalled"``."""

    def __init__(self, frames, paced, stall_s=None):
        self.frames, self.paced, self.stall_s = frames, paced, stall_s
        self.condition = threading.Condition()
        self.pending, self.ended, self.error = None, False, None
        self.ended_by = "end of stream"
        self.first_arrival = self.last_arrival = None  # time.monotonic() of the first and latest frames
        self.arrived = self.dropped = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._read, name="hg3d-live-reader", daemon=True)

    def start(self):
        self.last_arrival = time.monotonic()
        self.thread.start()

    def _read(self):
        start = None
        try:
            while True:
                try:
                    image, time_s = next(self.frames)
                except StopIteration as end:
                    self.ended_by = end.value or self.ended_by
                    break
                if self.paced:
                    start = time.monotonic() - time_s if start is None else start
                    if self.stopping.wait(max(0.0, start + time_s - time.monotonic())):
                        break
                if not self._hand_over(image, time_s):
                    break
        except Exception as exc:  # handed to the main thread by next()
            self.error = exc
        finally:
            with self.condition:
                self.ended = True
                self.condition.notify_all()
            self.frames.close()  # releases the capture

    def _hand_over(self, image, time_s):
        with self.condition:
            if self.stopping.is_set():
                return False
            self.dropped += self.pending is not None
            now = time.monotonic()
            self.first_arrival = now if self.first_arrival is None else self.first_arrival
            self.last_arrival = now
            self.pending = Frame(self.arrived, time_s, image, arrival=now)
            self.arrived += 1
            self.condition.notify_all()
        return True

    def next(self, should_stop):
        """The newest frame not taken yet, waiting for one; None at the end of the stream, when it
        stalls, or once ``should_stop()`` is true (asked every 0.1 s while waiting)."""
        with self.condition:
            while self.pending is None and not self.ended and not should_stop():
                if self.stall_s is not None and time.monotonic() - self.last_arrival > self.stall_s:
                    self.ended_by = "stalled"
                    return None
                self.condition.wait(0.1)
            if should_stop():
                return None
            item, self.pending = self.pending, None
        if item is None and isinstance(self.error, (cv2.error, OSError)):
            raise UserError(f"reading the live input failed: {redact(str(self.error))}")
        if item is None and self.error is not None:
            raise self.error
        return item

    def stop(self):
        """Stop reading; a frame that arrived and will not be processed counts as dropped."""
        if self.thread.ident is None:  # never started: release the capture here
            self.frames.close()
        self.stopping.set()
        with self.condition:
            self.dropped += self.pending is not None
            self.pending = None
        if self.thread.is_alive():
            self.thread.join(READER_JOIN_S)


class LiveSource:
    """What the live sources share: frames through a ``NewestFrame`` (``feed``), whose counts and
    end the runner reports."""

    live = True
    feed = None

    def frames(self, should_stop=lambda: False):
        self.feed.start()
        while (frame := self.feed.next(should_stop)) is not None:
            frame.path = self.path
            yield frame

    @property
    def ended_by(self):
        """Why the frames ended: ``"end of stream"`` or ``"stalled"``."""
        return self.feed.ended_by if self.feed else "end of stream"

    def count_dropped(self, count):
        """Frames taken from the feed that will not be processed (left in the demo's pipeline by a
        stop) count as dropped."""
        with self.feed.condition:
            self.feed.dropped += count

    def close(self):
        self.feed.stop()


class VideoFile(LiveSource):
    """A video file: decoded frame after frame, or (``live``) played at its own rate, the frames
    the model has no time for dropped. One OpenCV cannot open: ``Skipped`` saying why."""

    def __init__(self, path, live=False):
        self.path, self.live, self.name = path, live, shown(path)
        if not opencv_can_open(path):
            raise Skipped("OpenCV cannot open a file whose name is not UTF-8; rename it")
        self.reader = VideoReader(path)
        if not self.reader.opened:
            raise Skipped("cannot be opened as a video")
        self.fps = self.reader.fps
        self.feed = NewestFrame(self.reader.frames(), paced=True) if live else None

    @property
    def info(self):
        if self.live:
            return {"source": os.path.abspath(self.name), "source_kind": "file", "live": True, "fps": self.fps}
        reader = self.reader
        return {
            "video": os.path.abspath(self.name),
            "fps": reader.fps,
            "fps_source": reader.fps_source,
            "time_base": reader.time_base,
        }

    @property
    def counts(self):
        """The decoding counts a video JSON gives after ``num_frames`` (none when played live)."""
        if self.live:
            return {}
        return {"frames_read": self.reader.frames_read, "frames_expected": self.reader.frames_expected}

    def frames(self, should_stop=lambda: False):
        if self.live:
            yield from super().frames(should_stop)
            return
        for index, (image, time_s) in enumerate(self.reader.frames()):
            yield Frame(index, time_s, image, self.path)
            if should_stop():
                return

    def close(self):
        if self.live:
            super().close()
        else:
            self.reader.capture.release()


def camera_index(spec):
    """The camera index ``--demo`` names (a number that is not a file's path), else None."""
    return int(spec) if spec.isdigit() and not os.path.exists(spec) else None


def is_stream(spec):
    return spec.lower().startswith(STREAM_PREFIXES)


def is_live_source(spec):
    """Whether ``--demo`` is a camera or a stream: always read live."""
    return camera_index(spec) is not None or is_stream(spec)


def live_name(spec):
    """Output stem: ``camera<index>``, a stream's last path part (else its host; never its user or
    password), a file's stem."""
    index = camera_index(spec)
    if index is not None:
        return f"camera{index}"
    if is_stream(spec):
        parts = urlsplit(spec)
        stem = os.path.splitext(os.path.basename(parts.path.rstrip("/")))[0] or parts.hostname or "stream"
        return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    return os.path.splitext(os.path.basename(spec))[0]


def capture_frames(capture, stall_s):
    """(frame, seconds since the first frame arrived) of a camera or stream until it ends; returns
    ``"stalled"`` when the last read failed after waiting ``stall_s`` or more (a read timeout),
    else ``"end of stream"``."""
    start = None
    try:
        while True:
            asked = time.monotonic()
            ok, frame = capture.read()
            now = time.monotonic()
            if not ok:
                return "stalled" if now - asked >= stall_s else "end of stream"
            start = now if start is None else start
            yield frame, now - start
    finally:
        capture.release()


class Stream(LiveSource):
    """A camera (``--demo 0``) or a stream URL (``rtsp://``, ``http(s)://``), opened here (a one-line
    ``UserError`` on what to check when it cannot be). It has no file (``path`` None: no EXIF).
    Messages and the JSON name it with its password hidden."""

    path = None

    def __init__(self, spec):
        self.name, self.index = redact(spec), camera_index(spec)
        self.kind = "camera" if self.index is not None else "stream"
        stall_s = STREAM_TIMEOUT_MS / 1000.0
        with c_stderr_silenced():  # OpenCV's backends print their own failure reports
            if self.index is not None:
                capture = cv2.VideoCapture(self.index)
            else:
                timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC]
                capture = cv2.VideoCapture(spec, cv2.CAP_ANY, [*timeouts, STREAM_TIMEOUT_MS])
            opened = capture.isOpened()
        if not opened:
            capture.release()
            raise UserError(self._cannot_open())
        self.fps = sane_fps(capture.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
        # The watchdog waits a little longer than the read timeout, so that a read that timed out says so first.
        self.feed = NewestFrame(capture_frames(capture, stall_s), paced=False, stall_s=stall_s + 1.0)
        self.info = {"source": self.name, "source_kind": self.kind, "live": True, "fps": self.fps}
        self.counts = {}

    def _cannot_open(self):
        if self.index is not None:
            return (
                f"--demo {self.name}: no camera at index {self.index} can be opened; check that one is connected "
                f"and not in use by another program, or give another index"
            )
        return (
            f"--demo {self.name}: the stream cannot be opened; check the address, that the stream is running, and "
            f"that this machine can reach it"
        )
