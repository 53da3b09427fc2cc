"""Synthetic motion for the temporal model: the sample skeleton moving smoothly, seen by a moving
camera, with per-frame inputs that err the way a frame model does.

Each bending joint turns about its own axis by an angle that is a sum of a few sinusoids (a smooth
joint-angle trajectory); the body turns about the vertical; the camera drifts around the person.
The frame model's stand-in: the true 2D joints with pixel jitter, the true 3D with noise that is
larger along the depth axis, and now and then an outlier joint (with a low confidence in 2D).
"""

import numpy as np

from ..camera import Intrinsics, project
from ..joints import H36M_TO_MPII
from ..sequences import Sequence
from .synthetic import BEND_JOINTS, CHAINS, PELVIS_J, REST_POSE, SPINE, TORSO_BEND, camera_intrinsics

# Motion styles (the sequences' "action"): the range of the joint angles' frequencies in Hz.
STYLES = {"Slow": (0.15, 0.5), "Brisk": (0.5, 1.4)}
JITTER_PX = 2.5  # 2D noise per coordinate (std)
NOISE_MM = (12.0, 12.0, 35.0)  # 3D noise per camera axis (std): depth is what a frame model gets most wrong
OUTLIER_RATE = 0.02  # share of joints per frame that land far off
OUTLIER_PX, OUTLIER_MM = 25.0, 150.0


def rotations(axes, degrees):
    """Rodrigues' formula batched: unit ``axes`` (..., 3) and angles (...) -> matrices (..., 3, 3)."""
    theta = np.deg2rad(degrees)[..., None, None]
    x, y, z = np.moveaxis(axes, -1, 0)
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*x.shape, 3, 3)
    return np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * (k @ k)


def _subtrees():
    children = {j: [c for p, c in CHAINS if p == j] for j in range(len(REST_POSE))}

    def subtree(j):
        return [j] + [d for c in children[j] for d in subtree(c)]

    return subtree


def smooth_angles(rng, frames, fps, limit, freq, count=3):
    """A smooth angle trajectory (frames,) in degrees within +-``limit``: ``count`` sinusoids."""
    t = np.arange(frames) / fps
    f = rng.uniform(*freq, count)
    phase = rng.uniform(0, 2 * np.pi, count)
    weights = rng.dirichlet(np.ones(count))
    return limit * (weights[:, None] * np.sin(2 * np.pi * f[:, None] * t + phase[:, None])).sum(0)


def moving_pose(rng, frames, fps, freq):
    """Root-relative H36M-17 poses (frames, 17, 3) mm in the person's own axes."""
    subtree = _subtrees()
    poses = np.broadcast_to(REST_POSE, (frames, *REST_POSE.shape)).copy()
    bends = [(joint, subtree(joint)[1:], limit) for joint, limit in BEND_JOINTS.items()]
    bends.append((PELVIS_J, subtree(SPINE), TORSO_BEND))
    for pivot, moved, limit in bends:
        axis = rng.normal(size=3)
        rot = rotations(
            np.broadcast_to(axis / np.linalg.norm(axis), (frames, 3)), smooth_angles(rng, frames, fps, limit, freq)
        )
        local = poses[:, moved] - poses[:, pivot : pivot + 1]
        poses[:, moved] = local @ np.swapaxes(rot, 1, 2) + poses[:, pivot : pivot + 1]
    return poses


def synthetic_sequence(rng, name, frames=300, fps=50.0, width=640, height=480, style="Slow", subject=None):
    """One ``Sequence`` with ground truth: the motion above, its camera, and the noisy inputs."""
    poses = moving_pose(rng, frames, fps, STYLES[style])
    up = np.broadcast_to([0.0, 1.0, 0.0], (frames, 3))
    yaw = rng.uniform(-180, 180) + np.cumsum(np.full(frames, rng.uniform(-30, 30) / fps))  # camera drift, deg/s
    tilt = rotations(np.broadcast_to([1.0, 0.0, 0.0], (frames, 3)), smooth_angles(rng, frames, fps, 10, (0.05, 0.2)))
    rot = tilt @ rotations(up, yaw)
    gt = poses @ np.swapaxes(rot, 1, 2)  # camera axes, root-relative
    intrinsics = camera_intrinsics(width, height)
    depth = rng.uniform(3500, 5500) + 400 * np.sin(2 * np.pi * rng.uniform(0.02, 0.1) * np.arange(frames) / fps)
    root = np.stack([rng.uniform(-300, 300) + np.zeros(frames), np.full(frames, 100.0), depth], -1)
    pixels = project(gt + root[:, None], Intrinsics.from_matrix(intrinsics))[:, H36M_TO_MPII]
    joints_2d = pixels + rng.normal(0, JITTER_PX, pixels.shape)
    confidence = rng.uniform(0.6, 1.0, joints_2d.shape[:2])
    outliers = rng.random(joints_2d.shape[:2]) < OUTLIER_RATE
    joints_2d[outliers] += rng.normal(0, OUTLIER_PX, (outliers.sum(), 2))
    confidence[outliers] *= 0.4
    joints_3d = gt + rng.normal(0, NOISE_MM, gt.shape)
    outliers = rng.random(gt.shape[:2]) < OUTLIER_RATE
    joints_3d[outliers] += rng.normal(0, OUTLIER_MM, (outliers.sum(), 3))
    joints_3d -= joints_3d[:, :1]  # root-relative, as the frame model's output is
    return Sequence(
        name=name,
        joints_2d=joints_2d.astype(np.float32),
        confidence=confidence.astype(np.float32),
        joints_3d=joints_3d.astype(np.float32),
        gt_3d=gt.astype(np.float32),
        fps=fps,
        width=width,
        height=height,
        subject=subject,
        action=style,
        camera="moving",
    )


def synthetic_sequences(rng, count, prefix, frames=300):
    """``count`` sequences named ``<prefix>_<i>``, the styles taking turns."""
    styles = list(STYLES)
    return [
        synthetic_sequence(rng, f"{prefix}_{i:03d}", frames, style=styles[i % len(styles)], subject=f"{prefix}{i}")
        for i in range(count)
    ]
