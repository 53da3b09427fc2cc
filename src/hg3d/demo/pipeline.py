"""The demo's runs: images (batched) and videos (one ``PoseTracker`` per video), from person
boxes (given, detected, or the whole image) to pictures, videos, JSON and BVH files."""

import os
import sys

import cv2

from ..backends import OnnxRuntimeModel
from ..camera import choose_intrinsics
from ..errors import UserError
from ..files import imread_bgr, writable_dir, write_json
from ..inference import Estimator, box_outside
from ..progress import ProgressBar
from ..viewer import write_viewer
from ..visualize import MAX_PANELS
from . import records
from .detection import PersonDetector, resolve_weights
from .inputs import all_boxes, box_entry, frame_boxes, image_boxes, most_boxes
from .pose_tracker import PoseTracker, find_people, label_people
from .reader import VideoReader
from .tracks import TrackedPoses
from .writers import VideoPictures, has_3d, write_image_pictures, write_track_bvhs


class Demo:
    """Runs the model (and the detector when needed) over the inputs and writes the outputs."""

    def __init__(self, opt, names, need_detector, log=print):
        self.opt, self.names = opt, names  # names: output stem of each input path
        settings = {"flip_test": opt.flip_test, "bone_sum_mm": opt.bone_sum_mm}
        if opt.backend == "onnxruntime":
            model = OnnxRuntimeModel.from_checkpoint(
                opt.load_model, opt.arch, opt.task, opt.input_w, opt.input_h, log=log
            )
            self.estimator = Estimator(model, opt.input_w, opt.input_h, opt.device, **settings)
        else:
            self.estimator = Estimator.from_checkpoint(
                opt.load_model, opt.arch, opt.task, opt.input_w, opt.input_h, opt.device, **settings
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

    def intrinsics(self, path, shape):
        """The camera of an image or video (``camera.choose_intrinsics``): --intrinsics, else the
        photo's EXIF (not with --no_exif; videos have none), else --fov."""
        opt = self.opt
        if opt.camera_file is not None:
            return opt.camera_file
        return choose_intrinsics(shape[1], shape[0], image_path=path, use_exif=not opt.no_exif, fov_deg=opt.fov)

    def run_images(self, paths):
        done, bar = 0, ProgressBar("images", len(paths)) if len(paths) > 1 else None
        for start in range(0, len(paths), self.opt.batch_size):
            chunk = paths[start : start + self.opt.batch_size]
            batch = [(path, *item) for path in chunk if (item := self.read_image(path, len(paths) == 1)) is not None]
            if batch:
                done += self.write_images(batch)
            if bar:
                bar.advance(start + len(chunk) - 1)
        if bar:
            bar.finish()
        return done

    def write_images(self, batch):
        """People of a batch of (path, image, given boxes), all crops through the network at once,
        and each image's pictures and JSON."""
        images, given = [b[1] for b in batch], [b[2] for b in batch]
        found = find_people(self.detector, images, given)
        cameras = [self.intrinsics(path, image.shape) for path, image, _ in batch]
        people = self.estimator.predict_batch(images, [boxes for boxes, _, _ in found], cameras)
        for (path, image, boxes), persons, (_, scores, source), camera in zip(batch, people, found, cameras):
            label_people(persons, scores, source)
            out = os.path.join(self.opt.out_dir, self.names[path])
            self.display(write_image_pictures(out, image, persons, camera))
            record = records.image_record(self.opt, self.detector_label(boxes), path, persons, camera)
            pictures = ["_2d.png", "_3d.png"] if has_3d(persons) else ["_2d.png"]
            kinds = ",".join(pictures + self.write_record(out, record))
            print(f"{path} -> {out}{{{kinds}}}: {len(persons)} person(s)")
        return len(batch)

    def run_video(self, path):
        reader = VideoReader(path)
        if not reader.opened:
            print(f"skipping {path}: cannot be opened as a video")
            return 0
        entry = box_entry(self.opt, path)
        frames, tracked, camera = self.track_video(path, reader, entry)
        if not frames:
            if frames is not None:
                print(f"skipping {path}: no frame could be read")
            return 0
        self.tracked[path] = tracked
        self.write_video_results(path, reader, entry, frames, camera)
        return len(frames)

    def track_video(self, path, reader, entry):
        """(index, time_s, people) of every frame (None when the video is skipped: a given box
        misses its frames), the TrackedPoses and the camera (chosen on the first frame, None
        before it); the pictures are written on the way."""
        opt = self.opt
        tracker = PoseTracker(self.estimator, self.detector, opt.det_every, opt.smooth_settings, reader.fps)
        tracked = TrackedPoses(reader.fps)
        frames, pictures = [], None
        bar = ProgressBar(os.path.basename(path), max(reader.frames_expected or 0, 1))
        try:
            for index, (frame, time_s) in enumerate(reader.frames()):
                if index == 0:
                    tracker.intrinsics = self.intrinsics(path, frame.shape)
                    if (pictures := self.open_pictures(path, entry, frame.shape, reader.fps)) is None:
                        return None, tracked, tracker.intrinsics
                people = tracker.step(frame, frame_boxes(entry, index), time_s)
                tracked.add(index, people)
                frames.append((index, time_s, people))
                self.display(pictures.write(index, frame, people, tracker.intrinsics))
                bar.advance(index)
            if pictures:
                pictures.close(completed=True)
                pictures = None
        finally:
            bar.finish()
            if pictures:  # an interrupted run keeps the old videos
                pictures.close(completed=False)
        return frames, tracked, tracker.intrinsics

    def open_pictures(self, path, entry, frame_shape, fps):
        """The video's VideoPictures, opened before its first frame is processed; None (with a
        note) when the boxes given for it miss its frames (every frame has the first one's size)."""
        problem = entry and next((p for p in (box_outside(b, frame_shape) for b in all_boxes(entry)) if p), None)
        if problem:
            print(f"skipping {path}: {problem} (check --bbox/--bboxes)")
            return None
        opt = self.opt
        panels = 1 if entry is None and not self.detector else min(MAX_PANELS, self.most_people(entry))
        return VideoPictures(
            opt.out_dir, self.names[path], fps, frame_shape, panels, opt.task == "human3d", opt.save_frames
        )

    def write_video_results(self, path, reader, entry, frames, camera):
        stem, out_dir, tracked = self.names[path], self.opt.out_dir, self.tracked[path]
        out = os.path.join(out_dir, stem)
        record = records.video_record(self.opt, self.detector_label(entry), path, reader, frames, tracked, camera)
        kinds = ",".join(["_2d.mp4", "_3d.mp4", *self.write_record(out, record)])
        print(f"{path} -> {out}{{{kinds}}}: {len(frames)} frames, {len(tracked.tracks)} track(s)")
        if reader.truncated():
            print(
                f"notice: {path}: decoding stopped after {reader.frames_read} of the {reader.frames_expected} "
                f"frames the file announces (it may be cut short or damaged)"
            )
        if self.opt.bvh:
            messages = write_track_bvhs(out_dir, stem, tracked, self.opt.bvh_min_frames, self.opt.bvh_root)
            for message in messages or [f"{path}: no track with a 3D pose, no BVH written"]:
                print(f"bvh: {message}")

    def write_record(self, out, record):
        """``out``.json and, with --html, the viewer ``out``.html (a video's playing ``out``_2d.mp4);
        returns the suffixes written."""
        write_json(out + ".json", record)
        if not self.opt.html:
            return [".json"]
        write_viewer(record, out + ".html", out + "_2d.mp4" if "frames" in record else None)
        return [".json", ".html"]

    def most_people(self, entry):
        return self.opt.max_people if entry is None else most_boxes(entry)


def _display_available():
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"):
        return False
    try:
        cv2.namedWindow("hg3d 2D")
        return True
    except cv2.error:
        return False
