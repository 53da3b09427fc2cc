"""What ``python demo.py`` does: flags -> inputs -> the image and video pipelines.

Headless by default (files in ``--out_dir``); ``--show`` also opens windows when a display exists.
People come from ``--bbox``/``--bboxes`` when given, else from the person detector
(``--detector``), else the whole image is one person.
"""

import numbers
import os

from ..backends import BACKENDS
from ..bvh import DEFAULT_MIN_FRAMES
from ..errors import UserError
from ..files import read_json
from ..opts import build_parser, finalize, home_dir
from .detection import DETECTORS
from .pipeline import Demo, box_entry
from .smoothing import SMOOTH_2D, SMOOTH_3D

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2"}
VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv"}


def parse_demo_opts(argv=None):
    parser = build_parser("demo.py")
    parser.description = "hg3d demo: 2D and 3D poses of the people in images, folders or videos."
    a = parser.add_argument
    a("--demo", required=True, help="an image, a folder of images, or a video file")
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
    a("--recursive", action="store_true", help="also look in sub-folders")
    a("--show", action="store_true", help="open windows as the original did (needs a display)")
    parser.set_defaults(
        task="human3d", batch_size=8, num_workers=0, load_model=os.path.join(home_dir(), "models", "fusion_3d_var.pth")
    )
    opt = finalize(parser.parse_args(argv))
    checks = [
        (not 0 <= opt.det_thresh <= 1, f"--det_thresh is a score in [0, 1], got {opt.det_thresh}"),
        (opt.max_people < 1, f"--max_people must be >= 1, got {opt.max_people}"),
        (opt.min_box < 0, f"--min_box must be >= 0, got {opt.min_box}"),
        (opt.det_every < 1, f"--det_every must be >= 1, got {opt.det_every}"),
        (opt.bvh_min_frames < 1, f"--bvh_min_frames must be >= 1, got {opt.bvh_min_frames}"),
    ]
    for failed, message in checks:
        if failed:
            raise UserError(message)
    opt.bbox = (2, [parse_bbox(b, "--bbox") for b in opt.bbox.split(";") if b.strip()]) if opt.bbox else None
    opt.bboxes = load_bboxes(opt.bboxes) if opt.bboxes else {}
    opt.smooth_settings = {"2d_px": SMOOTH_2D, "3d_mm": SMOOTH_3D} if opt.smooth else None
    return opt


def parse_bbox(value, where):
    try:
        box = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        box = []
    if len(box) != 4 or not all(map(_finite, box)) or box[2] <= 0 or box[3] <= 0:
        raise UserError(f"{where}: expected x,y,w,h with positive width and height, got '{value}'")
    return box


def _finite(v):
    return v == v and abs(v) != float("inf")


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


def find_inputs(path, recursive):
    """(images, videos) to process for ``path``; a folder lists its images and videos, sorted."""
    if not os.path.exists(path):
        raise UserError(f"--demo {path} does not exist")
    if os.path.isfile(path):
        ext = os.path.splitext(path)[1].lower()
        return ([], [path]) if ext in VIDEO_EXTENSIONS else ([path], [])
    if recursive:
        files = [os.path.join(d, f) for d, _, names in os.walk(path) for f in names]
    else:
        files = [os.path.join(path, f) for f in os.listdir(path)]
    files = sorted(f for f in files if os.path.isfile(f))
    images = [f for f in files if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
    videos = [f for f in files if os.path.splitext(f)[1].lower() in VIDEO_EXTENSIONS]
    if not images and not videos:
        raise UserError(f"--demo {path}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) or videos there")
    return images, videos


def output_names(paths, root):
    """Output file stem of each input: the path relative to the --demo folder, '/' as '__'; inputs
    that would share a stem (a.jpg and a.png) keep their extension (a_jpg, a_png) instead of
    overwriting each other's outputs."""
    base = os.path.dirname(root) if os.path.isfile(root) else root
    rel = [os.path.relpath(path, base).replace(os.sep, "__") for path in paths]
    stems = [os.path.splitext(r)[0] for r in rel]
    return {path: r.replace(".", "_") if stems.count(stem) > 1 else stem for path, r, stem in zip(paths, rel, stems)}


def run_demo(argv=None):
    """The demo command; returns the Demo that ran (its ``done`` count, ``tracked`` videos)."""
    opt = parse_demo_opts(argv)
    images, videos = find_inputs(opt.demo, opt.recursive)
    if opt.bvh and not videos:
        raise UserError(
            f"--bvh exports the people tracked through a video, and --demo {opt.demo} holds no "
            f"video ({', '.join(sorted(VIDEO_EXTENSIONS))}); drop --bvh for images"
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
