"""The demo: 2D and 3D poses of images, folders and videos, written as pictures and JSON.

Each input is cropped like the test data (whole image centred by default, or a person box with the
datasets' 1.25 margin), run through the network in batches with the flip test, decoded with the
evaluation code and written to ``--out_dir``. A file that cannot be read is named and skipped.
"""
import json
import math
import os
import sys
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from progress.bar import Bar

from .checkpoint import load_weights
from .errors import UserError
from .evaluation import decode_2d, decode_3d, flip_merge, mpii_to_h36m
from .files import atomic_write, write_json
from .geometry import adjust_aspect_ratio, crop_and_normalize, transform_preds
from .joints import H36M_BONES, H36M_JOINTS, MPII_EDGES, MPII_JOINTS
from .model import create_model
from .opts import REPO_DIR, build_parser, finalize
from .trainer import Trainer
from .visualize import draw_skeleton_2d, render_skeleton_3d

DEFAULT_MODEL = os.path.join(REPO_DIR, "models", "fusion_3d_var.pth")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm",
              ".pnm", ".jp2", ".sr", ".ras")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv")
BOX_MARGIN = 1.25  # a person box grows by this factor, as MPII's scale * 1.25 * 200
FRAME_DIGITS = 6


class Skip(Exception):
    """One input cannot be used (unreadable, box outside it); the demo names it and goes on."""


def build_demo_parser():
    """main.py's parser plus the demo's flags, with defaults for the released 3D model."""
    p = build_parser("demo.py")
    p.description = "hg3d demo: 2D and 3D poses of an image, a folder of images or a video."
    a = p.add_argument
    a("--demo", required=True, help="an image, a folder of images/videos, or a video file")
    a("--out_dir", default="", help="where outputs go (default <exp_dir>/demo)")
    a("--bbox", default="", help="person box x,y,w,h in pixels, used for every input")
    a("--bboxes", default="", help='JSON {"image name": [x, y, w, h], ...}: a box per input')
    a("--recursive", action="store_true", help="also take the images in subfolders of --demo")
    a("--show", action="store_true", help="also show the pictures in windows (needs a display)")
    a("--flip_test", dest="flip_test", action="store_true",
      help="average with the mirrored input (the default; --no_flip_test turns it off)")
    p.set_defaults(task="human3d", load_model=DEFAULT_MODEL, batch_size=8, flip_test=True)
    return p


def parse_demo_opts(argv=None, log=print):
    opt = finalize(build_demo_parser().parse_args(argv), log)
    if opt.bbox and opt.bboxes:
        raise UserError("give either --bbox (one box for every input) or --bboxes (a box per input)")
    opt.bbox = parse_box(opt.bbox, "--bbox") if opt.bbox else None
    opt.bboxes = load_boxes(opt.bboxes) if opt.bboxes else None
    opt.out_dir = os.path.abspath(opt.out_dir or os.path.join(opt.exp_dir, "demo"))
    return opt


# --- inputs ----------------------------------------------------------------------------------------
@dataclass
class Source:
    path: str
    name: str  # output name: the path below --demo without extension (subfolders kept)
    key: str  # the path below --demo, as --bboxes names it

    @property
    def is_video(self):
        return self.path.lower().endswith(VIDEO_EXTS)


def collect_inputs(path, recursive=False):
    """The images and videos of ``--demo`` (sorted) and the names of the other files skipped."""
    if not os.path.exists(path):
        raise UserError(f"--demo {path} does not exist (give an image, a folder or a video)")
    if os.path.isfile(path):
        name = os.path.basename(path)
        return [Source(path, os.path.splitext(name)[0], name)], []
    found, others = [], []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(dirs) if recursive else []
        for file in files:
            rel = os.path.relpath(os.path.join(root, file), path)
            (found if file.lower().endswith(IMAGE_EXTS + VIDEO_EXTS) else others).append(rel)
    if not found:
        hint = "" if recursive else " (add --recursive to look in subfolders)"
        raise UserError(f"--demo {path}: no image or video files in this folder{hint}")
    found.sort()
    stems = [os.path.splitext(rel)[0] for rel in found]
    clash = {s for s in stems if stems.count(s) > 1}  # a.jpg and a.png: keep the extension
    sources = [Source(os.path.join(path, rel), rel.replace(".", "_") if stem in clash else stem,
                      rel.replace(os.sep, "/")) for rel, stem in zip(found, stems)]
    return sources, sorted(others)


def read_image(path):
    """A 3-channel 8-bit BGR image: grayscale, 16-bit and RGBA files are converted by OpenCV's
    IMREAD_COLOR, which also applies the EXIF orientation."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise Skip("cannot be decoded as an image")
    return image


def parse_box(value, what):
    """``x,y,w,h`` (a string or a list of 4 numbers) -> float array; a one-line error otherwise."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        box = np.array([float(v) for v in parts], np.float64)
    except (TypeError, ValueError):
        box = np.zeros(0)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise UserError(f"{what} must be 4 numbers x,y,w,h (pixels), got {value!r}")
    if box[2] <= 0 or box[3] <= 0:
        raise UserError(f"{what} {value!r}: width and height must be > 0")
    return box


def load_boxes(path):
    """``--bboxes`` file: ``{"image name": [x, y, w, h], ...}`` -> {name: box}."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise UserError(f"--bboxes {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"--bboxes {path} is not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f'--bboxes {path} must hold an object {{"image name": [x, y, w, h], ...}}')
    return {str(k).replace("\\", "/"): parse_box(v, f"--bboxes {path}: box of {k!r}")
            for k, v in data.items()}


def person_crop(opt, source, shape):
    """The box used (x, y, w, h) and the crop (centre, size) for an image of ``shape``."""
    height, width = shape[:2]
    aspect = opt.input_w / opt.input_h
    box = opt.bbox
    if opt.bboxes is not None:
        box = opt.bboxes.get(source.key, opt.bboxes.get(os.path.basename(source.key)))
    if box is None:  # the whole image, centred (as the original demo)
        side = max(height, width)
        return (np.array([0.0, 0.0, width, height]), np.array([width / 2, height / 2]),
                adjust_aspect_ratio((side, side), aspect))
    x, y, w, h = box
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise Skip(f"box {[float(v) for v in box]} lies outside the {width}x{height} image")
    size = adjust_aspect_ratio((w * BOX_MARGIN, h * BOX_MARGIN), aspect, opt.fit_short_side)
    return box, np.array([x + w / 2, y + h / 2]), size


# --- the network -----------------------------------------------------------------------------------
class Predictor:
    """The checkpoint's network, applied to batches of (image, centre, size) crops."""

    def __init__(self, opt):
        self.opt = opt
        model = create_model(opt.arch, opt.heads)
        load_weights(model, opt.load_model, strict=True)
        self.trainer = Trainer(opt, model.to(opt.device).eval())

    @torch.no_grad()
    def __call__(self, images, centers, sizes):
        """Per-image dicts: ``joints_2d`` (16, 2) image px, ``confidence`` (16,) heatmap peaks and,
        for a 3D model, ``joints_3d_crop`` (16, 3) decode units and ``joints_3d_mm`` (17, 3)."""
        opt = self.opt
        inputs = torch.from_numpy(np.stack([
            crop_and_normalize(img, c, s, 0, opt.input_w, opt.input_h)
            for img, c, s in zip(images, centers, sizes)])).to(opt.device)
        n = len(inputs)
        if opt.flip_test:
            output = self.trainer.forward(torch.cat([inputs, inputs.flip(-1)]))
            output = {k: flip_merge(v[:n], v[n:]) for k, v in output.items()}
        else:
            output = self.trainer.forward(inputs)
        hm = output["hm"]
        coords = decode_2d(hm).cpu().numpy()
        confidence = hm.flatten(2).amax(-1).cpu().numpy()
        out_size = (hm.shape[3], hm.shape[2])
        results = [{"joints_2d": transform_preds(coords[i], centers[i], sizes[i], out_size),
                    "confidence": confidence[i]} for i in range(n)]
        if "depth" in output:
            crop_3d = decode_3d(hm, output["depth"]).cpu().numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                mm = mpii_to_h36m(crop_3d)
            for result, c3, m3 in zip(results, crop_3d, mm):
                result["joints_3d_crop"] = c3
                # all joints decoded at one pixel: no bones to rescale, no 3D pose
                result["joints_3d_mm"] = m3 if np.isfinite(m3).all() else None
        return results


# --- outputs ---------------------------------------------------------------------------------------
def _rounded(array, digits):
    return None if array is None else np.round(np.asarray(array, np.float64), digits).tolist()


def pose_record(result, box, center, size):
    """The JSON fields of one image or frame."""
    record = {
        "box_xywh": _rounded(box, 2),
        "crop": {"center": _rounded(center, 2), "size": _rounded(size, 2)},
        "joints_2d": _rounded(result["joints_2d"], 2),
        "confidence": _rounded(result["confidence"], 5),
    }
    if "joints_3d_crop" in result:
        record["joints_3d_mm"] = _rounded(result["joints_3d_mm"], 2)
        record["joints_3d_crop"] = _rounded(result["joints_3d_crop"], 5)
    return record


def describe_outputs(opt):
    """The JSON fields that say what the numbers are (joint orders, units, checkpoint)."""
    info = {
        "checkpoint": os.path.abspath(opt.load_model),
        "arch": opt.arch, "task": opt.task, "flip_test": bool(opt.flip_test),
        "input_size": [opt.input_w, opt.input_h],
        "joint_names": list(MPII_JOINTS),
        "joints_2d_units": "image pixels (x, y), MPII-16 order (joint_names)",
        "confidence_units": "peak of each joint's heatmap",
    }
    if opt.task == "human3d":
        info["joint_names_3d"] = list(H36M_JOINTS)
        info["joints_3d_mm_units"] = (
            "mm, relative to the pelvis, H36M-17 order (joint_names_3d), x right, y down, z away "
            "from the camera, scaled so that the 15 H36M bones sum to 4000 mm (H36M protocol); "
            "null when the decode is degenerate")
        info["joints_3d_crop_units"] = (
            "the network's 3D decode, MPII-16 order (joint_names): x, y in heatmap widths, "
            "z the depth map's value, relative to the pelvis")
    return info


def write_image(path, image):
    def write(tmp):
        if not cv2.imwrite(tmp, image):
            raise UserError(f"cannot write {path} (check --out_dir)")
    atomic_write(path, write)


class Display:
    """``--show``: the original's windows (2D overlay, 3D plot) when a display is there."""

    def __init__(self, enabled):
        self.enabled = enabled
        if enabled and sys.platform.startswith("linux") and not (
                os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            print("notice: --show: no display ($DISPLAY is not set); writing files only")
            self.enabled = False

    def show(self, overlay, plot, wait_ms):
        if not self.enabled:
            return
        try:
            cv2.imshow("hg3d 2D", overlay)
            if plot is not None:
                cv2.imshow("hg3d 3D", plot)
            if cv2.waitKey(wait_ms) & 0xFF in (27, ord("q")):  # Esc / q: no more windows
                self.close()
        except cv2.error:
            print("notice: --show: this OpenCV has no window support (opencv-python-headless); "
                  "writing files only")
            self.enabled = False

    def close(self):
        if self.enabled:
            cv2.destroyAllWindows()
        self.enabled = False


def draw_pictures(image, result, box, title):
    """The 2D overlay (BGR) and, for a 3D result, the 3D plot (BGR), else None."""
    overlay = draw_skeleton_2d(image, result["joints_2d"], MPII_EDGES, MPII_JOINTS, box)
    joints_3d = result.get("joints_3d_mm")
    plot = None
    if joints_3d is not None:
        plot = render_skeleton_3d(joints_3d, H36M_BONES, H36M_JOINTS, title=title)[..., ::-1]
    return overlay, plot


def write_pictures(prefix, overlay, plot):
    """``<prefix>_2d.png`` and ``<prefix>_3d.png``; returns the paths written."""
    paths = [prefix + "_2d.png"]
    write_image(paths[0], overlay)
    if plot is not None:
        paths.append(prefix + "_3d.png")
        write_image(paths[1], np.ascontiguousarray(plot))
    return paths


# --- running ---------------------------------------------------------------------------------------
class Demo:
    def __init__(self, opt):
        self.opt = opt
        self.predictor = Predictor(opt)
        self.display = Display(opt.show)
        self.info = describe_outputs(opt)
        self.skipped, self.images, self.videos, self.frames = [], 0, 0, 0
        self.bar = None  # the progress bar over the inputs of a folder

    def tick(self):
        if self.bar:
            self.bar.next()

    def skip(self, source, reason):
        self.skipped.append(f"{source.path}: {reason}")
        print(f"skipped {source.path}: {reason}", file=sys.stderr)
        self.tick()

    def run_images(self, sources):
        """Images in batches of --batch_size; unreadable ones are skipped."""
        pending = []
        for source in sources:
            try:
                image = read_image(source.path)
                pending.append((source, image, *person_crop(self.opt, source, image.shape)))
            except Skip as exc:
                self.skip(source, exc)
            if len(pending) == self.opt.batch_size:
                self._image_batch(pending)
                pending = []
        if pending:
            self._image_batch(pending)

    def _image_batch(self, items):
        _, images, boxes, centers, sizes = zip(*items)
        for (source, image, box, center, size), result in zip(
                items, self.predictor(images, centers, sizes)):
            prefix = os.path.join(self.opt.out_dir, source.name)
            overlay, plot = draw_pictures(image, result, box, os.path.basename(source.name))
            paths = write_pictures(prefix, overlay, plot)
            record = dict(self.info, image=os.path.abspath(source.path),
                          image_size=[image.shape[1], image.shape[0]],
                          **pose_record(result, box, center, size))
            write_json(prefix + ".json", record)
            paths.append(prefix + ".json")
            self.images += 1
            self.tick()
            print(f"{source.path} -> " + ", ".join(os.path.relpath(p, self.opt.out_dir) for p in paths))
            self.display.show(overlay, plot, 0)

    def run_video(self, source):
        """Every frame: ``<name>_frames/<n>_2d.png`` and ``_3d.png``, the overlay video
        ``<name>_2d.mp4`` and one ``<name>.json`` for all frames."""
        capture = cv2.VideoCapture(source.path)
        if not capture.isOpened():
            raise Skip("cannot be opened as a video")
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and math.isfinite(fps) and fps > 0 else 25.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        prefix = os.path.join(self.opt.out_dir, source.name)
        records, frame_size = [], [0, 0]
        bar = Bar(f"demo {os.path.basename(source.path)}", max=max(total, 1))

        def write_video(tmp):
            writer = None
            for batch in _frame_batches(capture, self.opt.batch_size):
                frames = [frame for _, frame in batch]
                crops = [person_crop(self.opt, source, frame.shape) for frame in frames]
                boxes, centers, sizes = zip(*crops)
                for (index, frame), result, box, center, size in zip(
                        batch, self.predictor(frames, centers, sizes), boxes, centers, sizes):
                    overlay, plot = draw_pictures(frame, result, box, f"{source.name} #{index}")
                    if writer is None:
                        frame_size[:] = frame.shape[1], frame.shape[0]
                        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                                 tuple(frame_size))
                        if not writer.isOpened():
                            raise UserError(f"OpenCV cannot write the video {prefix}_2d.mp4 (mp4v)")
                    writer.write(overlay)
                    frame_prefix = os.path.join(f"{prefix}_frames", f"{index:0{FRAME_DIGITS}d}")
                    write_pictures(frame_prefix, overlay, plot)
                    records.append(dict(frame=index, **pose_record(result, box, center, size)))
                    self.display.show(overlay, plot, 1)
                    bar.next()
            if writer is not None:
                writer.release()
            if not records:
                raise Skip("no frame could be decoded")

        try:
            atomic_write(prefix + "_2d.mp4", write_video)
        finally:
            bar.finish()
            capture.release()
        write_json(prefix + ".json", dict(self.info, video=os.path.abspath(source.path), fps=fps,
                                          num_frames=len(records), frame_size=frame_size,
                                          frames=records))
        self.videos += 1
        self.tick()
        self.frames += len(records)
        print(f"{source.path} -> {source.name}_2d.mp4, {source.name}.json, "
              f"{source.name}_frames/ ({len(records)} frames)")


def _frame_batches(capture, batch_size):
    """Lists of (frame index, BGR frame) read from an OpenCV capture until it ends."""
    index, batch = 0, []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        batch.append((index, frame))
        index += 1
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_demo(argv=None):
    """``python demo.py``: returns a summary dict; a UserError when no input could be processed."""
    opt = parse_demo_opts(argv)
    sources, others = collect_inputs(opt.demo, opt.recursive)
    if others:
        print(f"note: {len(others)} file(s) in {opt.demo} are not images or videos and are left "
              f"out (e.g. {others[0]})")
    demo = Demo(opt)
    demo.bar = Bar("demo", max=len(sources)) if len(sources) > 1 else None
    images = []
    for source in sources + [None]:
        if source is not None and not source.is_video:
            images.append(source)
            continue
        if images:  # the images before this video (or the end), in batches
            demo.run_images(images)
            images = []
        if source is not None:
            try:
                demo.run_video(source)
            except Skip as exc:
                demo.skip(source, exc)
    if demo.bar:
        demo.bar.finish()
    demo.display.close()
    summary = {"images": demo.images, "videos": demo.videos, "frames": demo.frames,
               "skipped": demo.skipped, "out_dir": opt.out_dir}
    print(f"demo: {demo.images} image(s) and {demo.videos} video(s) ({demo.frames} frames) done, "
          f"{len(demo.skipped)} skipped; outputs in {opt.out_dir}")
    if not demo.images and not demo.videos:
        raise UserError(f"no input could be processed ({demo.skipped[0]})")
    return summary
