"""Pictures of poses: a 2D skeleton drawn on the image, and a 3D skeleton plotted with matplotlib.

Both work without a display (OpenCV drawing, matplotlib's Agg backend).
"""

import cv2
import numpy as np

from .joints import MPII_EDGES, MPII_JOINTS

# BGR colours: the person's right side in red, left in blue, the centre line in green.
SIDE_COLOURS = {"r": (60, 60, 230), "l": (230, 120, 40), "c": (60, 200, 60)}


def joint_side(name):
    return name[0] if name[:2] in ("r_", "l_") else "c"


def edge_side(a, b, names=MPII_JOINTS):
    """An edge is left/right when one of its joints is, else centre."""
    sides = {joint_side(names[a]), joint_side(names[b])} - {"c"}
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


def plot_skeleton_3d(joints_3d, path, edges=MPII_EDGES, title=None, names=MPII_JOINTS):
    """Save a 3D plot of joints (x right, y down, z forward; MPII-16 unless ``edges`` and ``names``
    say otherwise) to ``path`` (PNG).

    Viewed as the original demo: plotted as (x, z, -y) so that up is up, with equal axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = np.asarray(joints_3d, np.float64)
    shown = np.stack([pts[:, 0], pts[:, 2], -pts[:, 1]], 1)
    fig = plt.figure(figsize=(5, 5))
    ax = fig.add_subplot(111, projection="3d")
    for a, b in edges:
        colour = np.array(SIDE_COLOURS[edge_side(a, b, names)][::-1]) / 255  # BGR -> RGB
        ax.plot(*shown[[a, b]].T, color=colour, linewidth=2.5)
    ax.scatter(*shown.T, color="black", s=10)
    center, half = shown.mean(0), max(np.ptp(shown, axis=0).max() / 2, 1e-6) * 1.1
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), center):
        setter(c - half, c + half)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("z (mm)")
    ax.set_zlabel("-y (mm)")
    if title:
        ax.set_title(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
