"""Videos every player opens: H.264 (yuv420p) in MP4, encoded by the libx264 that PyAV's wheels ship.

OpenCV's own writer can only make MPEG-4 Part 2 (``mp4v``), which browsers, QuickTime and slide
software refuse; it is used only when PyAV (or its libx264) is missing, with a notice saying so.
"""

from fractions import Fraction

import cv2
import numpy as np

from ..errors import UserError

H264_CODEC = "libx264"
# Visually lossless for overlays and panels at a moderate size; "medium" is libx264's own default.
H264_OPTIONS = {"crf": "18", "preset": "medium"}
# OpenCV's BGR -> I420 is BT.601 in limited range (the SD norm, SMPTE 170M); the stream says so.
BT601 = {"color_primaries": 6, "color_trc": 6, "colorspace": 6, "color_range": 1}
FALLBACK_NOTICE = (
    "notice: PyAV with libx264 is not available (pip install av), so {path} is MPEG-4 Part 2 (mp4v), "
    "which browsers and QuickTime do not play"
)


class H264Writer:
    """``write(bgr_frame)`` and ``release()``, like ``cv2.VideoWriter``. Frames of odd width or
    height get one replicated column or row: yuv420p needs even sides. OpenCV converts the colours
    (FFmpeg's default conversion is off by a few levels: grey 128 comes back as 123-126)."""

    def __init__(self, av, path, fps, size):
        self.size = size
        self.container = av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            self.stream = self.container.add_stream(H264_CODEC, rate=Fraction(fps).limit_denominator(1001))
            self.stream.width, self.stream.height = (side + side % 2 for side in size)
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = dict(H264_OPTIONS)
            for name, value in BT601.items():
                setattr(self.stream.codec_context, name, value)
            self.container.start_encoding()  # opens the file and the encoder: fails here, not at the first frame
        except Exception:
            self.container.close()
            raise
        self.frame_type = av.VideoFrame

    def write(self, frame):
        if frame.shape[1::-1] != self.size:
            raise ValueError(f"frame of {frame.shape[1]}x{frame.shape[0]} in a {self.size[0]}x{self.size[1]} video")
        pad = ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0))
        planes = cv2.cvtColor(np.pad(frame, pad, mode="edge"), cv2.COLOR_BGR2YUV_I420)
        image = self.frame_type.from_ndarray(planes, format="yuv420p")
        self.container.mux(self.stream.encode(image))

    def release(self):
        self.container.mux(self.stream.encode(None))  # flush the frames the encoder still holds
        self.container.close()


def _pyav_with_h264():
    """The ``av`` module when it is installed and can encode H.264, else None."""
    try:
        import av
    except ImportError:
        return None
    return av if H264_CODEC in av.codecs_available else None


def open_video_writer(path, fps, size, log=print, name=None):
    """A writer of ``size`` = (width, height) frames at ``fps`` into the MP4 file ``path``: H.264
    through PyAV, else OpenCV's ``mp4v`` (with a notice on ``log``). A file that cannot be opened
    is a one-line ``UserError`` naming it (``name`` when ``path`` is a temporary stand-in for it)
    and the codec, before any frame is encoded."""
    name = name or path
    av = _pyav_with_h264()
    if av is None:
        log(FALLBACK_NOTICE.format(path=name))
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not writer.isOpened():
            raise UserError(f"cannot open {name} for an mp4v video of {size[0]}x{size[1]} at {fps:g} fps")
        return writer
    try:
        return H264Writer(av, path, fps, size)
    except (OSError, ValueError, av.FFmpegError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0] or type(exc).__name__
        raise UserError(
            f"cannot open {name} for an H.264 ({H264_CODEC}) video of {size[0]}x{size[1]} at {fps:g} fps: {reason}"
        ) from None
