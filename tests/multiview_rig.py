"""A synthetic calibrated rig for the multi-view tests: cameras on a circle looking at the origin,
with lens distortion, and people standing near the origin."""

import numpy as np

from hg3d.calibration import Camera
from hg3d.camera import Intrinsics
from hg3d.tools.h36m_sample import consistent_pose, look_at

SIZE = (640, 480)
DIST = (-0.12, 0.05, 0.001, -0.0008)


def rig(num_views=4, radius_mm=4000.0, height_mm=1200.0):
    cameras = []
    for v in range(num_views):
        angle = 2 * np.pi * v / num_views + 0.3
        R, t = look_at(np.array([radius_mm * np.cos(angle), radius_mm * np.sin(angle), height_mm]), (0, 0, 900))
        focal = 500.0 + 20 * v
        intrinsics = Intrinsics(focal, focal * 1.01, 320.0 + 3 * v, 240.0 - 2 * v, dist=DIST)
        cameras.append(Camera(f"cam_{v + 1:02d}", SIZE, intrinsics, R, t))
    return cameras


def person(rng, where=(0.0, 0.0)):
    """An MPII-16 world pose (mm, z up) standing at ``where`` (x, y): a random H36M figure (y down)
    turned upright."""
    from hg3d.joints import H36M_TO_MPII

    pose = consistent_pose(rng)[H36M_TO_MPII]  # camera-style axes: y down
    upright = np.stack([pose[:, 0], pose[:, 2], -pose[:, 1]], -1)
    upright -= upright[:, 2].min()
    return upright + [where[0], where[1], 0.0]


def write_calib_toml(path, cameras, fisheye=False):
    """Pose2Sim's Calib.toml of ``cameras`` (translation in metres, rotation as Rodrigues)."""
    import cv2

    def numbers(values):
        return "[" + ", ".join(repr(float(v)) for v in np.ravel(values)) + "]"

    lines = []
    for camera in cameras:
        K = camera.intrinsics.K
        lines += [
            f"[{camera.name}]",
            f'name = "{camera.name}"',
            f"size = {numbers(camera.size)}",
            "matrix = [" + ", ".join(numbers(row) for row in K) + "]",
            f"distortions = {numbers(camera.intrinsics.dist)}",
            f"rotation = {numbers(cv2.Rodrigues(camera.R)[0])}",
            f"translation = {numbers(camera.t / 1000)}",
            f"fisheye = {'true' if fisheye else 'false'}",
            "",
        ]
    lines += ["[metadata]", "adjusted = false", "error = 0.0", ""]
    with open(path, "w") as handle:
        handle.write("\n".join(lines))


def write_easymocap(folder, cameras, rodrigues=False):
    """EasyMocap's intri.yml and extri.yml (OpenCV FileStorage) of ``cameras``; ``rodrigues``:
    the rotation as R_<cam> (a Rodrigues vector) instead of Rot_<cam>."""
    import os

    import cv2

    names = [camera.name for camera in cameras]
    intri = cv2.FileStorage(os.path.join(folder, "intri.yml"), cv2.FILE_STORAGE_WRITE)
    extri = cv2.FileStorage(os.path.join(folder, "extri.yml"), cv2.FILE_STORAGE_WRITE)
    for storage in (intri, extri):
        storage.write("names", names)
    for camera in cameras:
        intri.write(f"K_{camera.name}", camera.intrinsics.K)
        intri.write(f"dist_{camera.name}", np.array([camera.intrinsics.dist]))
        if rodrigues:
            extri.write(f"R_{camera.name}", cv2.Rodrigues(camera.R)[0])
        else:
            extri.write(f"Rot_{camera.name}", camera.R)
        extri.write(f"T_{camera.name}", camera.t.reshape(3, 1) / 1000)
    intri.release()
    extri.release()
