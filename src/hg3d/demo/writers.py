"""The demo's files besides the JSON: pictures (PNG), videos (H.264 MP4, see ``video_writer``) and BVH
animations, written so that a run that stops half-way leaves the files of earlier runs as they were."""

import os

import cv2

from ..bvh import export_tracks
from ..errors import UserError
from ..files import atomic_write
from ..visualize import PANEL_PX, SCENE_PANELS, draw_people_2d, draw_people_3d, fit_width
from .video_writer import open_video_writer


def has_3d(people):
    return any(p.get("joints_3d_mm") is not None for p in people)


def write_picture(path, image):
    def write(tmp):
        if not cv2.imwrite(tmp, image):
            raise UserError(f"cannot write {path}")

    atomic_write(path, write)


def write_image_pictures(out, image, people, intrinsics=None):
    """``out``_2d.png and (when someone has a 3D pose) ``out``_3d.png, with the scene views when
    ``intrinsics`` (the camera that placed them) are given; returns the 2D overlay."""
    overlay = draw_people_2d(image, people)
    write_picture(out + "_2d.png", overlay)
    if has_3d(people):
        write_picture(out + "_3d.png", draw_people_3d(people, intrinsics=intrinsics))
    return overlay


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


class VideoPictures:
    """The pictures of a video's frames: ``<stem>_2d.mp4`` (the overlay), ``<stem>_3d.mp4`` (the
    two scene views and room for ``panels_3d`` 3D panels; 3D checkpoints only) and, with
    ``save_frames``, each frame's ``<stem>_<frame>_2d.png`` / ``_3d.png``."""

    def __init__(self, out_dir, stem, fps, frame_shape, panels_3d, with_3d, save_frames):
        self.out_dir, self.stem, self.save_frames = out_dir, stem, save_frames
        self.width_3d = (SCENE_PANELS + panels_3d) * PANEL_PX if with_3d else None
        sizes = {"2d": (frame_shape[1], frame_shape[0])}
        if with_3d:
            sizes["3d"] = (self.width_3d, PANEL_PX)
        self.videos = VideoFiles(out_dir, stem, fps, sizes)

    def write(self, index, frame, people, intrinsics):
        """Append frame ``index``'s pictures (the scene seen by the camera ``intrinsics``);
        returns the 2D overlay."""
        overlay = draw_people_2d(frame, people)
        pictures = {"2d": overlay}
        if self.width_3d:
            pictures["3d"] = fit_width(draw_people_3d(people, intrinsics=intrinsics), self.width_3d)
        for kind, picture in pictures.items():
            self.videos.write(kind, picture)
            if self.save_frames:
                write_picture(os.path.join(self.out_dir, f"{self.stem}_{index:05d}_{kind}.png"), picture)
        return overlay

    def close(self, completed):
        self.videos.close(completed)


def write_track_bvhs(out_dir, stem, tracked, min_frames, root_mode="start"):
    """One BVH per track of a video's TrackedPoses seen in ``min_frames`` frames or more, the root
    moving as ``root_mode`` says (``bvh.root_positions``); returns a log line per track with a 3D
    pose."""
    return export_tracks(out_dir, stem, tracked.spans(), tracked.fps, min_frames, root_mode)[1]
