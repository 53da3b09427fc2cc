"""Pose sequences, one HDF5 format: the input and the labels of the temporal model.

One group per sequence (the group's name is the sequence's name), frames consecutive at ``fps``:

- ``joints_2d`` (T, 16, 2): the frame model's 2D joints, image pixels, MPII-16 order;
- ``confidence`` (T, 16): their heatmap confidences;
- ``joints_3d`` (T, 17, 3): the frame model's 3D, mm, root-relative, camera axes, H36M-17 order;
- ``gt_3d`` (T, 17, 3), optional: the ground truth in the same units and axes;
- ``observed`` (T,) bool, optional: False where a frame's inputs were filled in by interpolation
  (the demo's tracks: frames where the person was missed, or dropped live);
- attributes ``fps``, ``width``, ``height`` (the image size, px), and where known ``subject``,
  ``action``, ``camera``; ``frame_step`` where the frames are every k-th of a video (``fps`` is
  then the video's divided by k); ``inputs``: where the three inputs come from, ``frame_model``
  (also when absent) or ``ground_truth`` (inputs derived from the labels: training adds noise).
"""

from dataclasses import dataclass

import numpy as np

from .errors import UserError
from .files import atomic_write
from .joints import NUM_H36M_JOINTS, NUM_JOINTS

REQUIRED_ATTRS = ("fps", "width", "height")
OPTIONAL_ATTRS = ("subject", "action", "camera", "frame_step", "inputs")
INPUT_KINDS = ("frame_model", "ground_truth")
GROUND_TRUTH_INPUTS = "ground_truth"


@dataclass
class Sequence:
    """One sequence of the format above (arrays as float32)."""

    name: str
    joints_2d: np.ndarray
    confidence: np.ndarray
    joints_3d: np.ndarray
    fps: float
    width: int
    height: int
    gt_3d: np.ndarray | None = None
    subject: str | None = None
    action: str | None = None
    camera: str | None = None
    frame_step: int | None = None
    inputs: str | None = None
    observed: np.ndarray | None = None

    @property
    def inputs_are_truth(self):
        """Whether the inputs were derived from the ground truth (training then adds noise to them)."""
        return self.inputs == GROUND_TRUTH_INPUTS

    def __len__(self):
        return len(self.joints_2d)

    def check(self, where):
        """A one-line ``UserError`` (naming ``where``) for arrays of the wrong shape or sizes out of range."""
        frames = len(self.joints_2d)
        shapes = {
            "joints_2d": (self.joints_2d, (frames, NUM_JOINTS, 2)),
            "confidence": (self.confidence, (frames, NUM_JOINTS)),
            "joints_3d": (self.joints_3d, (frames, NUM_H36M_JOINTS, 3)),
            "gt_3d": (self.gt_3d, (frames, NUM_H36M_JOINTS, 3)),
            "observed": (self.observed, (frames,)),
        }
        for key, (array, shape) in shapes.items():
            if array is not None and array.shape != shape:
                raise UserError(
                    f"{where}: '{key}' has shape {array.shape}, expected {shape} (T frames: joints_2d (T, 16, 2) "
                    f"px, confidence (T, 16), joints_3d and gt_3d (T, 17, 3) mm)"
                )
            if array is not None and not np.isfinite(array).all():
                raise UserError(f"{where}: '{key}' holds values that are not finite (NaN or inf)")
        if frames == 0:
            raise UserError(f"{where}: the sequence has no frames")
        if not (self.fps > 0 and self.width > 0 and self.height > 0):
            raise UserError(f"{where}: fps, width and height must be > 0, got {self.fps}, {self.width}, {self.height}")
        if self.inputs is not None and self.inputs not in INPUT_KINDS:
            raise UserError(f"{where}: attribute 'inputs' is {self.inputs!r}, expected one of {', '.join(INPUT_KINDS)}")


def write_sequences(path, sequences):
    """Write ``sequences`` (``Sequence`` list, names unique) to ``path`` atomically."""
    import h5py

    names = [s.name for s in sequences]
    if len(set(names)) != len(names):
        raise UserError(f"cannot write {path}: sequence names repeat")
    for seq in sequences:
        seq.check(f"sequence '{seq.name}'")

    def write(tmp):
        with h5py.File(tmp, "w") as handle:
            for seq in sequences:
                group = handle.create_group(seq.name)
                for key in ("joints_2d", "confidence", "joints_3d", "gt_3d"):
                    if getattr(seq, key) is not None:
                        group.create_dataset(key, data=np.asarray(getattr(seq, key), np.float32))
                if seq.observed is not None:
                    group.create_dataset("observed", data=np.asarray(seq.observed, bool))
                for key in REQUIRED_ATTRS + OPTIONAL_ATTRS:
                    if getattr(seq, key) is not None:
                        group.attrs[key] = getattr(seq, key)

    atomic_write(path, write)


def _attr(group, key):
    value = group.attrs.get(key)
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) else value


def read_sequences(path, flag="--sequences", need_gt=False):
    """The sequences of ``path`` in file order; one-line ``UserError`` (naming ``flag``) for a
    missing or unreadable file, a missing dataset or attribute, or a wrong shape. ``need_gt``:
    every sequence must have ``gt_3d`` (training and testing score against it)."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except FileNotFoundError:
        raise UserError(f"{flag} {path} does not exist (write one with hg3d-sample-data --sequences)") from None
    except OSError as exc:
        raise UserError(f"{flag} {path} is not a readable HDF5 file ({exc})") from None
    sequences = []
    with handle:
        for name, group in handle.items():
            where = f"{flag} {path}, sequence '{name}'"
            if not isinstance(group, h5py.Group):
                raise UserError(f"{where}: expected one group per sequence, found a dataset")
            missing = [k for k in ("joints_2d", "confidence", "joints_3d") if k not in group]
            missing += [k for k in REQUIRED_ATTRS if k not in group.attrs]
            if need_gt and "gt_3d" not in group:
                missing.append("gt_3d")
            if missing:
                raise UserError(f"{where} lacks {', '.join(missing)} (the format: docs/temporal.md)")
            seq = Sequence(
                name=name,
                **{k: np.asarray(group[k], np.float32) for k in ("joints_2d", "confidence", "joints_3d")},
                gt_3d=np.asarray(group["gt_3d"], np.float32) if "gt_3d" in group else None,
                observed=np.asarray(group["observed"], bool) if "observed" in group else None,
                **{k: _attr(group, k) for k in REQUIRED_ATTRS + OPTIONAL_ATTRS},
            )
            seq.check(where)
            sequences.append(seq)
    if not sequences:
        raise UserError(f"{flag} {path} holds no sequences")
    return sequences


def frame_model_sequences(videos, arrays):
    """The sequences of a ``--test`` run: one per video of ``videos`` (``(name, sample indices in
    frame order, Sequence attributes, corners)``, e.g. ``H36M.videos``), each frame's values taken
    from the run's per-sample ``arrays`` (those of preds.h5: ``index``, ``pred_2d`` px in the stored
    image, ``confidence``, ``pred_3d`` and ``gt_3d`` H36M-17 mm); ``corners`` (N, 2) px moves each
    frame's 2D from its stored image (a crop) into the video frame. Every sample of the videos must
    have been predicted."""
    index = np.asarray(arrays["index"])
    row = np.full(max(index.max(), *(samples.max() for _, samples, _, _ in videos)) + 1, -1)
    row[index] = np.arange(len(index))
    sequences = []
    for name, samples, attributes, corners in videos:
        rows = row[samples]
        if (rows < 0).any():
            raise ValueError(f"video {name}: {int((rows < 0).sum())} of its frames were not predicted")
        sequences.append(
            Sequence(
                name=name,
                joints_2d=(arrays["pred_2d"][rows] + np.asarray(corners)[:, None, :]).astype(arrays["pred_2d"].dtype),
                confidence=arrays["confidence"][rows],
                joints_3d=arrays["pred_3d"][rows],
                gt_3d=arrays["gt_3d"][rows],
                inputs="frame_model",
                **attributes,
            )
        )
    return sequences
