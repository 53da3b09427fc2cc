"""The demo's outputs, as sinks of the frame loop (``runner.run``): each is ``open(run)``ed once the
source has delivered its first frame (a run that gets no frame writes nothing and truncates
nothing), gets ``write(result)`` for each processed frame (a ``runner.FrameResult``), and is
``close(stopped_by)``d at the end: ``"end of stream"``, ``"stalled"``, ``"Ctrl-C"``, ``"SIGTERM"``,
``"q"``, or None when the run failed (then the videos of an earlier run are left as they were).

- ``ImagePictures`` / ``ImageRecords``: an image's ``_2d.png``, ``_3d.png``, ``.json`` (and ``.html``).
- ``VideoPictures``: a video's ``_2d.mp4`` / ``_3d.mp4`` (H.264, ``open_video_writer``) and, with
  ``--save_frames``, each frame's PNGs. Frames go to uniquely named hidden temporaries that replace
  the final files atomically at the end.
- ``FrameLines``: live runs' ``<name>.jsonl``, one whole line per processed frame, at once.
- ``VideoRecord``: the JSON of a video, a file played live, a camera or a stream (one layout; a
  live one adds the run's counts and latency), and ``--html``'s page.
- ``TrackBvh``: ``--bvh``, one animation per track.
- ``Window``: ``--show``; ``q`` in it stops the run.

JSON ``format_version`` 2 (this layout); version 1 (one person per file, no version field) was
written before detection and tracking.
"""

import errno
import json
import os
import sys
from collections import deque
from fractions import Fraction

import cv2
import numpy as np

from ..bvh import export_tracks
from ..errors import UserError
from ..files import LineFile, atomic_write, create_temp_beside, disk_of, refuse_symlink, write_json
from ..joints import H36M_JOINTS, MPII_JOINTS
from ..viewer import write_viewer
from ..visualize import PANEL_PX, SCENE_PANELS, draw_people_2d, draw_people_3d, fit_width
from .sources import shown

FORMAT_VERSION = 2
JOINTS_3D_NOTE = (
    "joints_3d_mm, joints_3d_h36m_mm: root-relative (pelvis), camera axes x right, y down, z forward; "
    "scaled so the 15 H36M bones sum to {bone_sum:g} mm; null when every joint decoded to one point. "
    "root_cam_mm: the pelvis in the camera frame (from the 2D joints, the 3D pose and the intrinsics; "
    "its depth scales with the bone sum); joints_3d_cam_mm = joints_3d_h36m_mm + root_cam_mm; "
    "both null, with a placement_note, when the person cannot be placed"
)
H264_CODEC = "libx264"
# Visually lossless for overlays and panels at a moderate size; "medium" is libx264's own default.
H264_OPTIONS = {"crf": "18", "preset": "medium"}
# OpenCV's BGR -> I420 is BT.601 in limited range (the SD norm, SMPTE 170M); the stream says so.
BT601 = {"color_primaries": 6, "color_trc": 6, "colorspace": 6, "color_range": 1}
FALLBACK_NOTICE = (
    "notice: PyAV with libx264 is not available (pip install av), so {path} is MPEG-4 Part 2 (mp4v), "
    "which browsers and QuickTime do not play"
)
RATE_WINDOW = 10  # the window's frames/s is over the last this many processed frames


# --- the JSON ---------------------------------------------------------------------------------


def _rounded(array, digits):
    return None if array is None else np.round(np.asarray(array, np.float64), digits).tolist()


def person_record(person):
    """The JSON form of one person as the pipeline holds it."""
    record = {
        "index": person["index"],
        "track_id": person.get("track_id"),
        "box": _rounded(person["box"], 2),
        "box_source": person["box_source"],
        "score": None if person.get("score") is None else round(float(person["score"]), 4),
        "crop": {"center": _rounded(person["crop_center"], 2), "size": _rounded(person["crop_size"], 2)},
        "joints_2d": _rounded(person["joints_2d"], 2),
        "confidence": _rounded(person["confidence"], 4),
    }
    if "joints_3d_mm" in person:
        record.update(joints_3d_fields(person))
    return record


def joints_3d_fields(person):
    """The 3D entries of a person's JSON form (``joints_3d_frame_mm``: the frame model's 3D where
    ``--temporal`` refined the rest, docs/temporal.md)."""
    fields = {
        "joints_3d_mm": _rounded(person["joints_3d_mm"], 2),
        "joints_3d_h36m_mm": _rounded(person["joints_3d_h36m_mm"], 2),
        "root_cam_mm": _rounded(person.get("root_cam_mm"), 2),
        "joints_3d_cam_mm": _rounded(person.get("joints_3d_cam_mm"), 2),
        "placement_note": person.get("placement_note"),
    }
    if "joints_3d_frame_mm" in person:
        fields["joints_3d_frame_mm"] = _rounded(person["joints_3d_frame_mm"], 2)
    return fields


def people_fields(people):
    fields = {"num_people": len(people), "people": [person_record(p) for p in people]}
    if not people:
        fields["note"] = "no person found"
    return fields


def header(opt, detector, intrinsics):
    """Fields shared by every JSON; ``intrinsics``: the camera that placed the people (None: no
    frame was processed)."""
    return {
        "format_version": FORMAT_VERSION,
        "checkpoint": os.path.abspath(opt.load_model),
        "detector": detector or "none",
        "joint_names": list(MPII_JOINTS),
        "joint_names_h36m": list(H36M_JOINTS),
        "joints_3d_note": (
            JOINTS_3D_NOTE.format(bone_sum=opt.bone_sum_mm) if opt.task == "human3d" else "2D checkpoint: no 3D joints"
        ),
        "intrinsics": intrinsics.to_json() if intrinsics is not None else None,
    }


def write_record(opt, out, record, video=None, photo=None):
    """``out``.json and, with --html, the viewer ``out``.html (playing ``video``, or showing the
    picture ``photo``, when given); returns the suffixes written."""
    write_json(out + ".json", record)
    if not opt.html:
        return [".json"]
    write_viewer(record, out + ".html", video, photo_path=photo)
    return [".json", ".html"]


# --- pictures and videos ------------------------------------------------------------------------


def has_3d(people):
    return any(p.get("joints_3d_mm") is not None for p in people)


def write_picture(path, image):
    def write(tmp):
        if not cv2.imwrite(tmp, image):
            raise UserError(f"cannot write {shown(path)}")

    atomic_write(path, write)


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


def _write_failed(path, exc):
    """The one line of a video that could not be written (naming the disk when it is full)."""
    full = f" (the disk at {disk_of(path)} is full)" if getattr(exc, "errno", None) == errno.ENOSPC else ""
    reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0] or type(exc).__name__
    return UserError(f"cannot write {shown(path)}: {reason}{full}; its temporary file is removed")


class VideoFiles:
    """``<stem>_<kind>.mp4`` for each kind (``sizes``: kind -> width, height), all opened before
    the first frame is processed. Frames go to uniquely named hidden temporaries (two runs writing
    the same names never share one) that replace the final files only in ``close(keep=True)``; a
    symbolic link at a final name is refused, never written through."""

    def __init__(self, out_dir, stem, fps, sizes):
        self.files = {}  # kind -> (writer, temporary path, final path)
        try:
            for kind, size in sizes.items():
                final = os.path.join(out_dir, f"{stem}_{kind}.mp4")
                refuse_symlink(final)
                tmp = create_temp_beside(final)
                self.files[kind] = (None, tmp, final)
                self.files[kind] = (open_video_writer(tmp, fps, size, name=shown(final)), tmp, final)
        except UserError:
            self.close(keep=False)
            raise

    def write(self, kind, picture):
        writer, _, final = self.files[kind]
        try:
            writer.write(picture)
        except OSError as exc:  # PyAV's errors from FFmpeg are OSErrors too (ENOSPC, EIO, ...)
            raise _write_failed(final, exc) from None

    def close(self, keep):
        """Finish the videos and put them in place (``keep``), else remove the temporaries."""
        try:
            for writer, tmp, final in self.files.values():
                if writer is not None:
                    try:
                        writer.release()
                    except OSError as exc:
                        if keep:
                            raise _write_failed(final, exc) from None
                if keep:
                    refuse_symlink(final)
                    os.replace(tmp, final)
        finally:
            for _, tmp, _ in self.files.values():
                if os.path.exists(tmp):
                    os.remove(tmp)


class ImagePictures:
    """An image's ``<name>_2d.png`` (the overlay) and, when someone has a 3D pose, ``<name>_3d.png``
    (the scene seen by the camera that placed them, and a panel per person)."""

    def __init__(self, out_dir, names):
        self.out_dir, self.names = out_dir, names

    def open(self, run):
        pass

    def write(self, result):
        out = os.path.join(self.out_dir, self.names[result.frame.path])
        result.overlay = draw_people_2d(result.frame.image, result.people)
        write_picture(out + "_2d.png", result.overlay)
        result.written.append("_2d.png")
        if has_3d(result.people):
            write_picture(out + "_3d.png", draw_people_3d(result.people, intrinsics=result.intrinsics))
            result.written.append("_3d.png")

    def close(self, stopped_by):
        pass


class ImageRecords:
    """An image's ``<name>.json`` (and ``.html`` with --html), and its line on ``log``."""

    def __init__(self, opt, names, log=print):
        self.opt, self.names, self.log = opt, names, log

    def open(self, run):
        pass

    def write(self, result):
        path, people = result.frame.path, result.people
        out = os.path.join(self.opt.out_dir, self.names[path])
        record = {
            **header(self.opt, result.detector, result.intrinsics),
            "image": os.path.abspath(shown(path)),
            **result.fields(),
        }
        photo = out + "_2d.png" if "_2d.png" in result.written else None  # ImagePictures's, when it ran
        result.written += write_record(self.opt, out, record, photo=photo)
        self.log(f"{shown(path)} -> {shown(out)}{{{','.join(result.written)}}}: {len(people)} person(s)")

    def close(self, stopped_by):
        pass


class VideoPictures:
    """The pictures of a video's frames: ``<stem>_2d.mp4`` (the overlay), ``<stem>_3d.mp4`` (the
    two scene views and room for ``panels_3d`` 3D panels; 3D checkpoints only) and, with
    ``save_frames``, each frame's ``<stem>_<frame>_2d.png`` / ``_3d.png``."""

    def __init__(self, out_dir, stem, panels_3d, with_3d, save_frames):
        self.out_dir, self.stem, self.save_frames = out_dir, stem, save_frames
        self.width_3d = (SCENE_PANELS + panels_3d) * PANEL_PX if with_3d else None
        self.videos, self.run = None, None

    def open(self, run):
        self.run = run
        shape = run.first.image.shape
        sizes = {"2d": (shape[1], shape[0])}
        if self.width_3d:
            sizes["3d"] = (self.width_3d, PANEL_PX)
        self.videos = VideoFiles(self.out_dir, self.stem, run.source.fps, sizes)

    def write(self, result):
        result.overlay = draw_people_2d(result.frame.image, result.people)
        pictures = {"2d": result.overlay}
        if self.width_3d:
            pictures["3d"] = fit_width(draw_people_3d(result.people, intrinsics=result.intrinsics), self.width_3d)
        for kind, picture in pictures.items():
            self.videos.write(kind, picture)
            if self.save_frames:
                name = f"{self.stem}_{result.frame.index:05d}_{kind}.png"
                write_picture(os.path.join(self.out_dir, name), picture)

    def close(self, stopped_by):
        self.videos.close(keep=stopped_by is not None)
        if stopped_by is not None:
            self.run.written += [f"_{kind}.mp4" for kind in self.videos.files]


class FrameLines:
    """``<out>.jsonl``: one line per processed frame, each written whole in one call (a killed run
    leaves whole lines; a full disk cuts a failed line off again), with its timing: when it
    arrived, its latency, the frames dropped so far."""

    def __init__(self, out):
        self.path, self.file, self.run = out + ".jsonl", None, None

    def open(self, run):
        self.run, self.file = run, LineFile(self.path)

    def write(self, result):
        frame = result.frame
        line = {
            "frame": frame.index,
            "time_s": round(frame.time_s, 4),
            "arrival_s": round(frame.arrival - self.run.source.feed.first_arrival, 4),
            "latency_ms": round(result.latency_ms, 1),
            "frames_dropped": result.frames_dropped,
            **result.fields(),
        }
        self.file.write_line(json.dumps(line, allow_nan=False))

    def close(self, stopped_by):
        self.file.close()
        self.run.written.append(".jsonl")


class VideoRecord:
    """The JSON of a video, camera or stream, ``<out>.json``: the header, what the source says of
    itself, the frames (their people), the tracks; a live run adds its counts and latency and why
    it stopped, a video stopped before its end says why. With --html, the viewer page playing
    ``<out>_2d.mp4``. Written at the close, then its line goes to ``log``; each of ``amend`` (callables)
    may add to the record first (the motion outputs, ``demo.motion``)."""

    def __init__(self, opt, out, log=print, amend=()):
        self.opt, self.out, self.log, self.amend = opt, out, log, amend
        self.frames, self.run = [], None

    def open(self, run):
        self.run = run

    def write(self, result):
        self.frames.append({"frame": result.frame.index, "time_s": round(result.frame.time_s, 4), **result.fields()})

    def close(self, stopped_by):
        if stopped_by is None:
            return
        run, opt, source = self.run, self.opt, self.run.source
        tracked = run.tracker.tracked
        live = source.live
        record = {
            **header(opt, run.tracker.label, run.tracker.intrinsics),
            **source.info,
            "num_frames": len(self.frames),
            **source.counts,
            **(run.live_summary() if live else {} if stopped_by == "end of stream" else {"stopped_by": stopped_by}),
            "det_every": opt.det_every,
            "smooth": opt.smooth_settings,
            "tracks": tracked.summary(),
            **({"frames_file": os.path.basename(self.out + ".jsonl")} if live else {}),
            "frames": self.frames,
        }
        for amend in self.amend:
            amend(record)
        video = self.out + "_2d.mp4" if "_2d.mp4" in run.written else None
        run.written += write_record(opt, self.out, record, video)
        files = f"{shown(self.out)}{{{','.join(run.written)}}}"
        if live:
            self.log(
                f"{source.name} -> {files}: {record['frames_processed']} frames processed, {record['frames_dropped']} "
                f"dropped, mean latency {record['mean_latency_ms']} ms (stopped by {stopped_by})"
            )
            return
        stopped = "" if stopped_by == "end of stream" else f" (stopped by {stopped_by})"
        self.log(f"{source.name} -> {files}: {len(self.frames)} frames, {len(tracked.tracks)} track(s){stopped}")
        if source.reader.truncated() and not stopped:
            reader = source.reader
            self.log(
                f"notice: {source.name}: decoding stopped after {reader.frames_read} of the {reader.frames_expected} "
                f"frames the file announces (it may be cut short or damaged)"
            )


class TrackBvh:
    """--bvh: one BVH per track of the run seen in ``opt.bvh_min_frames`` frames or more, the root
    moving as ``--bvh_root`` says (``bvh.root_positions``); a line per track on ``log``."""

    def __init__(self, opt, stem, log=print):
        self.opt, self.stem, self.log, self.run = opt, stem, log, None

    def open(self, run):
        self.run = run

    def write(self, result):
        pass

    def close(self, stopped_by):
        if stopped_by is None:
            return
        opt, tracked = self.opt, self.run.tracker.tracked
        messages = export_tracks(
            opt.out_dir, self.stem, tracked.spans(), tracked.fps, opt.bvh_min_frames, opt.bvh_root
        )[1]
        for message in messages or [f"{self.run.source.name}: no track with a 3D pose, no BVH written"]:
            self.log(f"bvh: {message}")


class Window:
    """--show: each frame's overlay in a window (a live run's with its achieved frames/s); ``q``
    in it asks the run to ``stop``."""

    def __init__(self, stop):
        self.stop, self.live, self.done_times = stop, False, deque(maxlen=RATE_WINDOW)

    def open(self, run):
        self.live = run.source.live

    def write(self, result):
        shown_image = result.overlay
        if self.live:
            self.done_times.append(result.done)
            shown_image = draw_rate(shown_image, self.achieved_fps())
        cv2.imshow("hg3d 2D", shown_image)
        if cv2.waitKey(1) & 0xFF == ord("q"):
            self.stop.request("q")

    def achieved_fps(self):
        """Frames processed per second over the last RATE_WINDOW frames."""
        times = self.done_times
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def close(self, stopped_by):
        pass


def draw_rate(overlay, fps):
    """The overlay with the achieved frames/s in its top-left corner."""
    shown_image = overlay.copy()
    cv2.putText(shown_image, f"{fps:.1f} fps", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 255), 2, cv2.LINE_AA)
    return shown_image


def display_available():
    """Whether --show can open windows (a display, and an OpenCV built with them)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"):
        return False
    try:
        cv2.namedWindow("hg3d 2D")
        return True
    except cv2.error:
        return False
