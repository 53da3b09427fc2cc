"""What ``python demo.py`` does: flags -> sources -> the one frame loop (``runner.run``) -> sinks.

Headless by default (files in ``--out_dir``); ``--show`` also opens windows when a display exists.
People come from ``--bbox``/``--bboxes`` when given, else from the person detector
(``--detector``), else the whole image is one person. Images, each video of a folder, a video
played ``--live``, a camera and a stream each go through ``runner.run`` with their own sinks.
"""

import os
from dataclasses import dataclass, field

from ..bvh import DEFAULT_MIN_FRAMES, ROOT_MODES
from ..camera import DEFAULT_FOV_DEG, FOV_RANGE_DEG, Intrinsics
from ..deploy import BACKENDS, PRECISIONS
from ..errors import UserError
from ..joints import BONE_SUM_RANGE_MM, H36M_BONE_SUM_MM
from ..options import finish_model_options, home_dir, model_parser
from ..progress import ProgressBar
from ..visualize import MAX_PANELS
from ..weights import DEMO_MODEL
from ..world import load_world
from . import runner
from .boxes import box_entry, load_bboxes, most_boxes, parse_bbox
from .build import build
from .detection import DETECTORS
from .motion import MOTION_FLAGS, MotionFiles, motion_wanted
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
from .smoothing import SMOOTH_2D, SMOOTH_3D
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


def parse_demo_opts(argv=None):
    """The model options and the demo's own; the training flags are not among them."""
    parser = model_parser(
        "demo.py",
        "hg3d demo: 2D and 3D poses of the people in images, folders or videos.",
        load_model_help="the checkpoint to run (default: %(default)s)",
    )
    a = parser.add_argument
    a(
        "--demo",
        required=True,
        help="an image, a folder of images, a video file, a camera index (0) or a stream URL (rtsp://, http(s)://)",
    )
    a("--live", action="store_true", help="a video file plays at its own rate like a camera; slow: frames dropped")
    a("--out_dir", default=os.path.join(home_dir(), "exp", "demo"), help="where outputs go (default: %(default)s)")
    a("--bbox", default="", help="person box(es) x,y,w,h in pixels, several separated by ';'")
    a(
        "--bboxes",
        default="",
        help='json file {"name": [x, y, w, h] or [[x, y, w, h], ...]}; a video: one box list per frame',
    )
    a(
        "--detector",
        default="auto",
        choices=("auto", "none", *DETECTORS),
        help="person detector (auto: fasterrcnn on CUDA, ssdlite on the CPU, when its weights are "
        "there or can be downloaded, else the whole image)",
    )
    a("--det_size", type=int, default=0, help="detector input: the frame's shorter side in px (0: the detector's own)")
    a("--backend", default="torch", choices=BACKENDS, help="pose network runtime (onnxruntime: CPU, exported once)")
    a(
        "--precision",
        default="fp32",
        choices=PRECISIONS,
        help="int8 (with --backend onnxruntime): quantized, faster, less accurate (docs/benchmarks.md)",
    )
    a("--calibration", default="", help="int8: folder of images to calibrate on (default: the input's first 32)")
    a("--detector_weights", default="", help="local state-dict file of the detector's COCO weights")
    a("--det_thresh", type=float, default=0.5, help="lowest detector score of a person kept")
    a("--max_people", type=int, default=10, help="people kept per image or frame (best scores)")
    a("--min_box", type=float, default=32, help="detections lower than this (px) are dropped")
    a(
        "--det_every",
        type=int,
        default=1,
        help="video: detect every n frames, follow the previous poses' boxes in between",
    )
    a("--smooth", action="store_true", help="video: One-Euro filter per track on the 2D and 3D joints")
    a("--save_frames", action="store_true", help="video: also write each frame's _2d/_3d PNGs")
    a("--bvh", action="store_true", help="video: one BVH animation per track, <name>_track<id>.bvh")
    a(
        "--bvh_min_frames",
        type=int,
        default=DEFAULT_MIN_FRAMES,
        help="video with --bvh: tracks seen in fewer frames get no BVH file",
    )
    a("--html", action="store_true", help="also <name>.html: the 3D viewer, one self-contained page")
    add_motion_flags(parser)
    add_placement_flags(parser)
    a("--recursive", action="store_true", help="also look in sub-folders")
    a("--show", action="store_true", help="open windows as the original did (needs a display)")
    a("--batch_size", type=int, default=8, help="images per forward pass")
    parser.set_defaults(default_task="human3d", load_model=DEMO_MODEL)
    opt = parser.parse_args(argv)
    check_values(opt)  # before the checkpoint is resolved: a wrong flag costs no download
    finish_model_options(opt, fetch=False)  # a released model is fetched once the inputs are found
    check_values(opt)  # --task may have come from a released model
    opt.bbox = (2, [parse_bbox(b, "--bbox") for b in opt.bbox.split(";") if b.strip()]) if opt.bbox else None
    opt.bboxes = load_bboxes(opt.bboxes) if opt.bboxes else {}
    opt.smooth_settings = {"2d_px": SMOOTH_2D, "3d_mm": SMOOTH_3D} if opt.smooth else None
    opt.camera_file = Intrinsics.load(opt.intrinsics) if opt.intrinsics else None  # a bad file fails before any work
    opt.world = load_world(opt.world) if opt.world else None
    return opt


def check_values(opt):
    """One-line errors for the demo's flag values (``--task`` None: not decided yet)."""
    checks = [
        (not 0 <= opt.det_thresh <= 1, f"--det_thresh is a score in [0, 1], got {opt.det_thresh}"),
        (opt.max_people < 1, f"--max_people must be >= 1, got {opt.max_people}"),
        (opt.min_box < 0, f"--min_box must be >= 0, got {opt.min_box}"),
        (opt.det_every < 1, f"--det_every must be >= 1, got {opt.det_every}"),
        (opt.bvh_min_frames < 1, f"--bvh_min_frames must be >= 1, got {opt.bvh_min_frames}"),
        (opt.batch_size < 1, f"--batch_size must be >= 1, got {opt.batch_size}"),
        (
            opt.html and opt.task not in (None, "human3d"),
            f"--html shows 3D poses and --task {opt.task} gives none: load a human3d checkpoint or drop --html",
        ),
        (
            not FOV_RANGE_DEG[0] <= opt.fov <= FOV_RANGE_DEG[1],
            "--fov is an angle in degrees from {:g} to {:g}, got {:g}".format(*FOV_RANGE_DEG, opt.fov),
        ),
        (
            not BONE_SUM_RANGE_MM[0] <= opt.bone_sum_mm <= BONE_SUM_RANGE_MM[1],
            "--bone_sum_mm is a length in mm from {:g} to {:g} (an adult: 4000), got {:g}".format(
                *BONE_SUM_RANGE_MM, opt.bone_sum_mm
            ),
        ),
    ]
    for failed, message in checks:
        if failed:
            raise UserError(message)


def add_motion_flags(parser):
    """Motion data of a video's tracks (docs/motion.md): angles, markers, a world frame."""
    group = parser.add_argument_group("motion data of a video's tracks (docs/motion.md)")
    a = group.add_argument
    a("--angles", action="store_true", help="joint angles: <name>_angles.csv and <name>_track<id>.mot (OpenSim)")
    a("--trc", action="store_true", help="markers as OpenSim reads them: <name>_track<id>.trc (mm, +Y up)")
    a("--c3d", action="store_true", help="markers as C3D: <name>_track<id>.c3d (mm, +Y up)")
    a(
        "--world",
        default="",
        help='the camera in a world frame, +Y up: JSON {"R": 3x3, "t": [x, y, z] mm}, X_world = R X_cam + t '
        "(default: from the floor the people walk on, when one is found)",
    )


def add_placement_flags(parser):
    """Where people stand in the camera frame (docs/camera.md): the camera, the scale, the BVH root."""
    group = parser.add_argument_group("placing people in the camera frame (docs/camera.md)")
    a = group.add_argument
    a(
        "--intrinsics",
        default="",
        help="camera calibration: JSON {fx, fy, cx, cy, dist} or {K, dist}, or OpenCV YAML/XML",
    )
    a(
        "--fov",
        type=float,
        default=DEFAULT_FOV_DEG,
        help="without --intrinsics or EXIF: the field of view over the longer side, degrees (default: %(default)s)",
    )
    a("--no_exif", action="store_true", help="ignore the photos' EXIF focal length (use --fov)")
    a(
        "--bone_sum_mm",
        type=float,
        default=H36M_BONE_SUM_MM,
        help="the 15 H36M bones' sum, mm (default %(default)g: an adult); the 3D scale and the depth follow it",
    )
    a(
        "--bvh_root",
        default="start",
        choices=ROOT_MODES,
        help="BVH root motion: start (first root at the origin, then its motion), camera (camera at the "
        "origin) or fixed (the pelvis stays at the origin)",
    )


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


def tracked_people(opt, estimator, detector, camera, source, entry):
    """The ``runner.TrackedPeople`` of one video, camera or stream."""
    pose_tracker = PoseTracker(
        estimator, detector, opt.det_every, opt.smooth_settings, source.fps, camera=camera, source_path=source.path
    )
    return runner.TrackedPeople(pose_tracker, entry, detector)


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
    if motion_wanted(opt) and not videos:
        raise UserError(
            f"{'/'.join(MOTION_FLAGS)} follow the people tracked through a video, and --demo {shown(opt.demo)} holds "
            f"no video; drop them for images"
        )
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
        processed = runner.run(ImageFiles(images), tracker, sinks, stop)
        result.done += processed.processed if processed else 0
    for path in videos:
        if stop.requested():
            break
        result.done += run_video(opt, stop, path, names[path], (estimator, detector, camera), window, result)
    if result.done == 0 and not stop.requested():
        raise UserError(f"no input under {shown(opt.demo)} could be processed")
    stopped = f" (stopped by {stop.reason})" if stop.requested() else ""
    print(f"done: {result.done} pose set(s) written to {opt.out_dir}{stopped}")
    return result


def run_video(opt, stop, path, stem, parts, window, result):
    """One video of a files run: the frames processed (0 when it is skipped, with a line)."""
    estimator, detector, camera = parts
    try:
        source = VideoFile(path)
    except Skipped as exc:
        print(f"skipping {shown(path)}: {exc}")
        return 0
    entry = box_entry(opt, path)
    tracker = tracked_people(opt, estimator, detector, camera, source, entry)
    out = os.path.join(opt.out_dir, stem)
    motion = [MotionFiles(opt, stem)] if motion_wanted(opt) else []
    sinks = [
        video_pictures(opt, stem, entry, detector),
        *window,
        Progress(os.path.basename(source.name), source.reader.frames_expected),
        *motion,
        VideoRecord(opt, out, amend=[m.amend for m in motion]),
        *([TrackBvh(opt, stem)] if opt.bvh else []),
    ]
    try:
        processed = runner.run(source, tracker, sinks, stop)
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
    source = open_live_source(opt.demo)
    try:
        entry = box_entry(opt, opt.demo)
        estimator, detector, camera = build(opt, opt.detector != "none" and entry is None, inputs=[opt.demo])
        tracker = tracked_people(opt, estimator, detector, camera, source, entry)
        stem = live_name(opt.demo)
        out = os.path.join(opt.out_dir, stem)
        sinks = [
            FrameLines(out),
            video_pictures(opt, stem, entry, detector),
            *windows(opt, stop),
            VideoRecord(opt, out),
        ]
        try:
            processed = runner.run(source, tracker, sinks, stop)
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
