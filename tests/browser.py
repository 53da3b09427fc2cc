"""What the browser tests of the 3D viewer share: Debian's headless chromium driven by selenium
through chromedriver (nothing downloaded), polling a page until it reports the frame it drew, the
URLs it asked for, and a small two-person clip (the right-hand person turns round frame by frame)."""

import contextlib
import json
import os
import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from hg3d.demo.sinks import open_video_writer
from hg3d.tools.synthetic import camera_intrinsics, random_background, random_pose, render_person

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",  # WebGL in software: no GPU here
    "--enable-unsafe-swiftshader",
    "--window-size=1100,650",
)
SMALL = ["--arch", "msra_18", "--input_h", "128", "--input_w", "128", "--gpus", "-1"]
FPS, FRAMES, SIDE = 10, 5, 128


@contextlib.contextmanager
def chromium(profile_dir):
    """A selenium driver of headless chromium (skips the test without Debian's chromium and
    chromium-driver); its performance log records the requests ``requested_urls`` reads."""
    if not (os.path.isfile(CHROMIUM) and os.path.isfile(CHROMEDRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver, page, frame):
    """A fresh load of ``page`` at ``frame`` (not a jump within the page already open)."""
    driver.get("about:blank")
    driver.get_log("performance")  # what the browser did before
    driver.get(f"{Path(page).as_uri()}#frame={frame}")


def wait_for(driver, script, done, what, timeout=30):
    """Poll ``script`` until ``done(value)``; a script error reported by the page fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        value, error = driver.execute_script(f"return [{script}, document.body.dataset.hg3dError || null]")
        assert error is None, f"script error on the page: {error}"
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"the page did not show {what} within {timeout} s (last: {value})")
        time.sleep(0.05)


def page_state(driver, frame):
    """The page's report once it has drawn ``frame``."""
    state = wait_for(
        driver,
        "document.body.dataset.hg3dState || null",
        lambda s: s is not None and json.loads(s)["frame"] == frame,
        f"frame {frame}",
    )
    return json.loads(state)


def show_frame(driver, frame):
    driver.execute_script(f"window.location.hash = 'frame={frame}'")
    return page_state(driver, frame)


def video_ready(driver):
    """[readyState, videoWidth] of the page's video once it can show the current frame (>= 2)."""
    video = "document.getElementById('video')"
    return wait_for(driver, f"[{video}.readyState, {video}.videoWidth]", lambda v: v[0] >= 2, "a decoded video")


def requested_urls(driver):
    """Every URL the browser asked for since the last call (from its performance log)."""
    messages = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [m["params"]["request"]["url"] for m in messages if m["method"] == "Network.requestWillBeSent"]


def assert_nothing_fetched_from_the_network(driver):
    urls = requested_urls(driver)
    assert urls and urls[0].startswith("file://")
    assert [url for url in urls if url.split(":", 1)[0] not in ("file", "data", "blob")] == []


def page_data(page):
    """The scene data embedded in a written page."""
    return json.loads(re.search(r'id="hg3d-data">(.*?)</script>', Path(page).read_text()).group(1))


def expected_joints(frame):
    """Per track id: the joints the page must report (camera space where placed)."""
    return {
        str(p["track_id"]): p["joints_3d_cam_mm"] if p.get("joints_3d_cam_mm") is not None else p["joints_3d_h36m_mm"]
        for p in frame["people"]
        if p["joints_3d_h36m_mm"] is not None
    }


def two_person_frames(rng):
    """``FRAMES`` frames of two people side by side, the right one turning about the vertical, and
    their boxes (x, y, w, h) per frame."""
    intrinsics = camera_intrinsics(SIDE, SIDE)
    backgrounds = [random_background(rng, SIDE, SIDE) for _ in range(2)]
    poses = [random_pose(rng) for _ in range(2)]
    frames, boxes = [], []
    for index in range(FRAMES):
        halves, frame_boxes = [], []
        for person, (background, pose) in enumerate(zip(backgrounds, poses)):
            turn = cv2.Rodrigues(np.array([0.0, 0.6 * index * person, 0.0]))[0]
            joints = pose @ turn.T + [0, 0, 4.2 * 1000]
            image = background.copy()
            uv = render_person(image, joints, intrinsics, rng)
            low, high = uv.min(0) - 10, uv.max(0) + 10
            frame_boxes.append([round(float(low[0]) + person * SIDE, 1), round(float(low[1]), 1)])
            frame_boxes[-1] += [round(float(v), 1) for v in high - low]
            halves.append(image)
        frames.append(np.concatenate(halves, 1))
        boxes.append(frame_boxes)
    return frames, boxes


def write_two_person_clip(folder, name, seed):
    """``folder/name`` (an H.264 MP4 of ``two_person_frames``) and ``folder/boxes.json`` holding its
    boxes for ``--bboxes``."""
    frames, boxes = two_person_frames(np.random.default_rng(seed))
    video = Path(folder) / name
    writer = open_video_writer(str(video), FPS, (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame)
    writer.release()
    (Path(folder) / "boxes.json").write_text(json.dumps({name: boxes}))
    return video, Path(folder) / "boxes.json"
