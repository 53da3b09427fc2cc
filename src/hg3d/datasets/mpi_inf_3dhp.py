"""MPI-INF-3DHP test set (Mehta et al., 3DV 2017), read as the official test-set zip unpacks.

Layout under ``<data_dir>/mpi_inf_3dhp/mpi_inf_3dhp_test_set/``::

    TS1 ... TS6/annot_data.mat                     MATLAB v7.3, i.e. HDF5 (read with h5py)
    TS1 ... TS6/imageSequence/img_000001.jpg ...   annotation row i is img_%06d.jpg of i + 1

The variables used, with the axis order h5py gives (MATLAB's reversed): ``univ_annot3``
(N, 1, 17, 3) camera-frame mm rescaled to the universal skeleton (the official ground truth),
``annot2`` (N, 1, 17, 2) full-frame pixels, ``valid_frame`` (N, 1) and ``activity_annotation``
(N, 1, ids 1..7). Joints are in the 3DHP-17 order (``joints.MPI3DHP_JOINTS``).

Only frames with ``valid_frame == 1`` are used (all of them; ``--full_test`` changes nothing). The
crop box is the rule used for 3DPW: centred on the extent of the frame's ``annot2`` joints, side =
its longer edge x 1.2, limited to the image (whose size is read from the image). Items carry the
2D heatmap targets (the PCK monitor) and no depth label: the test set is scored in millimetres by
``metrics.mpi_inf_3dhp``. Absent sequences are reported and left out; the results name those evaluated.
"""

import os

import numpy as np

from ..errors import UserError
from ..joints import MPI3DHP_PELVIS, MPI3DHP_TO_MPII, NUM_JOINTS
from ..metrics.mpi_inf_3dhp import ACTIVITIES
from .base import PoseDataset, read_image, require_path

SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
# name -> shape of one frame's entry (h5py axis order); valid_frame, checked first, sets N
VARIABLES = {"valid_frame": (1,), "univ_annot3": (1, 17, 3), "annot2": (1, 17, 2), "activity_annotation": (1,)}
BOX_MARGIN = 1.2  # as for 3DPW: room around the joints for the head, hands and feet
LAYOUT_HINT = "see docs/datasets.md (MPI-INF-3DHP test set) for the layout, or pass --data_dir"


def read_annotations(path):
    """The variables of one ``annot_data.mat`` as arrays, checked (one-line errors name the file)."""
    import h5py

    if not os.path.isfile(path):
        raise UserError(f"MPI-INF-3DHP annotation file {path} is missing ({LAYOUT_HINT})")
    try:
        with h5py.File(path, "r") as handle:
            missing = [name for name in VARIABLES if name not in handle]
            if missing:
                raise UserError(f"{path} lacks {', '.join(missing)} (not an MPI-INF-3DHP test annot_data.mat)")
            not_arrays = [name for name in VARIABLES if not isinstance(handle[name], h5py.Dataset)]
            if not_arrays:
                raise UserError(f"{path}: {', '.join(not_arrays)} is not a numeric array")
            data = {name: np.asarray(handle[name], np.float64) for name in VARIABLES}
    except (OSError, TypeError, ValueError) as exc:
        raise UserError(
            f"cannot read MPI-INF-3DHP annotation file {path} (expected MATLAB v7.3 / HDF5 with numeric arrays): {exc}"
        ) from None
    frames = len(data["valid_frame"]) if data["valid_frame"].ndim else 0
    for name, shape in VARIABLES.items():
        if data[name].shape != (frames,) + shape:
            raise UserError(
                f"{path}: {name} has shape {data[name].shape}, expected {(frames,) + shape} for {frames} frames"
            )
    return {name: array.reshape(frames, *VARIABLES[name][1:]) for name, array in data.items()}


class MPIInf3DHP(PoseDataset):
    name = "mpi_inf_3dhp"
    benchmark = "mpi_inf_3dhp"

    def __init__(self, opt, split):
        super().__init__(opt, split)
        if split == "train":
            raise UserError("MPI-INF-3DHP is a test set here: use --dataset mpi_inf_3dhp with --test")
        self.root = require_path(
            os.path.join(opt.data_dir, "mpi_inf_3dhp", "mpi_inf_3dhp_test_set"), "MPI-INF-3DHP test set", LAYOUT_HINT
        )
        present = [s for s in SEQUENCES if os.path.isdir(os.path.join(self.root, s))]
        if not present:
            raise UserError(
                f"no MPI-INF-3DHP test sequence (TS1 ... TS6) in {self.root} (if the "
                f"zip unpacked into a nested mpi_inf_3dhp_test_set/ folder, move that "
                f"folder up; {LAYOUT_HINT})"
            )
        absent = [s for s in SEQUENCES if s not in present]
        if absent:
            print(
                f"note: MPI-INF-3DHP sequences {', '.join(absent)} are absent from {self.root}; "
                f"evaluating {', '.join(present)} only"
            )
        self.sequences, parts = [], []
        for sequence in present:
            path = os.path.join(self.root, sequence, "annot_data.mat")
            data = read_annotations(path)
            rows = np.flatnonzero(data["valid_frame"] == 1)
            if not len(rows):
                print(f"note: MPI-INF-3DHP sequence {sequence} has no valid frame; left out")
                continue
            activity = data["activity_annotation"][rows].astype(int)
            if not np.isin(activity, np.arange(1, len(ACTIVITIES) + 1)).all():
                raise UserError(f"{path}: activity_annotation outside 1..7 in valid frames")
            gt = data["univ_annot3"][rows]
            root_relative = gt - gt[:, MPI3DHP_PELVIS : MPI3DHP_PELVIS + 1]
            parts.append((np.full(len(rows), len(self.sequences)), rows, root_relative, data["annot2"][rows], activity))
            self.sequences.append(sequence)
        if not parts:
            raise UserError(f"no valid frame in the MPI-INF-3DHP test set at {self.root}")
        self.sample_sequence, self.sample_row, self.gt_3d, self.joints_2d, self.activity = (
            np.concatenate(arrays) for arrays in zip(*parts)
        )
        for index in range(len(self)):
            path = self.image_path(index)
            if not os.path.isfile(path):
                raise UserError(f"image {path} (MPI-INF-3DHP {self.describe(index)}) is missing")

    def __len__(self):
        return len(self.sample_row)

    def describe(self, index):
        return f"{self.sequences[self.sample_sequence[index]]} frame {self.sample_row[index] + 1}"

    def image_path(self, index):
        """Row i of a sequence's annotations is its image img_%06d.jpg of i + 1."""
        return os.path.join(
            self.root,
            self.sequences[self.sample_sequence[index]],
            "imageSequence",
            f"img_{self.sample_row[index] + 1:06d}.jpg",
        )

    def __getitem__(self, index):
        image = read_image(self.image_path(index), f"MPI-INF-3DHP {self.describe(index)}")
        uv = self.joints_2d[index].astype(np.float32)
        low, high = uv.min(0), uv.max(0)
        center = (low + high) / 2
        box = self.crop_box(float((high - low).max()) * BOX_MARGIN, image)
        labelled = np.ones(NUM_JOINTS, bool)
        inp, target, pts, inside = self.make_item(image, center, box, 0, uv[MPI3DHP_TO_MPII], labelled)
        no_depth = np.zeros(NUM_JOINTS)
        return self.pack_crop(inp, target, pts, inside, no_depth, no_depth, center, box, index)

    def labels(self, index):
        """Per frame of ``index``: ``gt_3d`` (``univ_annot3`` minus the pelvis, 3DHP-17 mm), its
        ``sequence``, 1-based ``frame`` and ``activity``; the ``sequences`` evaluated and the
        ``--mpi_scale`` mode (``scale``)."""
        return {
            "gt_3d": self.gt_3d[index],
            "sequence": np.array(self.sequences)[self.sample_sequence[index]],
            "frame": self.sample_row[index] + 1,
            "activity": self.activity[index],
            "sequences": list(self.sequences),
            "scale": self.opt.mpi_scale,
        }
