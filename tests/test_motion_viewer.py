"""The viewer of a demo run with --angles and --world (docs/motion.md), in a real browser: the angle
curves of the chosen track under the 3D view with a cursor that follows the frame, and the floor
grid where the world frame puts it."""

import json

import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browser import (
    FRAMES,
    SMALL,
    chromium,
    open_page,
    page_data,
    page_state,
    show_frame,
    wait_for,
    write_two_person_clip,
)
from hg3d.angles import ANGLE_NAMES
from hg3d.demo import run_demo
from test_world import tilted_camera


@pytest.fixture(scope="module")
def motion_page(tmp_path_factory, resnet18_3d_checkpoint):
    folder = tmp_path_factory.mktemp("motion_viewer")
    video, boxes = write_two_person_clip(folder, "two.mp4", seed=3)
    world = {"R": tilted_camera()[0].tolist(), "t": [100.0, 1500.0, -50.0]}
    (folder / "world.json").write_text(json.dumps(world))
    argv = ["--demo", str(video), "--bboxes", str(boxes), "--load_model", resnet18_3d_checkpoint, *SMALL]
    run_demo([*argv, "--out_dir", str(folder / "out"), "--html", "--angles", "--world", str(folder / "world.json")])
    return folder / "out" / "two.html", json.loads((folder / "out" / "two.json").read_text()), world


def test_the_page_carries_the_angles_and_the_world(motion_page):
    page, record, world = motion_page
    data = page_data(page)
    assert data["angle_names"] == list(ANGLE_NAMES)
    np.testing.assert_allclose(data["world"]["R"], world["R"], atol=1e-8)
    person = data["frames"][2]["people"][1]
    want = next(p for p in record["frames"][2]["people"] if p["track_id"] == person["id"])["angles"]
    assert person["angles"] == [want[name] for name in ANGLE_NAMES]


def test_the_angle_chart_follows_the_frame_and_the_floor_lies_on_the_world(motion_page, tmp_path):
    page, _, world = motion_page
    with chromium(tmp_path / "profile") as browser:
        open_page(browser, page, 0)
        assert browser.find_element(By.ID, "angles-panel").is_displayed()
        first = page_state(browser, 0)["chart"]
        normal, offset = browser.execute_script("return window.hg3dViewer.floorPlane()")
        last = show_frame(browser, FRAMES - 1)["chart"]
        middle = show_frame(browser, 2)["chart"]
        Select(browser.find_element(By.ID, "angle-track")).select_by_visible_text("id 2")
        state = "JSON.parse(document.body.dataset.hg3dState).chart"
        chart = wait_for(browser, state, lambda c: c["track"] == 2, "the chart of track 2")
    assert first["track"] == last["track"] == 1 and first["curves"] == len(ANGLE_NAMES)
    assert first["cursor_x"] < middle["cursor_x"] < last["cursor_x"]
    step = (last["cursor_x"] - first["cursor_x"]) / (FRAMES - 1)
    assert step > 20 and middle["cursor_x"] == pytest.approx(first["cursor_x"] + 2 * step, abs=0.5)
    assert chart["cursor_x"] == pytest.approx(middle["cursor_x"])
    np.testing.assert_allclose(normal, world["R"][1], atol=1e-6)  # the world's +Y in the camera frame
    assert offset == pytest.approx(-world["t"][1], abs=0.01)  # R[1] . X + t[1] = 0 on the floor


def test_the_first_view_takes_in_every_person_and_the_camera(motion_page, tmp_path):
    page, record, _ = motion_page
    with chromium(tmp_path / "profile") as browser:
        browser.set_window_size(600, 900)  # a tall, narrow view: its width limits
        open_page(browser, page, 0)
        state = page_state(browser, 0)
        box = browser.execute_script("return document.getElementById('view').getBoundingClientRect().toJSON()")
        every_joint = "[1, 2].flatMap((id) => [...Array(17).keys()].map((j) => window.hg3dViewer.jointOnPage(id, j)))"
        on_page = browser.execute_script(f"return {every_joint}")
        camera = browser.execute_script("return window.hg3dViewer.cameraOnPage()")
    assert state["tracks"] == [1, 2]
    for x, y in [*on_page, camera]:
        assert box["left"] <= x <= box["right"] and box["top"] <= y <= box["bottom"], (x, y, box)
