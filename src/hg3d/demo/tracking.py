"""Following people across video frames: boxes matched to tracks by IoU, solved as an assignment
problem (``scipy.optimize.linear_sum_assignment``), so the best overall matching wins rather than
the greediest pair (``Tracker``); and what a run keeps of each track (``TrackedPoses``): the frames
it was seen in, its 3D poses and its root in the camera frame, for the JSON's track list (with the
root's trajectory) and the BVH export."""

import numpy as np
from scipy.optimize import linear_sum_assignment


def boxes_array(boxes, dims=2):
    """Boxes as an (N, 2 * dims) float array: the low corner, then the size (x, y, w, h in an
    image; x, y, z and the three extents in space)."""
    return np.asarray(boxes, np.float64).reshape(-1, 2 * dims)


def iou_matrix(boxes_a, boxes_b, dims=2):
    """Intersection over union of every box of ``boxes_a`` (N, 2 * dims) with every one of
    ``boxes_b`` (M, 2 * dims) -> (N, M); ``dims`` 2: image boxes x, y, w, h; 3: boxes in space."""
    a, b = boxes_array(boxes_a, dims), boxes_array(boxes_b, dims)
    low = np.maximum(a[:, None, :dims], b[None, :, :dims])
    high = np.minimum(a[:, None, :dims] + a[:, None, dims:], b[None, :, :dims] + b[None, :, dims:])
    inter = np.clip(high - low, 0, None).prod(-1)
    union = a[:, None, dims:].prod(-1) + b[None, :, dims:].prod(-1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


class Tracker:
    """Track ids for the boxes of successive frames.

    Boxes and tracks are paired one-to-one so that the summed IoU of the pairs with IoU >=
    ``min_iou`` (with the track's predicted box) is the largest; pairs below ``min_iou`` are ruled
    out before solving. An unpaired box starts a new track (ids count up from 1 and are never
    reused). A track can be found again after up to ``max_missed`` frames in a row without a box;
    missed in ``max_missed + 1`` frames in a row, it has ended. The prediction
    moves a track's last box on at its velocity (constant motion, as SORT's Kalman filter assumes),
    so two people who cross keep their ids where the last boxes alone would swap them.
    ``dims``: 2 for image boxes (the demo), 3 for boxes in space (people triangulated from several
    cameras, whom no single image need show).
    """

    def __init__(self, min_iou=0.3, max_missed=5, dims=2):
        self.min_iou, self.max_missed, self.dims = min_iou, max_missed, dims
        self.tracks = {}  # id -> {"box": last box, "velocity": per frame, "missed": frames since}
        self.next_id = 1

    def update(self, boxes):
        """The track id of each box of this frame (a list, in the order of ``boxes``)."""
        boxes = boxes_array(boxes, self.dims)
        ids = list(self.tracks)
        assigned = [None] * len(boxes)
        if ids and len(boxes):
            iou = iou_matrix(boxes, [self.predicted(i) for i in ids], self.dims)
            allowed = iou >= self.min_iou
            # Pairs below min_iou count as nothing in the sum being maximised, so they cannot
            # outbid an allowed pair; any of them the solver still returns is dropped.
            rows, cols = linear_sum_assignment(-np.where(allowed, iou, 0.0))
            for r, c in zip(rows, cols):
                if allowed[r, c]:
                    assigned[r] = ids[c]
        for index, box in enumerate(boxes):
            track = self.tracks.get(assigned[index])
            if track is None:
                assigned[index] = self.next_id
                self.next_id += 1
                velocity = np.zeros_like(box)
            else:
                velocity = (box - track["box"]) / (track["missed"] + 1)
            self.tracks[assigned[index]] = {"box": box, "velocity": velocity, "missed": -1}
        for track_id in list(self.tracks):
            self.tracks[track_id]["missed"] += 1
            if self.tracks[track_id]["missed"] > self.max_missed:
                del self.tracks[track_id]
        return assigned

    def predicted(self, track_id):
        """Where a track's box is expected in the coming frame."""
        track = self.tracks[track_id]
        return track["box"] + track["velocity"] * (track["missed"] + 1)


def _root(person):
    """A person's root in the camera frame (3,) mm, NaN where not placed."""
    root = person.get("root_cam_mm")
    return np.full(3, np.nan) if root is None else np.asarray(root, np.float64)


class TrackedPoses:
    """Per track of a video: the frames it was seen in and, for frames with a 3D pose, the H36M-17
    joints and the camera-frame root in mm (NaN where not placed; smoothed with --smooth), with
    the video's ``fps``: what an animation export (BVH) reads, through ``arrays()`` or
    ``spans()``."""

    def __init__(self, fps):
        self.fps, self.tracks = fps, {}

    def add(self, frame, people):
        for person in people:
            track = self.tracks.setdefault(
                person["track_id"], {"frames": [], "frames_3d": [], "joints_3d": [], "roots": []}
            )
            track["frames"].append(frame)
            if person.get("joints_3d_h36m_mm") is not None:
                track["frames_3d"].append(frame)
                track["joints_3d"].append(np.asarray(person["joints_3d_h36m_mm"], np.float64))
                track["roots"].append(_root(person))

    def replace_3d(self, track_id, people):
        """Replace a track's 3D poses and roots by those of ``people``, one for each of its frames
        with a 3D pose, in order (``--temporal``'s refined poses, ``demo.temporal``)."""
        track = self.tracks[track_id]
        if len(people) != len(track["frames_3d"]):
            raise ValueError(f"track {track_id} has {len(track['frames_3d'])} 3D poses, got {len(people)}")
        track["joints_3d"] = [np.asarray(p["joints_3d_h36m_mm"], np.float64) for p in people]
        track["roots"] = [_root(p) for p in people]

    def arrays(self):
        """{track id: (frame indices (T,), H36M-17 joints (T, 17, 3) mm, roots (T, 3) mm)} for
        tracks with 3D poses."""
        return {
            tid: (np.array(t["frames_3d"]), np.stack(t["joints_3d"]), np.stack(t["roots"]))
            for tid, t in self.tracks.items()
            if t["joints_3d"]
        }

    def spans(self):
        """{track id: (first frame, (L, 17, 3) mm, roots (L, 3) mm)} over each track's own span,
        from its first to its last 3D pose, NaN where it has none: what ``bvh.export_tracks``
        reads. Memory grows with the tracks' lengths, not with the video's."""
        out = {}
        for tid, (frames, joints, roots) in self.arrays().items():
            poses = np.full((frames[-1] - frames[0] + 1, *joints.shape[1:]), np.nan)
            poses[frames - frames[0]] = joints
            placed = np.full((len(poses), 3), np.nan)
            placed[frames - frames[0]] = roots
            out[tid] = (int(frames[0]), poses, placed)
        return out

    def trajectory(self, track):
        """A track's root per frame with a 3D pose: [[frame, x, y, z] (mm, 1 decimal) or [frame,
        None, None, None] where not placed]."""
        return [
            [int(frame)] + [None if not np.isfinite(v) else round(float(v), 1) for v in root]
            for frame, root in zip(track["frames_3d"], track["roots"])
        ]

    def summary(self):
        return [
            {
                "track_id": tid,
                "first_frame": t["frames"][0],
                "last_frame": t["frames"][-1],
                "num_frames": len(t["frames"]),
                "root_cam_mm": self.trajectory(t),
            }
            for tid, t in self.tracks.items()
        ]
