"""Pictures of poses, drawn with OpenCV (no display needed; milliseconds a frame, so rendering a
video costs little next to the network): every person's 2D skeleton, box and id on the image, and
a panel per person with the 3D skeleton."""

import cv2
import numpy as np

from .joints import MPII_EDGES, MPII_JOINTS

# BGR colours: the person's right side in red, left in blue, the centre line in green.
SIDE_COLOURS = {"r": (60, 60, 230), "l": (230, 120, 40), "c": (60, 200, 60)}
MAX_PANELS = 4  # people shown in the 3D picture (the best-scored first); the JSON has them all
PANEL_PX = 320
PANEL_SPAN_MM = 2200  # a panel shows 2.2 m around the pelvis at a fixed scale (bones sum to 4 m)
VIEW_AZIMUTH, VIEW_ELEVATION = 35.0, 15.0  # degrees: seen a little from the side and above
TEXT_COLOUR, BOX_COLOUR = (255, 255, 255), (0, 220, 255)


def joint_side(name):
    return name[0] if name[:2] in ("r_", "l_") else "c"


def edge_side(a, b):
    """An edge is left/right when one of its joints is, else centre."""
    sides = {joint_side(MPII_JOINTS[a]), joint_side(MPII_JOINTS[b])} - {"c"}
    return sides.pop() if len(sides) == 1 else "c"


def draw_skeleton_2d(image, joints, edges=MPII_EDGES):
    """A copy of the BGR ``image`` with the 16 joints (px) and skeleton edges drawn on it."""
    canvas = image.copy()
    scale = max(image.shape[:2]) / 400
    thickness, radius = max(1, int(round(2 * scale))), max(2, int(round(3 * scale)))
    points = np.round(np.asarray(joints, np.float64)).astype(int)
    for a, b in edges:
        cv2.line(canvas, tuple(points[a]), tuple(points[b]), SIDE_COLOURS[edge_side(a, b)], thickness, cv2.LINE_AA)
    for name, point in zip(MPII_JOINTS, points):
        cv2.circle(canvas, tuple(point), radius, SIDE_COLOURS[joint_side(name)], -1, cv2.LINE_AA)
    return canvas


def _label(canvas, text, origin, scale):
    """White text with a dark outline, readable on any background."""
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, max(1, int(round(scale * 1.5)))
    cv2.putText(canvas, text, origin, font, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, font, scale, TEXT_COLOUR, thickness, cv2.LINE_AA)


def person_name(person):
    return f"id {person['track_id']}" if person.get("track_id") is not None else f"#{person['index']}"


def draw_people_2d(image, people):
    """A copy of ``image`` with each person's skeleton, box and id (``track_id`` in videos, else the
    person's index); 'no person found' when ``people`` is empty."""
    canvas = image.copy()
    scale = max(image.shape[:2]) / 400
    for person in people:
        canvas = draw_skeleton_2d(canvas, person["joints_2d"])
        x, y, w, h = np.round(person["box"]).astype(int)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), BOX_COLOUR, max(1, int(round(scale))), cv2.LINE_AA)
        _label(canvas, person_name(person), (max(x, 0) + 2, max(y, 0) + int(16 * scale)), 0.5 * scale)
    if not people:
        _label(canvas, "no person found", (int(8 * scale), int(20 * scale)), 0.6 * scale)
    return canvas


def _view_matrix():
    """Camera axes (x right, y down, z forward) -> panel axes (right, down, depth)."""
    az, el = np.deg2rad(VIEW_AZIMUTH), np.deg2rad(VIEW_ELEVATION)
    turn = np.array([[np.cos(az), 0, -np.sin(az)], [0, 1, 0], [np.sin(az), 0, np.cos(az)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(el), np.sin(el)], [0, -np.sin(el), np.cos(el)]])
    return tilt @ turn


def draw_panel_3d(joints_3d_mm, title, size=PANEL_PX):
    """One square panel: the MPII-16 root-relative 3D skeleton (mm) at a fixed scale, far bones
    first, with a floor line, a 1 m scale bar and ``title``."""
    panel = np.full((size, size, 3), 245, np.uint8)
    px_per_mm = size / PANEL_SPAN_MM
    view = np.asarray(joints_3d_mm, np.float64) @ _view_matrix().T
    points = view[:, :2] * px_per_mm + [size / 2, size * 0.45]
    floor_y = int(size * 0.45 + 950 * px_per_mm)
    cv2.line(panel, (0, floor_y), (size, floor_y), (200, 200, 200), 1, cv2.LINE_AA)
    bar = int(1000 * px_per_mm)
    cv2.line(panel, (10, size - 12), (10 + bar, size - 12), (90, 90, 90), 2)
    cv2.putText(panel, "1 m", (14 + bar, size - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (90, 90, 90), 1, cv2.LINE_AA)
    ints = np.round(points).astype(int)
    for a, b in sorted(MPII_EDGES, key=lambda e: -(view[e[0], 2] + view[e[1], 2])):
        cv2.line(panel, tuple(ints[a]), tuple(ints[b]), SIDE_COLOURS[edge_side(a, b)], 3, cv2.LINE_AA)
    for name, point in zip(MPII_JOINTS, ints):
        cv2.circle(panel, tuple(point), 3, SIDE_COLOURS[joint_side(name)], -1, cv2.LINE_AA)
    cv2.putText(panel, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (30, 30, 30), 1, cv2.LINE_AA)
    return panel


def draw_people_3d(people, size=PANEL_PX):
    """Panels side by side for the first ``MAX_PANELS`` people with a 3D pose; one panel saying
    so when there is none (a frame of a video keeps its size)."""
    shown = [p for p in people if p.get("joints_3d_mm") is not None][:MAX_PANELS]
    if not shown:
        panel = np.full((size, size, 3), 245, np.uint8)
        cv2.putText(panel, "no 3D pose", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (30, 30, 30), 1, cv2.LINE_AA)
        return panel
    return np.concatenate([draw_panel_3d(p["joints_3d_mm"], person_name(p), size) for p in shown], 1)


def fit_width(picture, width):
    """``picture`` padded (light grey) or cut on the right to ``width`` px: video frames keep one size."""
    if picture.shape[1] >= width:
        return picture[:, :width]
    pad = np.full((picture.shape[0], width - picture.shape[1], 3), 245, np.uint8)
    return np.concatenate([picture, pad], 1)
