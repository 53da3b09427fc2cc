"""The demo's files besides the JSON: pictures (PNG) and videos (MP4), written so that a run that
stops half-way leaves the files of earlier runs as they were."""

import os

import cv2

from ..errors import UserError
from ..files import atomic_write

VIDEO_CODEC = "mp4v"  # MPEG-4 Part 2: in every OpenCV build, read by common players


def write_picture(path, image):
    def write(tmp):
        if not cv2.imwrite(tmp, image):
            raise UserError(f"cannot write {path}")

    atomic_write(path, write)


def open_video_writer(path, fps, size, codec=VIDEO_CODEC, name=None):
    """An open ``cv2.VideoWriter`` for ``path`` (``size`` = width, height); a one-line UserError
    naming the file (``name`` when the path is a temporary stand-in for it) and the codec when
    OpenCV cannot open one (unknown codec, unwritable path, a frame rate it refuses)."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), fps, size)
    if not writer.isOpened():
        writer.release()
        raise UserError(
            f"cannot write the video {name or path}: OpenCV opens no writer with codec {codec} at "
            f"{fps:g} fps for {size[0]}x{size[1]} frames"
        )
    return writer


class VideoFiles:
    """``<stem>_<kind>.mp4`` for each kind (``sizes``: kind -> width, height), all opened before
    the first frame is processed. Frames go to hidden temporary files that replace the final
    ones only in ``close(completed=True)``."""

    def __init__(self, out_dir, stem, fps, sizes):
        self.files = {}  # kind -> (writer, temporary path, final path)
        try:
            for kind, size in sizes.items():
                final = os.path.join(out_dir, f"{stem}_{kind}.mp4")
                tmp = os.path.join(out_dir, f".tmp-{stem}_{kind}.mp4")
                self.files[kind] = (open_video_writer(tmp, fps, size, name=final), tmp, final)
        except UserError:
            self.close(completed=False)
            raise

    def write(self, kind, picture):
        self.files[kind][0].write(picture)

    def close(self, completed):
        for writer, tmp, final in self.files.values():
            writer.release()
            if completed:
                os.replace(tmp, final)
            elif os.path.exists(tmp):
                os.remove(tmp)
