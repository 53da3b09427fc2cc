"""What ``python demo.py`` does: run the model on images, folders or videos and write pictures + JSON.

Headless by default (files in ``--out_dir``); ``--show`` also opens windows when a display exists.
Each image (or video frame) is cropped around a person box — the whole image, centred, unless
``--bbox``/``--bboxes`` give one — normalised as in training, run with the flip test, and decoded
with the same functions as testing.
"""
import os
import sys

import cv2
import numpy as np
import torch
from progress.bar import Bar

from .checkpoint import load_weights
from .errors import UserError
from .evaluation import decode_2d, decode_3d, h36m_scale, to_h36m_order
from .files import atomic_write, imread_bgr, read_json, write_json
from .geometry import adjust_aspect_ratio, crop_and_normalize, transform_preds
from .joints import H36M_JOINTS, MPII_JOINTS
from .model import create_model
from .opts import REPO_DIR, build_parser, finalize
from .trainer import Trainer
from .visualize import draw_skeleton_2d, plot_skeleton_3d

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2"}
VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv"}
BOX_MARGIN = 1.25  # like MPII's scale: the crop is 1.25 x the person box


def parse_demo_opts(argv=None):
    parser = build_parser("demo.py")
    parser.description = "hg3d demo: 2D and 3D pose of the person in images, folders or videos."
    a = parser.add_argument
    a("--demo", required=True, help="an image, a folder of images, or a video file")
    a("--out_dir", default=os.path.join(REPO_DIR, "exp", "demo"), help="where outputs go")
    a("--bbox", default="", help="person box x,y,w,h in pixels (one image or video)")
    a("--bboxes", default="", help='json file {"image name": [x, y, w, h], ...}')
    a("--recursive", action="store_true", help="also look in sub-folders")
    a("--show", action="store_true", help="open windows as the original did (needs a display)")
    parser.set_defaults(task="human3d", batch_size=8, num_workers=0,
                        load_model=os.path.join(REPO_DIR, "models", "fusion_3d_var.pth"))
    opt = finalize(parser.parse_args(argv))
    opt.bbox = parse_bbox(opt.bbox, "--bbox") if opt.bbox else None
    opt.bboxes = load_bboxes(opt.bboxes) if opt.bboxes else {}
    return opt


def parse_bbox(value, where):
    try:
        box = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        box = []
    if len(box) != 4 or box[2] <= 0 or box[3] <= 0 or not np.all(np.isfinite(box)):
        raise UserError(f"{where}: expected x,y,w,h with positive width and height, got '{value}'")
    return box


def load_bboxes(path):
    boxes = read_json(path, "--bboxes")
    if not isinstance(boxes, dict):
        raise UserError(f"--bboxes {path}: expected a json object {{\"image name\": [x, y, w, h]}}")
    return {name: parse_bbox(box, f"--bboxes {path} entry '{name}'") for name, box in boxes.items()}


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
    return {path: r.replace(".", "_") if stems.count(stem) > 1 else stem
            for path, r, stem in zip(paths, rel, stems)}


def box_outside(box, image):
    """Why a person box cannot be used on ``image`` (it lies outside it), or None."""
    if box is None:
        return None
    height, width = image.shape[:2]
    x, y, w, h = box
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        return f"box {list(box)} lies outside the {width}x{height} image"
    return None


class PoseEstimator:
    """The model with its crop, flip test and decoding, for whole batches of images."""

    def __init__(self, opt):
        self.opt = opt
        self.model = create_model(opt.arch, opt.heads)
        load_weights(self.model, opt.load_model, strict=True, log=lambda _: None)
        self.model.to(opt.device).eval()
        self.trainer = Trainer(opt, self.model)

    def person_box(self, image, bbox):
        """(center, size) of the crop: the whole image, or the box grown to the aspect ratio x 1.25."""
        aspect = self.opt.input_w / self.opt.input_h
        if bbox is None:
            h, w = image.shape[:2]
            side = max(h, w)
            return np.array([w / 2, h / 2], np.float32), adjust_aspect_ratio((side, side), aspect)
        x, y, w, h = bbox
        return (np.array([x + w / 2, y + h / 2], np.float32),
                adjust_aspect_ratio((w, h), aspect) * BOX_MARGIN)

    def __call__(self, images, bboxes):
        """Poses of one person per image: a list of dicts (2D px, confidence, 3D mm, box)."""
        opt = self.opt
        boxes = [self.person_box(img, box) for img, box in zip(images, bboxes)]
        crops = np.stack([crop_and_normalize(img, c, s, 0, opt.input_w, opt.input_h)
                          for img, (c, s) in zip(images, boxes)])
        _, maps = self.trainer.infer(torch.from_numpy(crops).to(opt.device))
        hm = maps["hm"]
        coords = decode_2d(hm).cpu().numpy()
        confidence = hm.flatten(2).amax(-1).cpu().numpy()
        pred_3d = decode_3d(hm, maps["depth"]).cpu().numpy() if "depth" in maps else None
        out_size = (hm.shape[3], hm.shape[2])
        poses = []
        for i, (center, size) in enumerate(boxes):
            pose = {"joints_2d": transform_preds(coords[i], center, size, out_size),
                    "confidence": confidence[i], "center": center, "size": size}
            if pred_3d is not None:
                scale = h36m_scale(pred_3d[i])
                if scale > 0:
                    pose["joints_3d"] = pred_3d[i] * scale
                    pose["joints_3d_h36m"] = to_h36m_order(pred_3d[i]) * scale
                else:  # every joint decoded at one point: no bone to scale by, no 3D pose
                    pose["joints_3d_degenerate"] = True
            poses.append(pose)
        return poses


def pose_record(pose, checkpoint):
    """The JSON form of one pose."""
    center, size = pose["center"], pose["size"]
    record = {
        "box": {"center": [float(v) for v in center], "size": [float(v) for v in size],
                "xywh": [float(center[0] - size[0] / 2), float(center[1] - size[1] / 2),
                         float(size[0]), float(size[1])]},
        "checkpoint": os.path.abspath(checkpoint),
        "joint_names": list(MPII_JOINTS),
        "joints_2d": np.round(pose["joints_2d"], 2).tolist(),
        "confidence": np.round(pose["confidence"].astype(float), 4).tolist(),
    }
    if "joints_3d" in pose:
        record["joints_3d_mm"] = np.round(pose["joints_3d"], 2).tolist()
        record["joint_names_h36m"] = list(H36M_JOINTS)
        record["joints_3d_h36m_mm"] = np.round(pose["joints_3d_h36m"], 2).tolist()
        record["joints_3d_note"] = ("root-relative (pelvis) camera axes x right, y down, z forward; "
                                    "scaled so the 15 H36M bones sum to 4000 mm")
    elif pose.get("joints_3d_degenerate"):
        record["joints_3d_mm"] = record["joints_3d_h36m_mm"] = None
        record["joints_3d_note"] = "no 3D pose: every joint was decoded at the same point"
    return record


def write_picture(path, image):
    atomic_write(path, lambda tmp: cv2.imwrite(tmp, image) or _fail(path))


def _fail(path):
    raise UserError(f"cannot write {path}")


class Demo:
    def __init__(self, opt, names):
        self.opt, self.names = opt, names  # names: output stem of each input path
        self.estimator = PoseEstimator(opt)
        self.show = opt.show and _display_available()
        if opt.show and not self.show:
            print("notice: --show needs a display and an OpenCV with windows; writing files only")
        os.makedirs(opt.out_dir, exist_ok=True)

    def bbox_for(self, path):
        name = os.path.basename(path)
        return self.opt.bboxes.get(name, self.opt.bboxes.get(path, self.opt.bbox))

    def write_outputs(self, stem, image, pose, record=True):
        """The picture set of one image or frame; returns its JSON record."""
        out = os.path.join(self.opt.out_dir, stem)
        overlay = draw_skeleton_2d(image, pose["joints_2d"])
        write_picture(out + "_2d.png", overlay)
        if "joints_3d" in pose:
            atomic_write(out + "_3d.png", lambda tmp: plot_skeleton_3d(pose["joints_3d"], tmp))
        data = pose_record(pose, self.opt.load_model)
        if record:
            write_json(out + ".json", data)
        if self.show:
            cv2.imshow("hg3d 2D", overlay)
            cv2.waitKey(1)
        return overlay, data

    def run_images(self, paths):
        done, bar = 0, Bar("images", max=len(paths)) if len(paths) > 1 else None
        for start in range(0, len(paths), self.opt.batch_size):
            batch = []
            for path in paths[start:start + self.opt.batch_size]:
                image = imread_bgr(path)
                if image is None and len(paths) == 1:
                    raise UserError(f"image {path} cannot be read (corrupt or unsupported format)")
                if image is None:
                    print(f"skipping {path}: cannot be read as an image (corrupt or unsupported)")
                    continue
                problem = box_outside(self.bbox_for(path), image)
                if problem and len(paths) == 1:
                    raise UserError(f"{path}: {problem} (check --bbox/--bboxes)")
                if problem:
                    print(f"skipping {path}: {problem}")
                    continue
                batch.append((path, image))
            if batch:
                poses = self.estimator([img for _, img in batch], [self.bbox_for(p) for p, _ in batch])
                for (path, image), pose in zip(batch, poses):
                    stem = self.names[path]
                    self.write_outputs(stem, image, pose)
                    kinds = "_2d.png,_3d.png,.json" if "joints_3d" in pose else "_2d.png,.json"
                    print(f"{path} -> {os.path.join(self.opt.out_dir, stem)}{{{kinds}}}")
                    done += 1
            if bar:
                bar.next(len(paths[start:start + self.opt.batch_size]))
        if bar:
            bar.finish()
        return done

    def run_video(self, path):
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            print(f"skipping {path}: cannot be opened as a video")
            return 0
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
        stem = self.names[path]
        video_path = os.path.join(self.opt.out_dir, stem + "_2d.mp4")
        tmp_video = os.path.join(self.opt.out_dir, f".tmp-{stem}_2d.mp4")
        writer, frames, records, bar = None, [], [], Bar(os.path.basename(path), max=max(total, 1))

        def flush():
            nonlocal writer
            poses = self.estimator(frames, [self.bbox_for(path)] * len(frames))
            for frame, pose in zip(frames, poses):
                index = len(records)
                overlay, data = self.write_outputs(f"{stem}_{index:05d}", frame, pose, record=False)
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(tmp_video, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                writer.write(overlay)
                records.append(dict(data, frame=index))
                bar.next()
            frames.clear()

        while True:
            ok, frame = capture.read()
            if not ok:
                break
            problem = None if records or frames else box_outside(self.bbox_for(path), frame)
            if problem:  # checked on the first frame: all frames have its size
                capture.release()
                bar.finish()
                print(f"skipping {path}: {problem}")
                return 0
            frames.append(frame)
            if len(frames) == self.opt.batch_size:
                flush()
        if frames:
            flush()
        capture.release()
        bar.finish()
        if writer is not None:
            writer.release()
            os.replace(tmp_video, video_path)
        if not records:
            print(f"skipping {path}: no frame could be read")
            return 0
        write_json(os.path.join(self.opt.out_dir, stem + ".json"),
                   {"video": os.path.abspath(path), "fps": fps, "frames": records})
        print(f"{path} -> {video_path} and {len(records)} frame sets in {self.opt.out_dir}")
        return len(records)


def _display_available():
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"):
        return False
    try:
        cv2.namedWindow("hg3d 2D")
        return True
    except cv2.error:
        return False


def run_demo(argv=None):
    opt = parse_demo_opts(argv)
    images, videos = find_inputs(opt.demo, opt.recursive)
    demo = Demo(opt, output_names(images + videos, opt.demo))
    done = demo.run_images(images) if images else 0
    for video in videos:
        done += demo.run_video(video)
    if done == 0:
        raise UserError(f"no input under {opt.demo} could be processed")
    print(f"done: {done} pose set(s) written to {opt.out_dir}")
    return done
