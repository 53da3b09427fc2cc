"""Synthetic people for sample data: a 3D skeleton posed at random, seen by a pinhole camera,
drawn as a filled figure on a varied background.

Nothing here is a dataset of the paper; it lets the real loaders, training and the demo run on a
machine without downloads. Poses are built in the H36M-17 order (mm, camera frame: x right,
y down, z forward) and mapped to MPII-16 with ``joints.H36M_TO_MPII``, as the H36M loader does.
"""

import cv2
import numpy as np

from ..camera import Intrinsics, project
from ..joints import H36M_BONE_SUM_MM, H36M_BONES, H36M_TO_MPII

# Rest pose, H36M-17 order, mm, relative to the pelvis (y down): a person standing, arms down.
# Spine and neck are the midpoints of their neighbours, as the MPII-16 -> H36M-17 conversion of
# a prediction makes them, and the 15 protocol bones sum to 4000 mm, the length the protocol
# rescales predictions to: so a perfect prediction scores 0 mm on these people, and every error
# measured on them comes from the network (or from the heatmap's quantisation).
_REST = np.array(
    [
        [0, 0, 0],
        [-130, 0, 0],
        [-130, 450, 0],
        [-130, 880, 0],
        [130, 0, 0],
        [130, 450, 0],
        [130, 880, 0],
        [0, -240, 0],
        [0, -480, 0],
        [0, -590, 0],
        [0, -700, 0],
        [180, -450, 0],
        [200, -180, 0],
        [210, 70, 0],
        [-180, -450, 0],
        [-200, -180, 0],
        [-210, 70, 0],
    ],
    np.float64,
)
_BONE_SUM = sum(np.linalg.norm(_REST[a] - _REST[b]) for a, b in H36M_BONES)
REST_POSE = _REST * (H36M_BONE_SUM_MM / _BONE_SUM)
# Kinematic chains: (parent, child) pairs in an order where parents come first.
CHAINS = (
    (0, 1),
    (1, 2),
    (2, 3),
    (0, 4),
    (4, 5),
    (5, 6),
    (0, 7),
    (7, 8),
    (8, 9),
    (9, 10),
    (8, 11),
    (11, 12),
    (12, 13),
    (8, 14),
    (14, 15),
    (15, 16),
)
# Joints whose subtree a random rotation bends (hips, knees, thorax, shoulders, elbows), and the
# whole upper body (spine included) about the pelvis, which keeps the spine a midpoint.
BEND_JOINTS = {1: 60, 2: 50, 4: 60, 5: 50, 8: 15, 11: 90, 12: 70, 14: 90, 15: 70}
SPINE, TORSO_BEND = 7, 20
# Filled body parts drawn as thick segments: (joint a, joint b, thickness in mm, colour slot).
# Slots: 0 torso/neck, 1 right leg, 2 left leg, 3 left arm, 4 right arm. Right limbs are drawn
# darker and left limbs lighter than the clothing colour, and the face is marked on the front of
# the head, so that left/right and front/back (hence depth order) can be told from the picture.
LIMBS = (
    (1, 2, 130, 1),
    (2, 3, 110, 1),
    (4, 5, 130, 2),
    (5, 6, 110, 2),
    (11, 12, 90, 3),
    (12, 13, 75, 3),
    (14, 15, 90, 4),
    (15, 16, 75, 4),
    (8, 9, 80, 0),
)
R_HIP, L_HIP, PELVIS_J, THORAX = 1, 4, 0, 8
TORSO = (1, 4, 11, 14)  # hips and shoulders: one filled quadrilateral
HEAD, HEAD_RADIUS_MM = 10, 110


def _rotation(axis, degrees):
    """Rotation matrix about the unit vector ``axis``."""
    return cv2.Rodrigues(np.asarray(axis, np.float64) * np.deg2rad(degrees))[0]


def random_pose(rng):
    """A random but plausible H36M-17 pose (mm, pelvis at the origin, camera axes)."""
    pose = REST_POSE.copy()
    children = {j: [c for p, c in CHAINS if p == j] for j in range(len(pose))}

    def subtree(j):
        out = [j]
        for c in children[j]:
            out += subtree(c)
        return out

    bends = [(joint, subtree(joint)[1:], limit) for joint, limit in BEND_JOINTS.items()]
    bends.append((PELVIS_J, subtree(SPINE), TORSO_BEND))
    for pivot, moved, limit in bends:
        axis = rng.normal(size=3)
        rot = _rotation(axis / np.linalg.norm(axis), rng.uniform(-limit, limit))
        pose[moved] = (pose[moved] - pose[pivot]) @ rot.T + pose[pivot]
    facing = _rotation((0, 1, 0), rng.uniform(-180, 180))  # turn about the vertical
    lean = _rotation((1, 0, 0), rng.uniform(-10, 10))
    return pose @ (lean @ facing).T


def camera_intrinsics(width, height, focal=None):
    """Pinhole intrinsics K (3x3) with the principal point at the image centre."""
    focal = focal or 1.2 * max(width, height)
    return np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], np.float64)


def place_in_view(pose, intrinsics, width, height, rng, fill=(0.55, 0.85)):
    """Translate a root-relative pose in front of the camera so that it fills part of the image."""
    extent = np.ptp(pose, axis=0)[:2].max()
    target = rng.uniform(*fill) * min(width, height)
    depth = intrinsics[0, 0] * extent / target
    center_px = np.array([width, height]) / 2 + rng.uniform(-0.08, 0.08, 2) * [width, height]
    offset = (center_px - intrinsics[:2, 2]) * depth / intrinsics[0, 0]
    mid = (pose.max(0) + pose.min(0)) / 2
    return pose - [mid[0], mid[1], 0] + [offset[0], offset[1], depth]


def random_background(rng, width, height):
    """A smooth colour gradient with a few random shapes: varied, never one flat colour."""
    corners = rng.uniform(30, 225, (2, 2, 3)).astype(np.float32)
    image = cv2.resize(corners, (width, height), interpolation=cv2.INTER_LINEAR)
    for _ in range(rng.integers(3, 9)):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), int(rng.integers(5, max(6, width // 6))), colour, -1)
        else:
            w, h = rng.integers(5, max(6, width // 4), 2)
            cv2.rectangle(image, (x, y), (x + int(w), y + int(h)), colour, -1)
    noise = rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def render_person(image, joints_cam, intrinsics, rng):
    """Draw the person with camera-frame H36M-17 joints onto ``image`` (in place), far parts first."""
    uv = project(joints_cam, Intrinsics.from_matrix(intrinsics))
    focal = intrinsics[0, 0]
    shirt, trousers = rng.uniform(60, 200, (2, 3))
    darker, lighter = (lambda c: c * 0.55), (lambda c: c * 0.6 + 255 * 0.4)
    palette = np.array([shirt, darker(trousers), lighter(trousers), lighter(shirt), darker(shirt)])
    skin = np.array([120, 150, 200]) + rng.uniform(-40, 40, 3)
    parts = [(joints_cam[[a, b], 2].mean(), "limb", (a, b, mm, slot)) for a, b, mm, slot in LIMBS]
    parts.append((joints_cam[list(TORSO), 2].mean(), "torso", None))
    parts.append((joints_cam[HEAD, 2], "head", None))
    for depth, kind, spec in sorted(parts, key=lambda p: -p[0]):
        if kind == "limb":
            a, b, mm, slot = spec
            width = max(2, int(round(focal * mm / depth)))
            cv2.line(
                image,
                tuple(np.round(uv[a]).astype(int)),
                tuple(np.round(uv[b]).astype(int)),
                tuple(float(c) for c in palette[slot]),
                width,
                cv2.LINE_AA,
            )
        elif kind == "torso":
            quad = np.round(uv[[TORSO[0], TORSO[1], TORSO[2], TORSO[3]]]).astype(np.int32)
            hull = cv2.convexHull(quad)
            cv2.fillConvexPoly(image, hull, tuple(float(c) for c in palette[0]), cv2.LINE_AA)
        else:
            radius = max(3, int(round(focal * HEAD_RADIUS_MM / depth)))
            cv2.circle(
                image, tuple(np.round(uv[HEAD]).astype(int)), radius, tuple(float(c) for c in skin), -1, cv2.LINE_AA
            )
            draw_face(image, joints_cam, intrinsics, skin)
    return uv


def draw_face(image, joints_cam, intrinsics, skin):
    """Two eyes on the front of the head when the person faces the camera (nothing from behind)."""
    right = joints_cam[R_HIP] - joints_cam[L_HIP]
    up = joints_cam[THORAX] - joints_cam[PELVIS_J]
    forward = -np.cross(right, up)
    forward, right = forward / np.linalg.norm(forward), right / np.linalg.norm(right)
    if forward[2] > -0.2:  # facing away or sideways
        return
    head = joints_cam[HEAD]
    for side in (-1, 1):
        eye = head + HEAD_RADIUS_MM * (0.85 * forward + 0.4 * side * right)
        radius = max(1, int(round(intrinsics[0, 0] * 18 / eye[2])))
        cv2.circle(
            image,
            tuple(np.round(project(eye, Intrinsics.from_matrix(intrinsics))).astype(int)),
            radius,
            tuple(float(c) for c in skin * 0.3),
            -1,
            cv2.LINE_AA,
        )


def random_scene(rng, width, height):
    """One synthetic image with its labels: ``image`` (BGR), ``joints_cam`` (17, 3) mm,
    ``joints_2d`` (17, 2) px (H36M-17), ``mpii_2d`` (16, 2) px, ``intrinsics``, person ``box``
    (x, y, w, h) around the projected joints, 10% padded on each side."""
    intrinsics = camera_intrinsics(width, height)
    joints_cam = place_in_view(random_pose(rng), intrinsics, width, height, rng)
    image = random_background(rng, width, height)
    joints_2d = render_person(image, joints_cam, intrinsics, rng)
    low, high = joints_2d.min(0), joints_2d.max(0)
    low, high = low - 0.1 * (high - low), high + 0.1 * (high - low)  # room for the head and limbs
    return {
        "image": image,
        "joints_cam": joints_cam,
        "joints_2d": joints_2d,
        "mpii_2d": joints_2d[H36M_TO_MPII],
        "intrinsics": intrinsics,
        "box": np.concatenate([low, high - low]),
    }
