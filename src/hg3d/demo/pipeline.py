"""The demo's pipelines: images (batched) and videos (tracked, optionally smoothed), from person
boxes (given, detected, or the whole image) to pictures, videos and JSON."""

import os
import sys

import cv2
import numpy as np
from progress.bar import Bar

from ..backends import OnnxRuntimeModel
from ..bvh import export_tracks
from ..errors import UserError
from ..evaluation import to_h36m_order
from ..files import atomic_write, imread_bgr, writable_dir, write_json
from ..inference import Estimator, box_outside
from . import records
from .detection import PersonDetector, resolve_weights
from .render import MAX_PANELS, PANEL_PX, draw_people_2d, draw_people_3d, fit_width
from .smoothing import SMOOTH_2D, SMOOTH_3D, OneEuroFilter
from .tracking import Tracker

POSE_BOX_PAD = 0.1  # between detections a person's box is its 2D joints' box, 10% padded each side


def pose_box(joints_2d):
    """x, y, w, h around 2D joints (N, 2), padded by ``POSE_BOX_PAD`` of its size on each side."""
    low, high = np.min(joints_2d, 0), np.max(joints_2d, 0)
    size = np.maximum(high - low, 1.0)
    return np.concatenate([low - POSE_BOX_PAD * size, size * (1 + 2 * POSE_BOX_PAD)])


class TrackedPoses:
    """Per track of a video: the frames it was seen in and, for frames with a 3D pose, the H36M-17
    joints in mm (smoothed with --smooth), with the video's ``fps``: what an animation export
    (BVH) reads, through ``arrays()``."""

    def __init__(self, fps):
        self.fps, self.tracks = fps, {}

    def add(self, frame, people):
        for person in people:
            track = self.tracks.setdefault(person["track_id"], {"frames": [], "frames_3d": [], "joints_3d": []})
            track["frames"].append(frame)
            if person.get("joints_3d_h36m_mm") is not None:
                track["frames_3d"].append(frame)
                track["joints_3d"].append(np.asarray(person["joints_3d_h36m_mm"], np.float64))

    def arrays(self):
        """{track id: (frame indices (T,), H36M-17 joints (T, 17, 3) mm)} for tracks with 3D poses."""
        return {
            tid: (np.array(t["frames_3d"]), np.stack(t["joints_3d"]))
            for tid, t in self.tracks.items()
            if t["joints_3d"]
        }

    def per_frame(self, num_frames):
        """{track id: (num_frames, 17, 3) mm} with NaN where the track has no 3D pose: what
        ``bvh.export_tracks`` reads (a missed frame repeats the previous pose there)."""
        out = {}
        for tid, (frames, joints) in self.arrays().items():
            poses = np.full((num_frames, *joints.shape[1:]), np.nan)
            poses[frames] = joints
            out[tid] = poses
        return out

    def summary(self):
        return [
            {
                "track_id": tid,
                "first_frame": t["frames"][0],
                "last_frame": t["frames"][-1],
                "num_frames": len(t["frames"]),
            }
            for tid, t in self.tracks.items()
        ]


class TrackSmoother:
    """One-Euro filters per track on 2D (px) and 3D (mm) joints; H36M-17 is re-derived from the
    smoothed MPII-16 3D pose so both orders agree."""

    def __init__(self):
        self.filters = {}

    def __call__(self, person, time):
        smooth_2d, smooth_3d = self.filters.setdefault(
            person["track_id"], (OneEuroFilter(**SMOOTH_2D), OneEuroFilter(**SMOOTH_3D))
        )
        person["joints_2d"] = smooth_2d(person["joints_2d"], time)
        if person.get("joints_3d_mm") is not None:
            person["joints_3d_mm"] = smooth_3d(person["joints_3d_mm"], time)
            person["joints_3d_h36m_mm"] = to_h36m_order(person["joints_3d_mm"])


def write_picture(path, image):
    def write(tmp):
        if not cv2.imwrite(tmp, image):
            raise UserError(f"cannot write {path}")

    atomic_write(path, write)


class Demo:
    """Runs the model (and the detector when needed) over the inputs and writes the outputs."""

    def __init__(self, opt, names, need_detector, log=print):
        self.opt, self.names = opt, names  # names: output stem of each input path
        if opt.backend == "onnxruntime":
            model = OnnxRuntimeModel.from_checkpoint(
                opt.load_model, opt.arch, opt.task, opt.input_w, opt.input_h, log=log
            )
            self.estimator = Estimator(model, opt.input_w, opt.input_h, opt.device, opt.flip_test)
        else:
            self.estimator = Estimator.from_checkpoint(
                opt.load_model, opt.arch, opt.task, opt.input_w, opt.input_h, opt.device, opt.flip_test
            )
        self.detector = None
        if need_detector:
            name, state = resolve_weights(opt.detector, opt.detector_weights, log, device=opt.device)
            if name:
                self.detector = PersonDetector(
                    name, state, opt.device, opt.det_thresh, opt.max_people, opt.min_box, opt.det_size
                )
        self.show = opt.show and _display_available()
        if opt.show and not self.show:
            log("notice: --show needs a display and an OpenCV with windows; writing files only")
        self.tracked = {}  # video path -> TrackedPoses
        writable_dir(opt.out_dir, "--out_dir")

    def detector_label(self, given):
        return "given boxes" if given is not None else (self.detector.name if self.detector else "none")

    def find_people(self, images, given):
        """Per image (boxes or None for the whole image, scores, source), from the given boxes,
        the detector (all images without given boxes at once) or the whole image."""
        to_detect = [i for i, g in enumerate(given) if g is None] if self.detector else []
        detected = dict(zip(to_detect, self.detector([images[i] for i in to_detect]))) if to_detect else {}
        found = []
        for i, boxes in enumerate(given):
            if boxes is not None:
                found.append((boxes, [None] * len(boxes), "given"))
            elif i in detected:
                found.append((list(detected[i][0]), list(detected[i][1]), "detector"))
            else:
                found.append((None, [None], "whole image"))
        return found

    def estimate(self, images, found):
        """People (dicts as ``Estimator.predict`` gives, plus index, score, box_source) per image."""
        people = self.estimator.predict_batch(images, [boxes for boxes, _, _ in found])
        for persons, (_, scores, source) in zip(people, found):
            for index, (person, score) in enumerate(zip(persons, scores)):
                person.update(index=index, score=score, box_source=source)
        return people

    def write_pictures(self, out, image, people):
        """``out``_2d.png and (when someone has a 3D pose) ``out``_3d.png; returns the 2D overlay."""
        overlay = draw_people_2d(image, people)
        write_picture(out + "_2d.png", overlay)
        if has_3d(people):
            write_picture(out + "_3d.png", draw_people_3d(people))
        return overlay

    def display(self, overlay):
        if self.show:
            cv2.imshow("hg3d 2D", overlay)
            cv2.waitKey(1)

    def read_image(self, path, single):
        """(image, given boxes), or None to skip it (with a note); errors for a single input."""
        image = imread_bgr(path)
        problem = None if image is not None else "cannot be read (corrupt or unsupported format)"
        given = image_boxes(box_entry(self.opt, path), path)
        if image is not None and given is not None:
            problem = next((p for p in (box_outside(b, image.shape) for b in given) if p), None)
            problem = problem and f"{problem} (check --bbox/--bboxes)"
        if problem and single:
            raise UserError(f"image {path} {problem}" if image is None else f"{path}: {problem}")
        if problem:
            print(f"skipping {path}: {problem}")
            return None
        return image, given

    def run_images(self, paths):
        done, bar = 0, Bar("images", max=len(paths)) if len(paths) > 1 else None
        for start in range(0, len(paths), self.opt.batch_size):
            chunk = paths[start : start + self.opt.batch_size]
            batch = [(path, *item) for path in chunk if (item := self.read_image(path, len(paths) == 1)) is not None]
            if batch:
                images, given = [b[1] for b in batch], [b[2] for b in batch]
                people = self.estimate(images, self.find_people(images, given))
                for (path, image, boxes), persons in zip(batch, people):
                    out = os.path.join(self.opt.out_dir, self.names[path])
                    self.display(self.write_pictures(out, image, persons))
                    write_json(out + ".json", records.image_record(self.opt, self.detector_label(boxes), path, persons))
                    kinds = "_2d.png,_3d.png,.json" if has_3d(persons) else "_2d.png,.json"
                    print(f"{path} -> {out}{{{kinds}}}: {len(persons)} person(s)")
                    done += 1
            if bar:
                bar.next(len(chunk))
        if bar:
            bar.finish()
        return done

    def frame_boxes(self, entry, frame_index, previous):
        """Boxes of a video frame: given (per frame or for all), else the previous frame's pose
        boxes between detections (--det_every), else None (detect, or the whole image)."""
        if entry is not None:
            depth, boxes = entry
            if depth == 3:
                return boxes[frame_index] if frame_index < len(boxes) else []
            return all_boxes(entry)
        if self.detector and frame_index % self.opt.det_every and previous:
            return [pose_box(p["joints_2d"]) for p in previous]
        return None

    def run_video(self, path):
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            print(f"skipping {path}: cannot be opened as a video")
            return 0
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
        stem, out_dir = self.names[path], self.opt.out_dir
        entry = box_entry(self.opt, path)
        tracker, smoother, tracked = Tracker(), TrackSmoother() if self.opt.smooth else None, TrackedPoses(fps)
        panels_3d = 1 if entry is None and not self.detector else min(MAX_PANELS, self.max_people(entry))
        writers, frames, previous, completed = {}, [], None, False
        bar = Bar(os.path.basename(path), max=max(total, 1))
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                index = len(frames)
                boxes = self.frame_boxes(entry, index, previous)
                if entry is not None and index == 0:  # every frame has the first one's size
                    problem = next((p for p in (box_outside(b, frame.shape) for b in all_boxes(entry)) if p), None)
                    if problem:
                        print(f"skipping {path}: {problem} (check --bbox/--bboxes)")
                        return 0
                found = self.find_people([frame], [boxes])[0]
                if boxes is not None and entry is None:  # boxes carried over from the pose
                    found = (found[0], [None] * len(found[0]), "previous pose")
                people = self.estimate([frame], [found])[0]
                for person, track_id in zip(people, tracker.update([p["box"] for p in people])):
                    person["track_id"] = track_id
                    if smoother:
                        smoother(person, index / fps)
                tracked.add(index, people)
                frames.append((index, people))
                previous = people
                self.write_frame(writers, stem, index, frame, people, fps, panels_3d)
                bar.next()
            completed = True
        finally:
            capture.release()
            bar.finish()
            for writer, tmp, final in writers.values():  # an interrupted run keeps the old videos
                writer.release()
                if completed:
                    os.replace(tmp, final)
                elif os.path.exists(tmp):
                    os.remove(tmp)
        if not frames:
            print(f"skipping {path}: no frame could be read")
            return 0
        self.tracked[path] = tracked
        detector = self.detector_label(entry)
        write_json(
            os.path.join(out_dir, stem + ".json"), records.video_record(self.opt, detector, path, fps, frames, tracked)
        )
        print(
            f"{path} -> {os.path.join(out_dir, stem)}{{_2d.mp4,_3d.mp4,.json}}: {len(frames)} frames, "
            f"{len(tracked.tracks)} track(s)"
        )
        if self.opt.bvh:
            _, messages = export_tracks(out_dir, stem, tracked.per_frame(len(frames)), fps, self.opt.bvh_min_frames)
            for message in messages or [f"{path}: no track with a 3D pose, no BVH written"]:
                print(f"bvh: {message}")
        return len(frames)

    def max_people(self, entry):
        if entry is None:
            return self.opt.max_people
        depth, boxes = entry
        return 1 if depth == 1 else max([len(boxes)] if depth == 2 else [len(b) for b in boxes] + [1])

    def write_frame(self, writers, stem, index, frame, people, fps, panels_3d):
        """Append the frame's pictures to ``<stem>_2d.mp4`` / ``<stem>_3d.mp4`` (and PNGs with
        --save_frames)."""
        overlay = draw_people_2d(frame, people)
        pictures = {"2d": overlay}
        if self.opt.task == "human3d":
            pictures["3d"] = fit_width(draw_people_3d(people), panels_3d * PANEL_PX)
        for kind, picture in pictures.items():
            if kind not in writers:
                final = os.path.join(self.opt.out_dir, f"{stem}_{kind}.mp4")
                tmp = os.path.join(self.opt.out_dir, f".tmp-{stem}_{kind}.mp4")
                size = (picture.shape[1], picture.shape[0])
                writers[kind] = (cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, size), tmp, final)
            writers[kind][0].write(picture)
            if self.opt.save_frames:
                write_picture(os.path.join(self.opt.out_dir, f"{stem}_{index:05d}_{kind}.png"), picture)
        self.display(overlay)


def box_entry(opt, path):
    """(depth, boxes) given for ``path`` by --bboxes (by file name or path), else --bbox, else None."""
    return opt.bboxes.get(os.path.basename(path), opt.bboxes.get(path, opt.bbox))


def all_boxes(entry):
    """Every box of a --bbox/--bboxes entry, whatever its depth."""
    depth, boxes = entry
    return [boxes] if depth == 1 else boxes if depth == 2 else [b for frame in boxes for b in frame]


def has_3d(people):
    return any(p.get("joints_3d_mm") is not None for p in people)


def image_boxes(entry, path):
    """The boxes given for an image (a list), or None when none were given."""
    if entry is None:
        return None
    if entry[0] == 3:
        raise UserError(
            f"--bboxes entry of {path}: a list of box lists per frame is for videos; "
            f"give an image [x, y, w, h] or [[x, y, w, h], ...]"
        )
    return all_boxes(entry)


def _display_available():
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"):
        return False
    try:
        cv2.namedWindow("hg3d 2D")
        return True
    except cv2.error:
        return False
