"""The demo's command line: the model options and the demo's own, checked (``parse_demo_opts``).

Apart from ``cli`` so that ``hg3d-demo --help`` and a mistyped flag are answered without loading
torch (``commands`` checks the line with ``build_parser`` first)."""

import os

from ..bvh import DEFAULT_MIN_FRAMES, ROOT_MODES
from ..camera import DEFAULT_FOV_DEG, FOV_RANGE_DEG, Intrinsics
from ..deploy import BACKENDS, PRECISIONS
from ..errors import UserError
from ..joints import BONE_SUM_RANGE_MM, H36M_BONE_SUM_MM
from ..options import finish_model_options, home_dir, model_parser
from ..weights import DEMO_MODEL
from ..world import load_world
from .boxes import load_bboxes, parse_bbox
from .smoothing import SMOOTH_2D, SMOOTH_3D

# The person detectors (torchvision's COCO models) that --detector names; demo.detection builds them.
DETECTORS = ("fasterrcnn", "fasterrcnn_mobile", "fasterrcnn_mobile_320", "ssdlite")


def build_parser():
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
    a(
        "--temporal",
        default="",
        help="video: refine each track's 3D with this temporal model checkpoint (hg3d-train --task temporal; "
        "live input: a --causal one); docs/temporal.md",
    )
    a(
        "--save_sequences",
        default="",
        help="video: each track's per-frame estimates as pose sequences in this HDF5 file",
    )
    add_motion_flags(parser)
    add_placement_flags(parser)
    a("--recursive", action="store_true", help="also look in sub-folders")
    a("--show", action="store_true", help="open windows as the original did (needs a display)")
    a("--batch_size", type=int, default=8, help="images per forward pass")
    a(
        "--pipeline",
        default="auto",
        choices=("auto", "on", "off"),
        help="read and detect ahead in threads while the pose network runs (off: one stage after another; "
        "auto: on with a GPU or more than 2 CPU cores)",
    )
    parser.set_defaults(default_task="human3d", load_model=DEMO_MODEL)
    return parser


def parse_demo_opts(argv=None):
    """The demo's options, checked and finished (a released model's name is kept for ``build``)."""
    opt = build_parser().parse_args(argv)
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
            (opt.temporal or opt.save_sequences) and opt.task not in (None, "human3d"),
            f"--temporal and --save_sequences follow 3D poses and --task {opt.task} gives none: load a human3d "
            f"checkpoint",
        ),
        (
            opt.temporal and opt.smooth,
            "--temporal refines the frame model's own estimates, and --smooth would filter them first: drop --smooth",
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
