"""The viewer's picture and page size in docs/viewer.md: a 10-second, 25 fps clip of two generated
people (hg3d.tools.synthetic), its overlay video (H.264) and result JSON in the demo's format, the viewer
page, and a screenshot of it by headless Chromium.

The poses are the generator's ground truth placed in camera space (the fields a camera-space result
has), not a network's output: no trained checkpoint is needed, and the picture shows what the
viewer draws rather than what a particular model predicts.

    python scripts/make_viewer_picture.py [--out_dir exp/viewer_picture] [--picture docs/viewer.png]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from hg3d.demo.sinks import open_video_writer  # noqa: E402
from hg3d.files import write_json  # noqa: E402
from hg3d.joints import H36M_JOINTS, H36M_TO_MPII, MPII_JOINTS  # noqa: E402
from hg3d.tools.synthetic import camera_intrinsics, random_background, random_pose, render_person  # noqa: E402
from hg3d.viewer import write_viewer  # noqa: E402
from hg3d.visualize import draw_people_2d  # noqa: E402

WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 25, 10
CAMERA_HEIGHT_MM = 1500  # the feet stand this far below the camera


def turned(pose, degrees):
    return pose @ cv2.Rodrigues(np.array([0.0, np.deg2rad(degrees), 0.0]))[0].T


def motion(rng, frames):
    """Per frame, per person: root-relative joints (mm) and the root in camera space (mm). One
    person turns on the spot, the other walks across the view."""
    poses = [random_pose(rng) for _ in range(2)]
    people = []
    for index in range(frames):
        t = index / frames
        first = turned(poses[0], 360 * t)
        second = turned(poses[1], 90 + 40 * np.sin(2 * np.pi * t))
        roots = [[-900, 0, 5200], [-2200 + 4400 * t, 0, 6500]]
        for joints, root in zip((first, second), roots):
            root[1] = CAMERA_HEIGHT_MM - joints[:, 1].max()
        people.append([(first, np.array(roots[0], float)), (second, np.array(roots[1], float))])
    return people


def person_record(index, relative, root, uv):
    low, high = uv.min(0), uv.max(0)
    low, high = low - 0.1 * (high - low), high + 0.1 * (high - low)
    return {
        "index": index,
        "track_id": index + 1,
        "box": np.round(np.concatenate([low, high - low]), 2).tolist(),
        "box_source": "given",
        "joints_2d": np.round(uv[H36M_TO_MPII], 2).tolist(),
        "joints_3d_h36m_mm": np.round(relative, 2).tolist(),
        "root_cam_mm": np.round(root, 2).tolist(),
        "joints_3d_cam_mm": np.round(relative + root, 2).tolist(),
    }


def make_clip(out_dir, rng):
    """The overlay video and the result JSON; returns their paths."""
    intrinsics = camera_intrinsics(WIDTH, HEIGHT)
    background = random_background(rng, WIDTH, HEIGHT)
    video, result = os.path.join(out_dir, "walk_2d.mp4"), os.path.join(out_dir, "walk.json")
    writer = open_video_writer(video, FPS, (WIDTH, HEIGHT))
    frames = []
    for index, people in enumerate(motion(rng, FPS * SECONDS)):
        image = background.copy()
        records = []
        for slot in sorted(range(len(people)), key=lambda s: -people[s][1][2]):  # far people first
            relative, root = people[slot]
            uv = render_person(image, relative + root, intrinsics, np.random.default_rng(slot))
            records.append(person_record(slot, relative, root, uv))
        records.sort(key=lambda r: r["index"])
        writer.write(draw_people_2d(image, records))
        frames.append({"frame": index, "time_s": round(index / FPS, 4), "num_people": 2, "people": records})
    writer.release()
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    record = {
        "format_version": 2,
        "joint_names": list(MPII_JOINTS),
        "joint_names_h36m": list(H36M_JOINTS),
        "video": os.path.abspath(os.path.join(out_dir, "walk.mp4")),
        "fps": float(FPS),
        "num_frames": len(frames),
        "intrinsics": {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "dist": None, "source": "file"},
        "frames": frames,
    }
    write_json(result, record)
    return video, result


def screenshot(page, picture, frame):
    """Headless Chromium's picture of the page at ``frame``."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                "/usr/bin/chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
                "--no-first-run",
                "--disable-background-networking",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--window-size=1280,600",
                "--virtual-time-budget=10000",
                f"--screenshot={os.path.abspath(picture)}",
                f"file://{os.path.abspath(page)}#frame={frame}",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default=os.path.join(REPO, "exp", "viewer_picture"))
    parser.add_argument("--picture", default=os.path.join(REPO, "docs", "viewer.png"))
    parser.add_argument("--frame", type=int, default=120)
    opt = parser.parse_args()
    os.makedirs(opt.out_dir, exist_ok=True)
    video, result = make_clip(opt.out_dir, np.random.default_rng(4))
    page = os.path.join(opt.out_dir, "walk.html")
    size = write_viewer(result, page, video)
    embedded = write_viewer(result, os.path.join(opt.out_dir, "walk_embedded.html"), video, embed_video=True)
    screenshot(page, opt.picture, opt.frame)
    print(f"{page}: {size / 1e6:.2f} MB (the video beside it: {os.path.getsize(video) / 1e6:.2f} MB)")
    print(f"with the video embedded: {embedded / 1e6:.2f} MB; JSON {os.path.getsize(result) / 1e6:.2f} MB")
    print(f"picture: {opt.picture}")


if __name__ == "__main__":
    main()
