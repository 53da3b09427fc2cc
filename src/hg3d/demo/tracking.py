"""Following people across video frames: boxes matched to tracks by IoU, solved as an assignment
problem (``scipy.optimize.linear_sum_assignment``), so the best overall matching wins rather than
the greediest pair."""

import numpy as np
from scipy.optimize import linear_sum_assignment


def iou_matrix(boxes_a, boxes_b):
    """Intersection over union of every box of ``boxes_a`` (N, 4) with every one of ``boxes_b``
    (M, 4), both x, y, w, h -> (N, M)."""
    a = np.asarray(boxes_a, np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(-1, 4)
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.clip(high - low, 0, None).prod(-1)
    union = a[:, None, 2:].prod(-1) + b[None, :, 2:].prod(-1) - inter
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
    """

    def __init__(self, min_iou=0.3, max_missed=5):
        self.min_iou, self.max_missed = min_iou, max_missed
        self.tracks = {}  # id -> {"box": last box, "velocity": per frame, "missed": frames since}
        self.next_id = 1

    def update(self, boxes):
        """The track id of each box of this frame (a list, in the order of ``boxes``)."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        ids = list(self.tracks)
        assigned = [None] * len(boxes)
        if ids and len(boxes):
            iou = iou_matrix(boxes, [self.predicted(i) for i in ids])
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
                velocity = np.zeros(4)
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
