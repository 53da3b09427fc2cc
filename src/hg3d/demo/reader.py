"""Reading a video: its frames, each with its time in seconds, the frame rate of the outputs, and
how many frames the container announced.

Time base: each frame's own timestamp (OpenCV's ``CAP_PROP_POS_MSEC``, counted from the first
frame), which is right for constant and variable frame rates alike, as long as the first two
frames have finite, increasing timestamps; a later frame whose timestamp is not after the previous
one is placed one frame (1 / fps) after it. A video without usable timestamps is timed by its
frame index / fps. The frame rate (output videos, BVH frame time) is the container's when it is
sane (a finite number of frames per second in [MIN_FPS, MAX_FPS]: 0, NaN and time-base values
such as 90000 are not), else the rate of the first two timestamps, else DEFAULT_FPS.
"""

import math

import cv2

MIN_FPS, MAX_FPS = 1.0, 1000.0
DEFAULT_FPS = 25.0


def sane_fps(value):
    """``value`` as a float when it is a usable frame rate, else None."""
    return float(value) if math.isfinite(value) and MIN_FPS <= value <= MAX_FPS else None


class VideoReader:
    """One pass over a video: ``frames()`` yields (frame, time_s); ``fps``, ``fps_source``,
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
