"""What ``python demo.py`` does: flags -> sources -> the one frame loop (``runner.run``) -> sinks.

Headless by default (files in ``--out_dir``); ``--show`` also opens windows when a display exists.
People come from ``--bbox``/``--bboxes`` when given, else from the person detector
(``--detector``), else the whole image is one person. Images, each video of a folder, a video
played ``--live``, a camera and a stream each go through ``runner.run`` with their own sinks.
"""

import os
from dataclasses import dataclass, field

from ..errors import UserError
from ..progress import ProgressBar
from ..visualize import MAX_PANELS
from . import runner
from .boxes import box_entry, most_boxes
from .build import build
from .motion import MOTION_FLAGS, MotionFiles, motion_wanted
from .options import parse_demo_opts
from .pose_tracker import PoseTracker
from .sinks import (
    FrameLines,
    ImagePictures,
    ImageRecords,
    TrackBvh,
    VideoPictures,
    VideoRecord,
    Window,
    display_available,
)
from .sources import (
    ImageFiles,
    Skipped,
    Stream,
    VideoFile,
    find_inputs,
    is_live_source,
    is_video,
    live_name,
    output_names,
    shown,
)
from .temporal import TemporalOutputs, temporal_flags


@dataclass
class DemoResult:
    """What a demo command did: ``done`` (images and frames processed), ``tracked`` (video path
    -> its ``TrackedPoses``)."""

    done: int = 0
    tracked: dict = field(default_factory=dict)


class Progress:
    """A progress bar on stderr as a sink: one step per processed image or frame."""

    def __init__(self, label, total):
        self.label, self.total, self.bar, self.done = label, max(total or 0, 1), None, 0

    def open(self, run):
        self.bar = ProgressBar(self.label, self.total)  # its label may hold a % (a file's name)

    def write(self, result):
        self.bar.advance(self.done)
        self.done += 1

    def close(self, stopped_by):
        self.bar.finish()


def run_demo(argv=None):
    """The demo command; returns a ``DemoResult``. SIGINT (Ctrl-C) and SIGTERM stop it after the
    frame at hand, with every file of what was processed written."""
    opt = parse_demo_opts(argv)
    stop = runner.StopRequest()
    with stop.on_signals():
        if opt.live or is_live_source(opt.demo):
            return run_live(opt, stop)
        return run_files(opt, stop)


def windows(opt, stop, log=print):
    """The --show window sink, when windows can be opened."""
    if not opt.show:
        return []
    if display_available():
        return [Window(stop)]
    log("notice: --show needs a display and an OpenCV with windows; writing files only")
    return []


def tracked_people(opt, estimator, detector, camera, source, entry, temporal):
    """The ``runner.TrackedPeople`` of one video, camera or stream (``temporal``: a
    ``demo.temporal.TemporalOutputs``, whose live refiner it calls on each frame)."""
    pose_tracker = PoseTracker(
        estimator, detector, opt.det_every, opt.smooth_settings, source.fps, camera=camera, source_path=source.path
    )
    return runner.TrackedPeople(pose_tracker, entry, detector, temporal.live_refiner(pose_tracker))


def video_pictures(opt, stem, entry, detector):
    most = opt.max_people if entry is None else most_boxes(entry)
    panels = 1 if entry is None and not detector else min(MAX_PANELS, most)
    return VideoPictures(opt.out_dir, stem, panels, opt.task == "human3d", opt.save_frames)


def run_files(opt, stop):
    """Images (batched) and videos (each tracked) under ``--demo``."""
    images, videos = find_inputs(opt.demo, opt.recursive)
    if opt.bvh and not videos:
        raise UserError(
            f"--bvh exports the people tracked through a video, and --demo {shown(opt.demo)} holds no "
            f"video (a file that OpenCV reads as one); drop --bvh for images"
        )
    video_only = [*(MOTION_FLAGS if motion_wanted(opt) else ()), *temporal_flags(opt)]
    if video_only and not videos:
        raise UserError(
            f"{'/'.join(video_only)} follow the people tracked through a video, and --demo {shown(opt.demo)} holds "
            f"no video; drop them for images"
        )
    temporal = TemporalOutputs(opt, live=False)
    names = output_names(images + videos, opt.demo)
    images, videos = [p for p in images if p in names], [p for p in videos if p in names]
    need_detector = opt.detector != "none" and any(box_entry(opt, p) is None for p in images + videos)
    estimator, detector, camera = build(opt, need_detector, inputs=images + videos)
    window, result = windows(opt, stop), DemoResult()
    if images:
        tracker = runner.ImagePeople(
            estimator, detector, camera, lambda path: box_entry(opt, path), opt.batch_size, len(images) == 1
        )
        sinks = [ImagePictures(opt.out_dir, names), *window, ImageRecords(opt, names)]
        if len(images) > 1:
            sinks.append(Progress("images", len(images)))
        processed = runner.run(ImageFiles(images), tracker, sinks, stop, opt.pipeline)
        result.done += processed.processed if processed else 0
    for path in videos:
        if stop.requested():
            break
        parts = (estimator, detector, camera, temporal)
        result.done += run_video(opt, stop, path, names[path], parts, window, result)
    if result.done == 0 and not stop.requested():
        raise UserError(f"no input under {shown(opt.demo)} could be processed")
    stopped = f" (stopped by {stop.reason})" if stop.requested() else ""
    print(f"done: {result.done} pose set(s) written to {opt.out_dir}{stopped}")
    return result


def run_video(opt, stop, path, stem, parts, window, result):
    """One video of a files run: the frames processed (0 when it is skipped, with a line)."""
    estimator, detector, camera, temporal = parts
    try:
        source = VideoFile(path)
    except Skipped as exc:
        print(f"skipping {shown(path)}: {exc}")
        return 0
    entry = box_entry(opt, path)
    tracker = tracked_people(opt, estimator, detector, camera, source, entry, temporal)
    out = os.path.join(opt.out_dir, stem)
    tracks = temporal.sinks(stem)  # closed first: BVH, motion and the JSON read the refined poses
    motion = [MotionFiles(opt, stem)] if motion_wanted(opt) else []
    sinks = [
        video_pictures(opt, stem, entry, detector),
        *window,
        Progress(os.path.basename(source.name), source.reader.frames_expected),
        *tracks,
        *motion,
        VideoRecord(opt, out, amend=[s.amend for s in tracks + motion]),
        *([TrackBvh(opt, stem)] if opt.bvh else []),
    ]
    try:
        processed = runner.run(source, tracker, sinks, stop, opt.pipeline)
    except Skipped as exc:
        print(f"skipping {source.name}: {exc}")
        return 0
    if processed is None:
        if not stop.requested():
            print(f"skipping {source.name}: no frame could be read")
        return 0
    result.tracked[path] = tracker.tracked
    return processed.processed


def open_live_source(spec):
    """A camera or stream, else (``--live``) a video file played at its own rate."""
    if is_live_source(spec):
        return Stream(spec)
    if not os.path.isfile(spec) or not is_video(spec):
        raise UserError(
            f"--live plays one video file as a camera would, and --demo {shown(spec)} is not a video file; give a "
            f"video, a camera index (--demo 0) or a stream URL"
        )
    try:
        return VideoFile(spec, live=True)
    except Skipped as exc:
        raise UserError(f"--demo {shown(spec)}: {exc}") from None


def run_live(opt, stop):
    """A camera, a stream, or (``--live``) a video file played at its own rate: frames the model
    has no time for are dropped; each processed frame is a line of ``<name>.jsonl`` at once."""
    if opt.bvh:
        raise UserError("--bvh needs every frame of a video, and live input drops frames; drop --bvh (or --live)")
    if motion_wanted(opt):
        raise UserError(
            f"{'/'.join(MOTION_FLAGS)} need every frame of a video, and live input drops frames; drop them (or --live)"
        )
    temporal = TemporalOutputs(opt, live=True)
    source = open_live_source(opt.demo)
    try:
        entry = box_entry(opt, opt.demo)
        estimator, detector, camera = build(opt, opt.detector != "none" and entry is None, inputs=[opt.demo])
        tracker = tracked_people(opt, estimator, detector, camera, source, entry, temporal)
        stem = live_name(opt.demo)
        out = os.path.join(opt.out_dir, stem)
        tracks = temporal.sinks(stem)
        sinks = [
            FrameLines(out),
            video_pictures(opt, stem, entry, detector),
            *windows(opt, stop),
            *tracks,
            VideoRecord(opt, out, amend=[s.amend for s in tracks]),
        ]
        try:
            processed = runner.run(source, tracker, sinks, stop, opt.pipeline)
        except Skipped as exc:
            raise UserError(f"--demo {source.name}: {exc}") from None
    finally:
        source.close()
    if processed is not None:
        return DemoResult(processed.processed, {opt.demo: tracker.tracked})
    if stop.requested():
        print(f"{source.name}: stopped by {stop.reason} before a frame arrived; nothing written")
        return DemoResult()
    stalled = " (it stalled: no frame within its read timeout)" if source.ended_by == "stalled" else ""
    raise UserError(f"--demo {source.name}: no frame could be read{stalled}")
