"""Pictures of poses: a 2D skeleton drawn over an image (OpenCV) and a 3D skeleton plot (matplotlib,
Agg backend, so it works on servers without a display).

Both take plain joint arrays, a list of edges and the joint names; an edge is coloured by side
from the names (``l_*`` left, ``r_*`` right, the rest the centre line).
"""
import cv2
import numpy as np

# BGR colours (OpenCV) of the left side, the right side and the centre line.
SIDE_COLORS_BGR = {"left": (255, 128, 0), "right": (0, 64, 255), "center": (0, 200, 0)}


def joint_side(name):
    return "left" if name.startswith("l_") else "right" if name.startswith("r_") else "center"


def edge_sides(edges, names):
    """Side of each edge: left or right when either end is, else centre."""
    sides = []
    for a, b in edges:
        pair = {joint_side(names[a]), joint_side(names[b])} - {"center"}
        sides.append(pair.pop() if len(pair) == 1 else "center")
    return sides


def draw_skeleton_2d(image, joints, edges, names, box=None):
    """A copy of the BGR ``image`` with the skeleton of ``joints`` (J, 2) in pixels drawn on it,
    line width scaled to the image; ``box`` (x, y, w, h), when given, is outlined in grey."""
    canvas = image.copy()
    scale = max(image.shape[:2]) / 400
    thickness, radius = max(1, int(round(2 * scale))), max(2, int(round(3 * scale)))
    points = np.round(np.asarray(joints, np.float64)).astype(np.int64)
    if box is not None:
        x, y, w, h = np.round(np.asarray(box, np.float64)).astype(int)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (160, 160, 160), thickness)
    for (a, b), side in zip(edges, edge_sides(edges, names)):
        cv2.line(canvas, tuple(map(int, points[a])), tuple(map(int, points[b])),
                 SIDE_COLORS_BGR[side], thickness, cv2.LINE_AA)
    for point, name in zip(points, names):
        cv2.circle(canvas, tuple(map(int, point)), radius, SIDE_COLORS_BGR[joint_side(name)], -1,
                   cv2.LINE_AA)
    return canvas


def render_skeleton_3d(joints, edges, names, title=None, size_px=480, unit="mm"):
    """The 3D skeleton of ``joints`` (J, 3; x right, y down, z away from the camera) as an RGB
    array (size_px, size_px, 3), viewed as the original demo: plotted as (x, z, -y) so the person
    stands upright, with labelled axes of equal scale."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    joints = np.asarray(joints, np.float64)
    xs, ys, zs = joints[:, 0], joints[:, 2], -joints[:, 1]
    fig = Figure(figsize=(size_px / 100, size_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection="3d")
    rgb = {side: tuple(c / 255 for c in color[::-1]) for side, color in SIDE_COLORS_BGR.items()}
    for (a, b), side in zip(edges, edge_sides(edges, names)):
        ax.plot([xs[a], xs[b]], [ys[a], ys[b]], [zs[a], zs[b]], color=rgb[side], linewidth=2)
    ax.scatter(xs, ys, zs, c=[rgb[joint_side(n)] for n in names], s=12, depthshade=False)
    center = (joints.max(0) + joints.min(0)) / 2
    half = max(float((joints.max(0) - joints.min(0)).max()) / 2, 1e-6) * 1.1
    ax.set_xlim(center[0] - half, center[0] + half)
    ax.set_ylim(center[2] - half, center[2] + half)
    ax.set_zlim(-center[1] - half, -center[1] + half)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"z ({unit})")
    ax.set_zlabel(f"-y ({unit})")
    if title:
        ax.set_title(title)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
