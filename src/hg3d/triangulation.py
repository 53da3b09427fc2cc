"""Points in the world frame from their pixels in several calibrated views.

Per point (a joint of a person in a frame), every view that sees it (finite pixel, confidence > 0)
gives two linear equations in the homogeneous world point X: with (x, y) the undistorted
normalised image point and P = [R | t] the camera's pose, x P3 X - P1 X = 0 and y P3 X - P2 X = 0.
Each view's two rows are scaled by its confidence, and X is the right singular vector of the
stacked rows with the smallest singular value (the direct linear transform, DLT).

Outliers (a joint detected on the wrong person or limb in one view) are found RANSAC-style over
views: every pair of views that sees the point is a hypothesis (with a handful of cameras, all
pairs are fewer than any random sample would need); the views whose reprojection of the pair's
point lies within ``reproj_px`` pixels of their detection are its inliers. The hypothesis with
the most inliers (then the smallest mean reprojection error) wins, and the final point is the
weighted DLT over its inliers. A point with fewer than two inlier views is NaN, never guessed.
Everything is batched over points: one stacked SVD per hypothesis set.
"""

from itertools import combinations

import numpy as np

DEFAULT_REPROJ_PX = 15.0
# The DLT is solved in metres: rotation and translation entries of similar size condition it.
SOLVE_UNITS_PER_MM = 1e-3


def dlt(rows, use):
    """Homogeneous least squares: ``rows`` (..., V, 2, 4) each view's weighted equations, ``use``
    (..., V) bool the views to include -> points (..., 3) in solve units (NaN at infinity)."""
    weighted = rows * use[..., None, None]
    stacked = weighted.reshape(*weighted.shape[:-3], -1, 4)
    solution = np.linalg.svd(stacked)[2][..., -1, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return solution[..., :3] / solution[..., 3:]


def reprojection_errors(cameras, points_mm, points_px):
    """Pixel distance (..., V) between each view's projection of ``points_mm`` (..., 3) and its
    detection ``points_px`` (V, ..., 2) broadcast to the points; inf where it cannot be projected."""
    errors = [
        np.linalg.norm(camera.project(points_mm) - np.broadcast_to(px, points_mm.shape[:-1] + (2,)), axis=-1)
        for camera, px in zip(cameras, points_px)
    ]
    return np.nan_to_num(np.stack(errors, -1), nan=np.inf)


def triangulate_points(cameras, points_px, weights, reproj_px=DEFAULT_REPROJ_PX):
    """``points_px`` (V, N, 2) pixels of N points in V views, ``weights`` (V, N) their confidences.

    Returns ``(points (N, 3) mm, NaN where not triangulated; reprojection_px (N,) the mean error
    over the views used; used (N, V) bool)``.
    """
    points_px = np.asarray(points_px, np.float64)
    weights = np.nan_to_num(np.asarray(weights, np.float64), nan=0.0)
    num_views, num_points = weights.shape
    normalised = np.stack([camera.normalised(px) for camera, px in zip(cameras, points_px)])  # (V, N, 2)
    seen = (np.isfinite(normalised).all(-1) & (weights > 0)).T  # (N, V)
    poses = np.stack([np.concatenate([c.R, c.t[:, None] * SOLVE_UNITS_PER_MM], 1) for c in cameras])  # (V, 3, 4)
    xy = np.nan_to_num(normalised)[..., None]  # (V, N, 2, 1)
    rows = (xy * poses[:, None, 2:3, :] - poses[:, None, :2, :]) * weights[..., None, None]  # (V, N, 2, 4)
    rows = np.moveaxis(rows, 0, 1)  # (N, V, 2, 4)

    pairs = np.array(list(combinations(range(num_views), 2)), int).reshape(-1, 2)
    if not len(pairs) or not num_points:
        return np.full((num_points, 3), np.nan), np.full(num_points, np.nan), np.zeros((num_points, num_views), bool)
    pair_views = np.zeros((len(pairs), num_views), bool)
    pair_views[np.arange(len(pairs))[:, None], pairs] = True  # (H, V)
    valid = (seen[:, None, :] | ~pair_views).all(-1)  # (N, H): both views of the pair see the point
    hypotheses = dlt(rows[:, None], pair_views[None]) / SOLVE_UNITS_PER_MM  # (N, H, 3)
    errors = reprojection_errors(cameras, hypotheses, points_px[:, :, None])  # (N, H, V)
    inliers = seen[:, None, :] & (errors < reproj_px)
    count = inliers.sum(-1)
    mean_error = np.where(inliers, errors, 0.0).sum(-1) / np.maximum(count, 1)
    score = np.where(valid, count - mean_error / reproj_px, -np.inf)  # more inliers win, then less error
    best = np.argmax(score, 1)
    used = np.take_along_axis(inliers, best[:, None, None], 1)[:, 0]  # (N, V)
    used &= (used.sum(-1) >= 2)[:, None]

    points = dlt(rows, used) / SOLVE_UNITS_PER_MM
    final_errors = reprojection_errors(cameras, points, points_px)
    solved = used.any(-1)
    points[~solved] = np.nan
    with np.errstate(invalid="ignore"):
        reprojection = np.where(solved, np.where(used, final_errors, 0.0).sum(-1) / np.maximum(used.sum(-1), 1), np.nan)
    return points, reprojection, used


def triangulate(cameras, joints_2d, confidence=None, reproj_px=DEFAULT_REPROJ_PX):
    """World-frame joints from several views: ``joints_2d`` (V, ..., 2) px per view (NaN: not
    seen), ``confidence`` (V, ...) (None: all 1) -> ``(joints (..., 3) mm, info)``, NaN where
    fewer than two views agree; ``info``: ``reprojection_px`` (...) the mean reprojection error
    over the views used, ``views`` (..., V) bool which views were used."""
    joints_2d = np.asarray(joints_2d, np.float64)
    if joints_2d.shape[0] != len(cameras) or joints_2d.shape[-1] != 2:
        raise ValueError(f"joints_2d must be (V={len(cameras)}, ..., 2), got {joints_2d.shape}")
    shape = joints_2d.shape[1:-1]
    confidence = np.ones(joints_2d.shape[:-1]) if confidence is None else np.asarray(confidence, np.float64)
    points, error, used = triangulate_points(
        cameras, joints_2d.reshape(len(cameras), -1, 2), confidence.reshape(len(cameras), -1), reproj_px
    )
    info = {"reprojection_px": error.reshape(shape), "views": used.reshape(*shape, len(cameras))}
    return points.reshape(*shape, 3), info
