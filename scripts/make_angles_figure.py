"""The figure of the joint angle definitions in docs/motion.md (docs/angles.svg): a skeleton posed
from chosen angles, seen from its right side (the angles in the body's forward-up plane) and from
the front (the pelvis frame and the sideways angles), each angle marked by an arc from its zero
direction (dashed) to the segment. The numbers printed are what ``hg3d.angles.joint_angles``
computes for the drawn pose, so the figure shows the code's definitions, not a drawing of them.

    python scripts/make_angles_figure.py [--out docs/angles.svg]
"""

import argparse
import html
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from hg3d.angles import joint_angles  # noqa: E402
from hg3d.files import atomic_write  # noqa: E402
from hg3d.joints import H36M_EDGES, H36M_JOINTS  # noqa: E402

J = {name: index for index, name in enumerate(H36M_JOINTS)}
# The pose drawn, in degrees: the right limbs move forward and back, the left ones sideways.
POSE = {
    "trunk_flexion": 15,
    "neck_flexion": 20,
    "hip_flexion_r": 35,
    "knee_flexion_r": 45,
    "shoulder_elevation_r": 50,
    "elbow_flexion_r": 70,
    "hip_abduction_l": 20,
    "shoulder_elevation_l": 80,
}
WIDTH, HEIGHT, SCALE = 1100, 640, 0.34  # the picture's size (px) and pixels per mm
RIGHT, LEFT, REFERENCE, TEXT, FAR, FRAME = "#d9534f", "#337ab7", "#888888", "#222222", "#c8c8c8", "#2b8a3e"


def _along(degrees, forward_or_out):
    """A unit vector ``degrees`` from straight down (-y) towards ``forward_or_out`` (a unit vector)."""
    radians = np.radians(degrees)
    return np.sin(radians) * np.asarray(forward_or_out) - np.cos(radians) * np.array([0.0, 1.0, 0.0])


def body_pose():
    """H36M-17 joints (mm) in the body frame: x forward, y up the trunk, z to the right."""
    x, y, z = np.eye(3)
    p = np.zeros((17, 3))
    p[J["spine"]], p[J["thorax"]], p[J["neck"]] = 230 * y, 470 * y, 540 * y
    p[J["head"]] = p[J["neck"]] + 130 * _along(180 - POSE["neck_flexion"], x)
    p[J["r_hip"]], p[J["l_hip"]] = 110 * z, -110 * z
    p[J["r_shoulder"]], p[J["l_shoulder"]] = p[J["thorax"]] + 170 * z, p[J["thorax"]] - 170 * z
    thigh = _along(POSE["hip_flexion_r"], x)
    p[J["r_knee"]] = p[J["r_hip"]] + 430 * thigh
    p[J["r_ankle"]] = p[J["r_knee"]] + 420 * _along(POSE["hip_flexion_r"] - POSE["knee_flexion_r"], x)
    upper = _along(POSE["shoulder_elevation_r"], x)
    p[J["r_elbow"]] = p[J["r_shoulder"]] + 290 * upper
    p[J["r_wrist"]] = p[J["r_elbow"]] + 260 * _along(POSE["shoulder_elevation_r"] + POSE["elbow_flexion_r"], x)
    p[J["l_knee"]] = p[J["l_hip"]] + 430 * _along(POSE["hip_abduction_l"], -z)
    p[J["l_ankle"]] = p[J["l_knee"]] + 420 * _along(POSE["hip_abduction_l"], -z)
    p[J["l_elbow"]] = p[J["l_shoulder"]] + 290 * _along(POSE["shoulder_elevation_l"], -z)
    p[J["l_wrist"]] = p[J["l_elbow"]] + 260 * _along(POSE["shoulder_elevation_l"], -z)
    return p


def leaned(points):
    """``points`` of the body frame in a world frame (+Y up) where the trunk leans forward by
    ``POSE["trunk_flexion"]`` about the body's left-right axis."""
    c, s = np.cos(np.radians(POSE["trunk_flexion"])), np.sin(np.radians(POSE["trunk_flexion"]))
    return np.asarray(points) @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class Panel:
    """One view: ``axes`` (2, 3) maps a 3D point to the picture's right and up; ``origin`` (px) is
    where the pelvis goes."""

    def __init__(self, title, axes, origin):
        self.axes, self.origin, self.items = np.asarray(axes, float), np.asarray(origin, float), []
        self.text(self.origin + [0, -270], title, anchor="middle", size=17, weight="600")

    def px(self, point):
        right, up = self.axes @ point
        return self.origin + SCALE * np.array([right, -up])

    def line(self, a, b, colour, width=5, dashed=False):
        (x1, y1), (x2, y2) = self.px(a), self.px(b)
        dash = ' stroke-dasharray="6 5"' if dashed else ""
        self.items.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{width}" stroke-linecap="round"{dash}/>'
        )

    def text(self, at, words, anchor="start", size=14, colour=TEXT, weight="normal"):
        self.items.append(
            f'<text x="{at[0]:.1f}" y="{at[1]:.1f}" font-size="{size}" fill="{colour}" text-anchor="{anchor}" '
            f'font-weight="{weight}">{html.escape(words)}</text>'
        )

    def skeleton(self, joints, colours):
        """The bones coloured by side (``colours``: right, left, None to leave that side out), the
        far side first."""
        coloured = []
        for a, b in H36M_EDGES:
            names = H36M_JOINTS[a] + H36M_JOINTS[b]
            colour = colours[0] if "r_" in names else colours[1] if "l_" in names else TEXT
            coloured.append((colour is not None, a, b, colour or FAR))
        for _, a, b, colour in sorted(coloured):
            self.line(joints[a], joints[b], colour)
        for point in joints:
            (x, y) = self.px(point)
            self.items.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="#333333"/>')

    def angle(self, at, zero, segment, label, value, colour, radius, length, place):
        """An arc at ``at`` from the dashed ``zero`` direction to ``segment`` (3D directions), and
        ``label = value`` at ``place`` (px from the joint; written leftwards when it is left of it)."""
        self.line(at, at + length * zero / np.linalg.norm(zero), REFERENCE, width=2, dashed=True)
        centre = self.px(at)
        ends = [self.px(at + d / np.linalg.norm(d)) - centre for d in (zero, segment)]
        start, end = (centre + radius * e / np.linalg.norm(e) for e in ends)
        sweep = int(ends[0][0] * ends[1][1] - ends[0][1] * ends[1][0] > 0)
        self.items.append(
            f'<path d="M {start[0]:.1f} {start[1]:.1f} A {radius} {radius} 0 0 {sweep} {end[0]:.1f} {end[1]:.1f}" '
            f'fill="none" stroke="{colour}" stroke-width="2.5"/>'
        )
        self.text(centre + place, f"{label} = {value:.0f}\u00b0", anchor="start" if place[0] >= 0 else "end")


def side_view(world, angles):
    """From the right: the angles in the forward-up plane (the right limbs, the trunk, the neck);
    the left limbs are behind, in grey."""
    panel = Panel("from the right side (forward is to the right)", [[1, 0, 0], [0, 1, 0]], (260, 340))
    down = leaned([0.0, -1.0, 0.0])  # the trunk pointing down: pelvis - thorax
    trunk = world[J["thorax"]] - world[J["pelvis"]]
    panel.skeleton(world, (RIGHT, None))
    at = world[J["pelvis"]]
    panel.angle(at, np.array([0, 1.0, 0]), trunk, "trunk_flexion", angles["trunk_flexion"], TEXT, 90, 700, (-20, -75))
    panel.text(panel.px(at + [0, 700, 0]) + [-8, 4], "world up (+Y)", anchor="end", colour=REFERENCE, size=13)
    thigh = world[J["r_knee"]] - world[J["r_hip"]]
    panel.angle(world[J["r_hip"]], down, thigh, "hip_flexion_r", angles["hip_flexion_r"], RIGHT, 70, 480, (-30, 60))
    shank = world[J["r_ankle"]] - world[J["r_knee"]]
    panel.angle(world[J["r_knee"]], thigh, shank, "knee_flexion_r", angles["knee_flexion_r"], RIGHT, 50, 330, (30, 20))
    upper = world[J["r_elbow"]] - world[J["r_shoulder"]]
    elevation = angles["shoulder_elevation_r"]
    panel.angle(world[J["r_shoulder"]], down, upper, "shoulder_elevation_r", elevation, RIGHT, 60, 330, (-45, 15))
    forearm = world[J["r_wrist"]] - world[J["r_elbow"]]
    elbow = angles["elbow_flexion_r"]
    panel.angle(world[J["r_elbow"]], upper, forearm, "elbow_flexion_r", elbow, RIGHT, 42, 250, (40, 30))
    head = world[J["head"]] - world[J["neck"]]
    panel.angle(world[J["neck"]], trunk, head, "neck_flexion", angles["neck_flexion"], TEXT, 45, 230, (50, -40))
    return panel


def front_view(body, angles):
    """From the front, along the pelvis frame's x: the sideways angles (the body's right, in grey,
    is on the picture's left), and the pelvis frame's axes beside the body."""
    panel = Panel("from the front, in the pelvis frame", [[0, 0, -1], [0, 1, 0]], (800, 340))
    panel.skeleton(body, (None, LEFT))
    down = np.array([0.0, -1.0, 0.0])
    thigh = body[J["l_knee"]] - body[J["l_hip"]]
    abduction = angles["hip_abduction_l"]
    panel.angle(body[J["l_hip"]], down, thigh, "hip_abduction_l", abduction, LEFT, 80, 480, (80, 100))
    upper = body[J["l_elbow"]] - body[J["l_shoulder"]]
    elevation = angles["shoulder_elevation_l"]
    panel.angle(body[J["l_shoulder"]], down, upper, "shoulder_elevation_l", elevation, LEFT, 55, 330, (50, 70))
    origin = np.array([panel.origin[0] - 170, panel.origin[1] + 150])  # the axes, drawn beside the body
    panel.text(origin + [0, 72], "pelvis frame", anchor="middle", colour=FRAME, size=13, weight="600")
    axes = (((0, -70), "y: up the trunk", (0, -8), "middle"), ((-70, 0), "z: left hip to right hip", (0, 22), "middle"))
    for tip, words, shift, anchor in axes:
        end = origin + tip
        panel.items.append(
            f'<line x1="{origin[0]}" y1="{origin[1]}" x2="{end[0]}" y2="{end[1]}" stroke="{FRAME}" stroke-width="2.5"/>'
        )
        panel.text(end + shift, words, anchor=anchor, colour=FRAME, size=13)
    for radius, paint in ((8, f'fill="none" stroke="{FRAME}" stroke-width="2"'), (2.5, f'fill="{FRAME}"')):
        panel.items.append(f'<circle cx="{origin[0]}" cy="{origin[1]}" r="{radius}" {paint}/>')  # x: out of the page
    panel.text(origin + [0, 42], "x = y \u00d7 z: forward, out of the page", anchor="middle", colour=FRAME, size=13)
    return panel


def figure():
    """The SVG text, and the angles of the drawn pose as ``joint_angles`` gives them."""
    body = body_pose()
    world = leaned(body)
    angles = {name: float(value) for name, value in joint_angles(world, up=np.array([0.0, 1.0, 0.0])).items()}
    for name, wanted in POSE.items():  # the pose is what it says it is
        assert abs(angles[name] - wanted) < 1e-6, (name, angles[name], wanted)
    panels = [side_view(world, angles), front_view(body, angles)]
    note = "dashed: where the angle is 0. Right limbs red, left limbs blue; angles in degrees from hg3d.angles."
    body_items = "\n".join(item for panel in panels for item in panel.items)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">\n'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>\n{body_items}\n'
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 14}" font-size="13" fill="{REFERENCE}" text-anchor="middle">'
        f"{html.escape(note)}</text>\n</svg>\n"
    ), angles


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "angles.svg"))
    args = parser.parse_args(argv)
    svg, angles = figure()

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(svg)

    atomic_write(args.out, write)
    print(", ".join(f"{name} {angles[name]:.1f}" for name in POSE))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
