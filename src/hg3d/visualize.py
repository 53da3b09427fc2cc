"""Pictures of poses, drawn with OpenCV (no display needed; milliseconds a frame, so rendering a
video costs little next to the network): every person's 2D skeleton, box and id on the image, a
panel per person with the 3D skeleton, and the scene: everyone at their place in the camera frame,
seen from above and from the side, with the camera.

Every point is drawn through ``_line`` / ``_circle``: a joint far outside the picture (a huge box,
a tiny focal length, a person placed light years away) is clipped, and one that is not a number is
left out, instead of reaching OpenCV as an integer it cannot take."""

import cv2
import numpy as np

from .joints import H36M_JOINTS, H36M_PARENTS, MPII_EDGES, MPII_JOINTS

# BGR colours: the person's right side in red, left in blue, the centre line in green.
SIDE_COLOURS = {"r": (60, 60, 230), "l": (230, 120, 40), "c": (60, 200, 60)}
MAX_PANELS = 4  # people shown in the 3D picture (the best-scored first); the JSON has them all
PANEL_PX = 320
PANEL_SPAN_MM = 2200  # a panel shows 2.2 m around the pelvis at a fixed scale (bones sum to 4 m)
VIEW_AZIMUTH, VIEW_ELEVATION = 35.0, 15.0  # degrees: seen a little from the side and above
TEXT_COLOUR, BOX_COLOUR = (255, 255, 255), (0, 220, 255)
SCENE_PANELS = 2  # the scene from above and from the side, left of the per-person panels
SCENE_MIN_DEPTH_MM = 3000  # the scene views show at least 3 m in front of the camera
SCENE_MARGIN = 1.15  # and 15 % beyond the farthest joint, rounded up to whole metres
SCENE_MAX_DEPTH_MM = 50_000  # and at most 50 m (one grid line a metre): anyone farther is off the picture
H36M_EDGES = tuple((parent, child) for child, parent in enumerate(H36M_PARENTS) if parent >= 0)
CAMERA_COLOUR, GRID_COLOUR, INK = (40, 40, 40), (215, 215, 215), (30, 30, 30)


def joint_side(name):
    return name[0] if name[:2] in ("r_", "l_") else "c"


def edge_side(a, b, names=MPII_JOINTS):
    """An edge is left/right when one of its joints is, else centre."""
    sides = {joint_side(names[a]), joint_side(names[b])} - {"c"}
    return sides.pop() if len(sides) == 1 else "c"


def _clip_segment(a, b, low, high):
    """The part of the segment ``a``-``b`` (float x, y) inside the box ``low``-``high``, or None
    (Liang-Barsky: the segment's parameter range narrowed by each of the four sides). A segment
    whose length is not a finite number (NaN ends, or ends near the float limit) is None."""
    with np.errstate(over="ignore", invalid="ignore"):
        delta = b - a
    if not np.isfinite(delta).all():
        return None
    start, end = 0.0, 1.0
    for axis in (0, 1):
        step = delta[axis]
        for side, sign in ((low[axis], -1.0), (high[axis], 1.0)):
            room = sign * (side - a[axis])  # how far a may move towards this side and stay inside
            if step == 0:
                if room < 0:
                    return None
                continue
            t = room / (sign * step)
            if sign * step > 0:
                end = min(end, t)
            else:
                start = max(start, t)
    if start > end:
        return None
    return (a if start == 0 else a + start * delta), (b if end == 1 else a + end * delta)


def _line(canvas, a, b, colour, thickness=1, line_type=cv2.LINE_AA):
    """``cv2.line`` between float points, clipped to a little beyond the canvas."""
    margin = thickness + 2
    clipped = _clip_segment(
        np.asarray(a, np.float64), np.asarray(b, np.float64), (-margin, -margin), np.add(canvas.shape[1::-1], margin)
    )
    if clipped is not None:
        start, end = (tuple(int(round(v)) for v in point) for point in clipped)
        cv2.line(canvas, start, end, colour, thickness, line_type)


def _circle(canvas, centre, radius, colour):
    """A filled ``cv2.circle`` at a float point; nothing when it does not touch the canvas."""
    x, y = centre
    height, width = canvas.shape[:2]
    if -radius <= x <= width + radius and -radius <= y <= height + radius:  # False for NaN
        cv2.circle(canvas, (int(round(x)), int(round(y))), radius, colour, -1, cv2.LINE_AA)


def draw_skeleton_2d(image, joints, edges=MPII_EDGES):
    """A copy of the BGR ``image`` with the 16 joints (px) and skeleton edges drawn on it."""
    canvas = image.copy()
    scale = max(image.shape[:2]) / 400
    thickness, radius = max(1, int(round(2 * scale))), max(2, int(round(3 * scale)))
    points = np.asarray(joints, np.float64)
    for a, b in edges:
        _line(canvas, points[a], points[b], SIDE_COLOURS[edge_side(a, b)], thickness)
    for name, point in zip(MPII_JOINTS, points):
        _circle(canvas, point, radius, SIDE_COLOURS[joint_side(name)])
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
        x, y, w, h = np.asarray(person["box"], np.float64)
        # a rectangle's sides stay where they are when its corners are clipped to just off the canvas
        (left, top), (right, bottom) = np.clip([(x, y), (x + w, y + h)], -2, np.array(canvas.shape[1::-1]) + 2)
        if np.isfinite([left, top, right, bottom]).all():
            corners = (int(round(left)), int(round(top))), (int(round(right)), int(round(bottom)))
            cv2.rectangle(canvas, *corners, BOX_COLOUR, max(1, int(round(scale))), cv2.LINE_AA)
            _label(
                canvas,
                person_name(person),
                (max(corners[0][0], 0) + 2, max(corners[0][1], 0) + int(16 * scale)),
                0.5 * scale,
            )
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
    for a, b in sorted(MPII_EDGES, key=lambda e: -(view[e[0], 2] + view[e[1], 2])):
        _line(panel, points[a], points[b], SIDE_COLOURS[edge_side(a, b)], 3)
    for name, point in zip(MPII_JOINTS, points):
        _circle(panel, point, 3, SIDE_COLOURS[joint_side(name)])
    cv2.putText(panel, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (30, 30, 30), 1, cv2.LINE_AA)
    return panel


def draw_people_3d(people, size=PANEL_PX, intrinsics=None):
    """Panels side by side for the first ``MAX_PANELS`` people with a 3D pose; one panel saying
    so when there is none (a frame of a video keeps its size). With ``intrinsics`` (the camera
    that placed them), the two scene views (``draw_scene``) come first."""
    shown = [p for p in people if p.get("joints_3d_mm") is not None][:MAX_PANELS]
    if shown:
        panels = [draw_panel_3d(p["joints_3d_mm"], person_name(p), size) for p in shown]
    else:
        panel = np.full((size, size, 3), 245, np.uint8)
        cv2.putText(panel, "no 3D pose", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, INK, 1, cv2.LINE_AA)
        panels = [panel]
    if intrinsics is not None:
        panels = [draw_scene(people, intrinsics, size)] + panels
    return np.concatenate(panels, 1)


def scene_depth_mm(people):
    """How far the scene views reach (mm): past the farthest placed joint, whole metres, between
    ``SCENE_MIN_DEPTH_MM`` and ``SCENE_MAX_DEPTH_MM``."""
    placed = [p["joints_3d_cam_mm"] for p in people if p.get("joints_3d_cam_mm") is not None]
    farthest = max([float(np.max(j[:, 2])) for j in placed], default=0.0)
    depth = np.clip(SCENE_MARGIN * farthest, SCENE_MIN_DEPTH_MM, SCENE_MAX_DEPTH_MM)  # NaN: the minimum
    return 1000.0 * np.ceil(np.nan_to_num(depth, nan=SCENE_MIN_DEPTH_MM) / 1000.0)


def draw_scene(people, intrinsics, size=PANEL_PX):
    """Two square views of the camera frame, ``SCENE_PANELS`` x ``size`` wide: from above (x to
    the right, depth z up the picture) and from the side (z to the right, y down), each with the
    camera at the origin, its field of view (``intrinsics``, principal point taken as the centre),
    a 1 m grid and every placed person (``joints_3d_cam_mm``) with their id."""
    depth = scene_depth_mm(people)
    px_per_mm = (size - 40) / depth
    half_x, half_y = intrinsics.cx / intrinsics.fx, intrinsics.cy / intrinsics.fy  # tan of the half angles
    views = (
        ("from above", (0, 2), (size / 2, size - 20), (1, -1), half_x),  # x right, z up the picture
        ("from the side", (2, 1), (20, size / 2), (1, 1), half_y),  # z right, y down
    )
    return np.concatenate([_scene_view(people, depth, px_per_mm, size, *view) for view in views], 1)


def _scene_view(people, depth, px_per_mm, size, title, axes, origin, signs, half_angle):
    """One scene view: camera-frame axes ``axes`` (across, along the view) drawn from ``origin``
    (px) with ``signs``; the camera's depth axis is z."""
    panel = np.full((size, size, 3), 250, np.uint8)
    depth_axis = axes.index(2)

    def to_px(points):
        points = np.asarray(points, np.float64)[..., list(axes)]
        with np.errstate(over="ignore", invalid="ignore"):
            return points * signs * px_per_mm + origin

    for metres in range(1, int(depth // 1000) + 1):  # lines of equal depth, one a metre
        ends = np.zeros((2, 3))
        ends[:, 2] = metres * 1000
        ends[:, axes[1 - depth_axis]] = (-depth, depth)
        _line(panel, *to_px(ends), GRID_COLOUR)
    across = axes[1 - depth_axis]
    for sign in (-1, 1):  # the field of view's edges
        edge = np.zeros((2, 3))
        edge[1, 2], edge[1, across] = depth, sign * half_angle * depth
        _line(panel, *to_px(edge), (170, 170, 170))
    _circle(panel, to_px(np.zeros(3)), 5, CAMERA_COLOUR)
    for person in people:
        joints = person.get("joints_3d_cam_mm")
        if joints is None:
            continue
        points = to_px(joints)
        for a, b in H36M_EDGES:
            _line(panel, points[a], points[b], SIDE_COLOURS[edge_side(a, b, H36M_JOINTS)], 2)
        shown = points[((points >= 0) & (points < size)).all(-1)]  # the name goes above the highest joint in view
        if len(shown):
            x, y = shown[np.argmin(shown[:, 1])]
            cv2.putText(panel, person_name(person), (int(x) + 4, int(y) - 4), 0, 0.4, INK, 1, cv2.LINE_AA)
    cv2.putText(panel, f"{title}, camera at the dot", (8, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, INK, 1, cv2.LINE_AA)
    cv2.putText(panel, f"grid 1 m, {depth / 1000:g} m deep", (8, 32), 0, 0.4, (90, 90, 90), 1, cv2.LINE_AA)
    return panel


def fit_width(picture, width):
    """``picture`` padded (light grey) or cut on the right to ``width`` px: video frames keep one size."""
    if picture.shape[1] >= width:
        return picture[:, :width]
    pad = np.full((picture.shape[0], width - picture.shape[1], 3), 245, np.uint8)
    return np.concatenate([picture, pad], 1)
