"""Human3.6M as distributed for the ECCV 2018 PoseTrack challenge, with the msra cache pickles.

Layout under ``<data_dir>/h36m/``::

    ECCV18_Challenge/{Train,Val}/IMG/00001.jpg ...            (sample i is IMG/%05d.jpg of i + 1)
    msra_cache/HM36_eccv_challenge_{Train,Val}_cache/
        HM36_eccv_challenge_{Train,Val}_w288xh384_keypoint_jnt_bbox_db.pkl

Each pickle is a list of dicts with ``center_x, center_y, width, height`` (person box, px),
``joints_3d`` (18, 3: u, v in px and depth relative to the root in mm) and ``joints_3d_relative``
(18, 3: root-relative camera coordinates in mm); the first 17 joints are H36M-17. Caches made
from the official release (``hg3d-prepare-h36m``) add ``subject``, ``sequence``, ``action``,
``camera`` and ``frame``; with them the test reports per-action figures. Their newer caches also
hold ``root_cam`` (3: the pelvis in the camera frame, mm) and ``intrinsics`` (4: fx, fy, cx, cy in
px of the stored image), which ``camera_labels`` hands out and ``labels`` passes to the metrics (MRPE);
items stay the same for every dataset. The sample data (``hg3d.tools.sample_data``) holds them too.
With ``--multiview`` the test subjects' entries also give the release's calibration of their camera
and the world-frame ground truth (``CALIBRATION_SHAPES``), and the test is taken in whole frames.
"""

import os
from collections import defaultdict

import numpy as np

from ..calibration import LENS_FIELDS
from ..errors import UserError
from ..joints import H36M_TO_MPII
from ..metrics.h36m import LABEL_KEYS
from ..metrics.multiview import CALIBRATION_KEYS
from ..safe_pickle import load_pickle
from .base import PoseDataset, read_image, require_path
from .validation import EntryChecker

SPLIT_DIRS = {"train": "Train", "val": "Val"}
REQUIRED_KEYS = ("center_x", "center_y", "width", "height", "joints_3d", "joints_3d_relative")
JOINT_SHAPES = ((18, 3), (17, 3))  # the caches hold 18 joints; the first 17 (H36M-17) are used
CAMERA_SHAPES = {"root_cam": (3,), "intrinsics": (4,)}  # where the person stands, and the camera
# The release's calibration of each view and the world-frame ground truth (--multiview).
CALIBRATION_SHAPES = dict(zip(CALIBRATION_KEYS, ((3, 3), (3,), (len(LENS_FIELDS),), (17, 3))))
# Which video and frame an entry comes from: what groups the views of one frame (--multiview) and
# the frames of one video (--save_sequences).
VIEW_KEYS = ("subject", "sequence", "camera", "frame")
VIDEO_FPS = 50.0  # the official release's videos; a converted cache keeps every step-th frame


def check_annotations(entries, path):
    """Every cache entry's box and joints, checked at once (one-line error naming a bad entry)."""
    checker = EntryChecker(entries, path, "a msra cache file", REQUIRED_KEYS, name=lambda i: f"{i + 1:05d}.jpg")
    checker.numbers("center_x").numbers("center_y")
    checker.numbers("width", positive=True).numbers("height", positive=True)
    checker.numbers("joints_3d", JOINT_SHAPES).numbers("joints_3d_relative", JOINT_SHAPES)
    if has_camera_labels(entries):  # then every entry needs them
        checker = EntryChecker(entries, path, "a msra cache file", REQUIRED_KEYS + tuple(CAMERA_SHAPES), checker.name)
        for key, shape in CAMERA_SHAPES.items():
            checker.numbers(key, (shape,))
    return entries


def has_camera_labels(entries):
    """Whether a cache holds the camera-frame root and intrinsics (judged by its first entry)."""
    return all(key in entries[0] for key in CAMERA_SHAPES)


class H36M(PoseDataset):
    name = "h36m"
    benchmark = "h36m"

    def __init__(self, opt, split):
        super().__init__(opt, split)
        if opt.test and opt.test_split == "train":  # --test on the training subjects (no augmentation)
            self.split = "train"
        split_dir = SPLIT_DIRS["train" if self.split == "train" else "val"]
        root = os.path.join(opt.data_dir, "h36m")
        self.image_dir = require_path(
            os.path.join(root, "ECCV18_Challenge", split_dir, "IMG"), f"Human3.6M {split_dir} images"
        )
        cache = os.path.join(
            root,
            "msra_cache",
            f"HM36_eccv_challenge_{split_dir}_cache",
            f"HM36_eccv_challenge_{split_dir}_w288xh384_keypoint_jnt_bbox_db.pkl",
        )
        require_path(cache, f"Human3.6M {split_dir} annotations")
        annotations = load_pickle(cache, "Human3.6M annotation file")
        self.annotations = check_annotations(annotations, cache)
        step = 1 if (self.is_train or opt.full_test) else 10
        self.multiview = getattr(opt, "multiview", False)
        if self.multiview:
            self.calibration, self.frame_of = multiview_frames(self.annotations, cache)
            self.indices = np.flatnonzero(self.frame_of % step == 0)  # every view of the frames kept
        else:
            self.indices = np.arange(0, len(annotations), step)

    def __len__(self):
        return len(self.indices)

    def image_path(self, sample):
        return os.path.join(self.image_dir, f"{sample + 1:05d}.jpg")

    def __getitem__(self, index):
        sample = int(self.indices[index])
        ann = self.annotations[sample]
        image = read_image(self.image_path(sample), f"Human3.6M {self.split} sample {sample}")
        gt_3d = np.array(ann["joints_3d_relative"], np.float32)[:17]
        joints = np.array(ann["joints_3d"], np.float32)[H36M_TO_MPII]
        center = np.array([ann["center_x"], ann["center_y"]], np.float32)
        return self.make_3d_item(image, center, max(ann["width"], ann["height"]), joints, gt_3d, sample)

    def labels(self, index):
        """``gt_3d`` (H36M-17, mm, root-relative) of the cache entries ``index``; with caches made
        from the official release also their ``subject``, ``action``, ``camera``, ``frame`` (and
        ``sequence``), with camera labels their ``root_cam`` and ``intrinsics``
        (``camera_labels``), and with ``--multiview`` their ``CALIBRATION_SHAPES`` (NaN where an
        entry has none)."""
        entries = [self.annotations[i] for i in index]
        gt_3d = np.array([e["joints_3d_relative"] for e in entries], np.float32).reshape(len(entries), -1, 3)
        labels = {"gt_3d": gt_3d[:, :17]}
        if all(k in self.annotations[0] for k in LABEL_KEYS):
            keys = [*LABEL_KEYS, *(["sequence"] if "sequence" in self.annotations[0] else [])]
            labels.update({k: np.array([e[k] for e in entries]) for k in keys})
        labels.update(self.camera_labels(index) or {})
        if self.multiview:
            labels.update({key: values[np.asarray(index, int)] for key, values in self.calibration.items()})
        return labels

    def camera_labels(self, samples):
        """``root_cam`` (N, 3) mm and ``intrinsics`` (N, 4) of the given samples (``result["index"]``),
        or None when the cache has no camera labels (the ECCV18 challenge's caches)."""
        if not has_camera_labels(self.annotations):
            return None
        return {
            key: np.array([self.annotations[int(i)][key] for i in samples], np.float64).reshape(-1, *shape)
            for key, shape in CAMERA_SHAPES.items()
        }

    def videos(self):
        """The cache's videos for ``--save_sequences``: ``(name, samples in frame order, attributes,
        corners)`` each, the attributes those of ``sequences.Sequence`` (``fps`` the video's divided
        by the frame step the cache was converted with), ``corners`` (N, 2) px where each sample's
        stored image lies in its video frame (a ``--crop`` cache's crop offsets, else zeros).
        One-line errors for caches that cannot give sequences: no video labels (the ECCV 2018
        challenge's), crops without their frame's size, unevenly spaced frames."""
        entries = self.annotations
        if not all(key in entries[0] for key in VIEW_KEYS):
            raise UserError(
                "--save_sequences needs each image's video and frame (subject, sequence, camera, frame), which "
                "the ECCV 2018 challenge caches lack: convert the official release with hg3d-prepare-h36m "
                "(docs/datasets.md), e.g. with --test_step 1 for every frame"
            )
        cropped = "crop_offset" in entries[0]
        if cropped and "frame_size" not in entries[0]:
            raise UserError(
                "--save_sequences needs each crop's frame size, which caches made with --crop before it was kept "
                "lack: run hg3d-prepare-h36m again with the same flags (it converts those videos again)"
            )
        by_video = defaultdict(list)
        for sample, entry in enumerate(entries):
            by_video[(entry["subject"], entry["sequence"], entry["camera"])].append(sample)
        frames = np.array([entry["frame"] for entry in entries])
        videos = []
        for (subject, sequence, camera), samples in sorted(by_video.items()):
            samples = np.array(samples)[np.argsort(frames[samples], kind="stable")]
            videos.append((f"S{subject}_{sequence}.{camera}", samples))
        steps = np.unique(np.concatenate([np.diff(frames[samples]) for _, samples in videos]))
        if len(steps) != 1 or steps[0] < 1:
            raise UserError(
                f"--save_sequences: the frames of the cache's videos are not evenly spaced (gaps of "
                f"{', '.join(map(str, steps)) or 'none: one frame per video'} frames): convert them with one "
                f"--test_step / --train_step"
            )
        step = int(steps[0])
        corners = np.array([entry["crop_offset"] if cropped else (0, 0) for entry in entries], np.float64)
        return [(name, samples, self.video_attributes(samples, step), corners[samples]) for name, samples in videos]

    def video_attributes(self, samples, step):
        """A video's ``Sequence`` attributes; the frame size is the one a crop was cut from, else
        the first image's."""
        entry = self.annotations[samples[0]]
        if "frame_size" in entry:
            width, height = entry["frame_size"]
        else:
            image = read_image(self.image_path(samples[0]), f"Human3.6M {self.split} sample {samples[0]}")
            height, width = image.shape[:2]
        return {
            "fps": VIDEO_FPS / step,
            "frame_step": step,
            "width": width,
            "height": height,
            "subject": f"S{entry['subject']}",
            "action": entry["action"],
            "camera": str(entry["camera"]),
        }


def multiview_frames(entries, path):
    """For ``--multiview``: the entries' calibration labels ({key: (N, ...)}, NaN where an entry
    has none) and each entry's frame number (0, 1, ... over the distinct subject, sequence and
    frame index, in the order they first appear). One line when the cache cannot give a multi-view
    sample."""
    if not all(key in entries[0] for key in VIEW_KEYS):
        raise UserError(
            f"--multiview needs Human3.6M converted from the official release (subject, sequence, camera and frame "
            f"of every image); {path} has none (the ECCV18 challenge's?): convert the release with "
            f"hg3d-prepare-h36m"
        )
    calibrated = np.array([all(key in entry for key in CALIBRATION_KEYS) for entry in entries])
    if not calibrated.any():
        raise UserError(
            f"--multiview: {path} holds no camera calibration (converted by an older prepare_h36m, or without the "
            f"release's MyPoseFeatures/D3_Positions): run hg3d-prepare-h36m again"
        )
    labels = {}
    for key, shape in CALIBRATION_SHAPES.items():
        try:
            values = np.array([entry[key] for entry in entries if key in entry], np.float64).reshape(-1, *shape)
        except ValueError:
            values = np.zeros((0, *shape))
        if len(values) != calibrated.sum() or not np.isfinite(values).all():
            raise UserError(f"{path}: {key} is not {shape} finite numbers in some entry: run hg3d-prepare-h36m again")
        labels[key] = np.full((len(entries), *shape), np.nan)
        labels[key][calibrated] = values
    keys = np.array([f"{e['subject']}|{e['sequence']}|{e['frame']}" for e in entries])
    _, first, frame_of = np.unique(keys, return_index=True, return_inverse=True)
    frame_of = np.argsort(np.argsort(first))[frame_of.reshape(-1)]  # numbered in the cache's order
    views = np.bincount(frame_of[calibrated], minlength=frame_of.max() + 1)
    if views.max() < 2:
        raise UserError(
            f"--multiview: no frame in {path} is seen by two calibrated cameras (each sequence converted from one "
            f"camera only?): convert every camera's video of the test subjects"
        )
    return labels, frame_of
