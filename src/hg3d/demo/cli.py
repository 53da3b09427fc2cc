"""What ``python demo.py`` does: flags -> inputs -> the image and video pipelines.

Headless by default (files in ``--out_dir``); ``--show`` also opens windows when a display exists.
People come from ``--bbox``/``--bboxes`` when given, else from the person detector
(``--detector``), else the whole image is one person.
"""

import numbers
import os

from ..bvh import DEFAULT_MIN_FRAMES, ROOT_MODES
from ..camera import DEFAULT_FOV_DEG, FOV_RANGE_DEG, Intrinsics
from ..deploy import BACKENDS
from ..errors import UserError
from ..files import read_json
from ..joints import BONE_SUM_RANGE_MM, H36M_BONE_SUM_MM
from ..options import finish_model_options, home_dir, model_parser
from ..weights import DEMO_MODEL
from .detection import DETECTORS
from .inputs import box_entry, find_inputs, output_names
from .live import is_live_source, run_live_demo
from .pipeline import Demo
from .smoothing import SMOOTH_2D, SMOOTH_3D


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
    add_placement_flags(parser)
    a("--recursive", action="store_true", help="also look in sub-folders")
    a("--show", action="store_true", help="open windows as the original did (needs a display)")
    a("--batch_size", type=int, default=8, help="images per forward pass")
    parser.set_defaults(default_task="human3d", load_model=DEMO_MODEL)
    opt = finish_model_options(parser.parse_args(argv))
    checks = [
        (not 0 <= opt.det_thresh <= 1, f"--det_thresh is a score in [0, 1], got {opt.det_thresh}"),
        (opt.max_people < 1, f"--max_people must be >= 1, got {opt.max_people}"),
        (opt.min_box < 0, f"--min_box must be >= 0, got {opt.min_box}"),
        (opt.det_every < 1, f"--det_every must be >= 1, got {opt.det_every}"),
        (opt.bvh_min_frames < 1, f"--bvh_min_frames must be >= 1, got {opt.bvh_min_frames}"),
        (opt.batch_size < 1, f"--batch_size must be >= 1, got {opt.batch_size}"),
        (
            opt.html and opt.task != "human3d",
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
    opt.bbox = (2, [parse_bbox(b, "--bbox") for b in opt.bbox.split(";") if b.strip()]) if opt.bbox else None
    opt.bboxes = load_bboxes(opt.bboxes) if opt.bboxes else {}
    opt.smooth_settings = {"2d_px": SMOOTH_2D, "3d_mm": SMOOTH_3D} if opt.smooth else None
    opt.camera_file = Intrinsics.load(opt.intrinsics) if opt.intrinsics else None  # a bad file fails before any work
    return opt


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


MAX_BOX_PX = 1e5  # box coordinates and sizes larger than any image (NaN is not within it either)


def parse_bbox(value, where):
    try:
        box = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        box = []
    if len(box) != 4 or not all(abs(v) <= MAX_BOX_PX for v in box) or box[2] <= 0 or box[3] <= 0:
        raise UserError(
            f"{where}: expected x,y,w,h in pixels with positive width and height, each within "
            f"{MAX_BOX_PX:g} px, got '{value}'"
        )
    return box


def _is_box(value):
    return isinstance(value, list) and bool(value) and isinstance(value[0], numbers.Number)


def parse_box_entry(value, where):
    """(depth, boxes): 1 for one box [x, y, w, h], 2 for a list of boxes, 3 for a list of box
    lists (one per video frame)."""
    if _is_box(value):
        return 1, parse_bbox(value, where)
    if isinstance(value, list) and all(_is_box(v) for v in value):
        return 2, [parse_bbox(v, where) for v in value]
    if isinstance(value, list) and all(isinstance(v, list) and all(_is_box(b) for b in v) for v in value):
        return 3, [[parse_bbox(b, f"{where} frame {i}") for b in v] for i, v in enumerate(value)]
    raise UserError(
        f"{where}: expected [x, y, w, h], a list of them, or (video) one list per frame, got {str(value)[:80]}"
    )


def load_bboxes(path):
    boxes = read_json(path, "--bboxes")
    if not isinstance(boxes, dict):
        raise UserError(f'--bboxes {path}: expected a json object {{"image name": [x, y, w, h]}}')
    return {name: parse_box_entry(box, f"--bboxes {path} entry '{name}'") for name, box in boxes.items()}


def run_demo(argv=None):
    """The demo command; returns the Demo that ran (its ``done`` count, ``tracked`` videos)."""
    opt = parse_demo_opts(argv)
    if opt.live or is_live_source(opt.demo):
        return run_live_demo(opt)
    images, videos = find_inputs(opt.demo, opt.recursive)
    if opt.bvh and not videos:
        raise UserError(
            f"--bvh exports the people tracked through a video, and --demo {opt.demo} holds no "
            f"video (a file that OpenCV reads as one); drop --bvh for images"
        )
    inputs = images + videos
    need_detector = opt.detector != "none" and any(box_entry(opt, p) is None for p in inputs)
    demo = Demo(opt, output_names(inputs, opt.demo), need_detector)
    done = demo.run_images(images) if images else 0
    for video in videos:
        done += demo.run_video(video)
    if done == 0:
        raise UserError(f"no input under {opt.demo} could be processed")
    print(f"done: {done} pose set(s) written to {opt.out_dir}")
    demo.done = done
    return demo
