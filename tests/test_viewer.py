"""The HTML viewer in a real browser (Debian's chromium driven by selenium through chromedriver):
the joints the page draws equal the JSON's, frames move, nothing is fetched from the network, script
errors are reported, and H.264 videos play. Without the browser only the Python-side tests run.

The two-person clip is a real demo run (random weights, --bboxes) on a small synthetic video whose
right-hand person turns round from frame to frame.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
from selenium.webdriver.common.by import By

from browser import (
    FPS,
    FRAMES,
    SIDE,
    SMALL,
    assert_nothing_fetched_from_the_network,
    chromium,
    expected_joints,
    open_page,
    page_data,
    page_state,
    requested_urls,
    show_frame,
    video_ready,
    wait_for,
    write_two_person_clip,
)
from helpers import REPO_DIR
from hg3d.commands import run_command
from hg3d.demo import run_demo
from hg3d.errors import UserError
from hg3d.viewer import write_viewer
from hg3d.viewer.cli import run_view
from hg3d.viewer.page import PHOTO_MAX_SIDE, THREE_DIR, THREE_VERSION, photo_source

BACKGROUND_BGR = (0x27, 0x21, 0x1D)  # the scene's background colour (#1d2127)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, resnet18_3d_checkpoint):
    """The demo's JSON of a two-person clip and the H.264 input video."""
    folder = tmp_path_factory.mktemp("viewer_clip")
    video, boxes = write_two_person_clip(folder, "two.mp4", seed=3)
    argv = ["--demo", str(video), "--bboxes", str(boxes), "--load_model", resnet18_3d_checkpoint]
    run_demo([*argv, "--out_dir", str(folder / "out"), *SMALL])
    result = folder / "out" / "two.json"
    record = json.loads(result.read_text())
    assert [[p["track_id"] for p in f["people"]] for f in record["frames"]] == [[1, 2]] * FRAMES
    return result, record, video


def placed_record(record):
    """``record`` with camera-space places (the fields of the camera-space JSON): every person
    placed, except track 2 on frame 1, and the intrinsics used."""
    placed = json.loads(json.dumps(record))
    placed["intrinsics"] = {"fx": 150.0, "fy": 150.0, "cx": 128.0, "cy": 64.0, "dist": None, "source": "fov"}
    for index, frame in enumerate(placed["frames"]):
        for person in frame["people"]:
            root = None if (index, person["track_id"]) == (1, 2) else [600.0 * person["track_id"] - 900, 150.0, 3800.0]
            person["root_cam_mm"] = root
            person["joints_3d_cam_mm"] = None if root is None else (np.add(person["joints_3d_h36m_mm"], root)).tolist()
    return placed


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium_profile")) as driver:
        yield driver


def view_picture(driver):
    png = driver.find_element(By.ID, "view").screenshot_as_png
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def clip_page(clip, tmp_path_factory):
    result, _, video = clip
    page = tmp_path_factory.mktemp("pages") / "two.html"
    write_viewer(str(result), str(page), str(video))
    return page


def test_page_reports_the_json_joints_frame_by_frame(browser, clip, clip_page):
    _, record, _ = clip
    open_page(browser, clip_page, 0)
    for frame in (0, 3, 1, FRAMES - 1):
        state = show_frame(browser, frame) if frame else page_state(browser, 0)
        expected = expected_joints(record["frames"][frame])
        assert state["ready"] and state["frames"] == FRAMES and state["tracks"] == [1, 2]
        assert sorted(state["joints"]) == sorted(expected) == ["1", "2"]
        for track, joints in expected.items():
            np.testing.assert_allclose(state["joints"][track], joints, atol=1e-6, err_msg=f"frame {frame} id {track}")
    label = browser.find_element(By.ID, "frame-label").text
    assert label == f"frame {FRAMES - 1} / {FRAMES - 1} \u00b7 {(FRAMES - 1) / FPS:.2f} s"
    assert_nothing_fetched_from_the_network(browser)


def test_placed_people_are_reported_in_camera_space_unplaced_ones_root_relative(browser, clip, tmp_path):
    _, record, video = clip
    placed = placed_record(record)
    page = tmp_path / "placed.html"
    write_viewer(placed, str(page), str(video))
    open_page(browser, page, 1)
    for frame in (1, 2):
        state = page_state(browser, 1) if frame == 1 else show_frame(browser, 2)
        for track, joints in expected_joints(placed["frames"][frame]).items():
            np.testing.assert_allclose(state["joints"][track], joints, atol=1e-6, err_msg=f"frame {frame} id {track}")
    on_frame_1 = placed["frames"][1]["people"]
    assert on_frame_1[1]["joints_3d_cam_mm"] is None and on_frame_1[0]["joints_3d_cam_mm"] is not None


def test_two_frames_of_a_moving_person_look_different_and_show_a_drawing(browser, clip_page):
    open_page(browser, clip_page, 0)
    page_state(browser, 0)
    first = view_picture(browser)
    show_frame(browser, 3)
    second = view_picture(browser)
    for picture in (first, second):
        drawn = np.abs(picture.astype(int) - BACKGROUND_BGR).sum(2) > 60
        assert 0.01 < drawn.mean() < 0.6, drawn.mean()  # a grid, a camera and two people; not a blank page
    changed = np.abs(first.astype(int) - second.astype(int)).sum(2) > 60
    assert changed.mean() > 0.001, changed.mean()


def test_hovering_a_joint_names_it_with_its_coordinates(browser, clip, clip_page):
    _, record, _ = clip
    open_page(browser, clip_page, 2)
    state = page_state(browser, 2)
    names = record["joint_names_h36m"]
    canvas = browser.find_element(By.CSS_SELECTOR, "#view canvas")
    x, y = browser.execute_script("return window.hg3dViewer.jointOnPage(2, 13)")  # l_wrist of track 2
    box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top]", canvas)
    ActionChains(browser).move_to_element_with_offset(canvas, 0, 0).perform()
    size = canvas.size
    offset = (round(x - box[0] - size["width"] / 2), round(y - box[1] - size["height"] / 2))
    ActionChains(browser).move_to_element_with_offset(canvas, *offset).perform()
    tooltip = "document.getElementById('tooltip')"
    text = wait_for(browser, f"{tooltip}.hidden ? null : {tooltip}.textContent", bool, "a tooltip")
    match = re.fullmatch(r"id (\d+) \u00b7 (\w+)\nx (\S+)  y (\S+)  z (\S+) mm", text)
    assert match, text
    track, name = match.group(1), match.group(2)
    joint = state["joints"][track][names.index(name)]
    assert [float(v) for v in match.group(3, 4, 5)] == pytest.approx(joint, abs=0.051)
    shown = browser.execute_script(f"return window.hg3dViewer.jointOnPage({track}, {names.index(name)})")
    assert np.hypot(shown[0] - x, shown[1] - y) < 12  # the joint under the pointer (or one drawn over it)


def labels_on_page(driver):
    """The names drawn over the 3D view, by text: their boxes on the page (CSS pixels)."""
    return {label["text"]: label for label in driver.execute_script("return window.hg3dViewer.labelsOnPage()")}


def test_labels_keep_their_size_on_screen_when_zooming(browser, clip_page):
    """Track ids and the camera's name are sized in screen pixels, not in scene units: zooming in
    moves them apart but does not grow them (so the camera's name cannot cover people near it)."""
    open_page(browser, clip_page, 0)
    page_state(browser, 0)
    before = labels_on_page(browser)
    assert sorted(before) == ["camera", "id 1", "id 2"]
    canvas = browser.find_element(By.CSS_SELECTOR, "#view canvas")
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(canvas), 0, -400).perform()  # wheel: zoom in
    moved = "JSON.stringify(window.hg3dViewer.labelsOnPage().map((l) => [l.left, l.top]))"
    wait_for(browser, moved, lambda v: json.loads(v) != [[b["left"], b["top"]] for b in before.values()], "a zoom")
    time.sleep(0.3)  # the wheel's remaining steps
    after = labels_on_page(browser)
    assert sorted(after) == sorted(before)

    def apart(labels):
        return np.hypot(labels["id 1"]["left"] - labels["id 2"]["left"], labels["id 1"]["top"] - labels["id 2"]["top"])

    assert apart(after) > 1.2 * apart(before), (before, after)  # the view did zoom in
    for text, box in before.items():
        assert (after[text]["width"], after[text]["height"]) == pytest.approx((box["width"], box["height"]), abs=0.5)
        assert box["height"] < 24, box  # a line of small text


def wandering_record(record):
    """``placed_record`` with people far apart over the clip: track 1 walks from 3 m left of the
    camera, 4 m away, to 3 m right, 9 m away; track 2 stands 1.2 m in front of the camera."""
    wandering = placed_record(record)
    for index, frame in enumerate(wandering["frames"]):
        t = index / (FRAMES - 1)
        roots = {1: [-3000 + 6000 * t, 200.0, 4000 + 5000 * t], 2: [300.0, 300.0, 1200.0]}
        for person in frame["people"]:
            root = roots[person["track_id"]]
            person["root_cam_mm"] = root
            person["joints_3d_cam_mm"] = np.add(person["joints_3d_h36m_mm"], root).tolist()
    return wandering


def assert_the_clip_is_on_the_canvas(driver):
    """Every joint of every person on every frame, and the demo's camera, drawn inside the canvas
    from where the view is now (stepping through the frames does not move the view)."""
    canvas = "document.querySelector('#view canvas').getBoundingClientRect().toJSON()"
    box = driver.execute_script(f"return {canvas}")
    points = []
    for frame in range(FRAMES):
        tracks = show_frame(driver, frame)["tracks"]
        joints = "[...Array(17).keys()].map((j) => window.hg3dViewer.jointOnPage(id, j))"
        points += driver.execute_script(f"return {tracks}.flatMap((id) => {joints})")
    points.append(driver.execute_script("return window.hg3dViewer.cameraOnPage()"))
    assert len(points) == FRAMES * 2 * 17 + 1
    for x, y in points:
        assert box["left"] <= x <= box["right"] and box["top"] <= y <= box["bottom"], (x, y, box)


def test_the_first_view_frames_every_person_of_the_clip_and_the_camera(browser, clip, tmp_path):
    """At load, whatever the window's shape, and after the window is resized before the view is
    moved, everyone of the whole clip (not only the first frame) and the camera are in view."""
    _, record, video = clip
    page = tmp_path / "wandering.html"
    write_viewer(wandering_record(record), str(page), str(video))
    try:
        for width, height in ((520, 900), (1100, 420)):  # the width limits, then the height
            browser.set_window_size(width, height)
            open_page(browser, page, 0)
            page_state(browser, 0)
            assert_the_clip_is_on_the_canvas(browser)
        browser.set_window_size(480, 950)  # narrowed after loading: framed again
        resized = "document.querySelector('#view canvas').width === document.getElementById('view').clientWidth"
        wait_for(browser, resized, bool, "the canvas resized")
        assert_the_clip_is_on_the_canvas(browser)
    finally:
        browser.set_window_size(1100, 650)


# Records, on every animation frame while the video plays, the frame the page reports and the video's time.
RECORD_PLAYBACK = """
window.playback = [];
const video = document.getElementById('video');
(function sample() {
  if (!video.paused) window.playback.push([JSON.parse(document.body.dataset.hg3dState).frame, video.currentTime]);
  requestAnimationFrame(sample);
})();
"""


def test_h264_video_plays_and_the_3d_follows_it(browser, clip, clip_page):
    open_page(browser, clip_page, 2)
    page_state(browser, 2)
    video = "document.getElementById('video')"
    assert video_ready(browser)[1] == 2 * SIDE
    assert browser.execute_script(f"return {video}.currentTime") == pytest.approx(2.5 / FPS, abs=1e-3)
    show_frame(browser, 0)
    browser.execute_script(RECORD_PLAYBACK)
    browser.find_element(By.ID, "play").click()
    wait_for(browser, f"{video}.paused ? null : {video}.currentTime", bool, "the video playing")
    state = page_state(browser, FRAMES - 1)  # played to the end
    assert browser.find_element(By.ID, "play").text == "Play"
    playback = np.array(browser.execute_script("return window.playback"))
    assert len(set(playback[:, 0])) >= 3, playback  # the 3D moved on while the video played
    lag = playback[:, 0] - np.floor(playback[:, 1] * FPS + 1e-3)
    assert np.abs(lag).max() <= 1 and np.mean(lag == 0) > 0.5, playback  # at most one animation frame behind
    assert state["frame"] == FRAMES - 1
    assert_nothing_fetched_from_the_network(browser)


def test_embedded_video_plays_from_the_page_alone(browser, clip, tmp_path):
    result, _, video = clip
    page = tmp_path / "alone" / "two.html"
    write_viewer(str(result), str(page), str(video), embed_video=True)
    assert os.listdir(page.parent) == ["two.html"]
    open_page(browser, page, 0)
    page_state(browser, 0)
    video_ready(browser)
    urls = requested_urls(browser)
    assert not [u for u in urls if u.startswith("file://") and not u.startswith(page.as_uri())]


def test_an_image_result_is_one_frame_without_a_timeline(browser, clip, tmp_path):
    _, record, _ = clip
    people = [dict(p, track_id=None) for p in record["frames"][0]["people"]]
    image = {key: value for key, value in record.items() if key not in ("frames", "video", "fps", "tracks")}
    image.update(image="/somewhere/<b>two&amp;.png", num_people=2, people=people)
    image["joint_names_h36m"] = ["pelvis</script><script>throw 1</script>", *record["joint_names_h36m"][1:]]
    page = tmp_path / "image.html"
    write_viewer(image, str(page))
    open_page(browser, page, 0)
    state = page_state(browser, 0)
    assert state["frames"] == 1 and state["tracks"] == [0, 1]
    second = people[1]  # drawn in camera space where placed
    drawn = second["joints_3d_cam_mm"] if second.get("joints_3d_cam_mm") is not None else second["joints_3d_h36m_mm"]
    np.testing.assert_allclose(state["joints"]["1"], drawn, atol=1e-6)
    assert not browser.find_element(By.ID, "timeline").is_displayed()
    assert browser.find_element(By.TAG_NAME, "h1").text == "<b>two&amp;"  # names are text, not markup


def test_placeholders_in_names_stay_text(browser, clip, tmp_path):
    """The template is filled in one pass: "{{SCRIPT}}" or "{{DATA}}" in a file or joint name is
    shown as it is, not replaced by the page's script or data."""
    _, record, _ = clip
    image = {key: value for key, value in record.items() if key not in ("frames", "video", "fps", "tracks")}
    image.update(image="/photos/{{SCRIPT}}.jpg", people=record["frames"][0]["people"])
    image["joint_names_h36m"] = ["{{DATA}}", *record["joint_names_h36m"][1:]]
    page = tmp_path / "placeholders.html"
    write_viewer(image, str(page))
    assert page_data(page)["joint_names"][0] == "{{DATA}}"
    open_page(browser, page, 0)
    assert page_state(browser, 0)["frames"] == 1
    assert browser.find_element(By.TAG_NAME, "h1").text == "{{SCRIPT}}"


def test_a_script_error_is_reported_on_the_page(browser, clip, tmp_path):
    result, _, _ = clip
    page = tmp_path / "broken.html"
    write_viewer(str(result), str(page))
    text = page.read_text()
    page.write_text(text.replace('"edges":[[', '"edges":[[99,', 1))  # a bone to a joint that is not there
    open_page(browser, page, 0)
    deadline = time.monotonic() + 30
    while not browser.execute_script("return document.body.dataset.hg3dError || null"):
        assert time.monotonic() < deadline, "no error reported"
        time.sleep(0.05)
    assert "TypeError" in browser.execute_script("return document.body.dataset.hg3dError")


# --- the page as a file --------------------------------------------------------------------------


def test_the_page_refers_to_nothing_outside_itself(clip, clip_page):
    text = clip_page.read_text()
    import_map = re.search(r'<script type="importmap">(.*?)</script>', text, re.S)
    modules = json.loads(import_map.group(1))["imports"]
    for name, url in modules.items():
        assert url.startswith("data:text/javascript;base64,"), name
        source = base64.b64decode(url.split(",", 1)[1]).decode()
        specifiers = re.findall(r"""(?:\}\s*from|\bimport)\s*["']([^"']+)["']""", source)  # static imports
        assert set(specifiers) <= set(modules) and "import(" not in source, (name, specifiers)
    own = text.replace(import_map.group(0), "")  # the page's own HTML, style, script and data
    assert re.findall(r"https?:|//", own, re.I) == []
    assert re.findall(r"<[^>]*\s(?:src|href|poster)\s*=", own) == []  # no element loads anything by itself
    assert page_data(clip_page)["video"] == os.path.relpath(clip[2], clip_page.parent)  # the one file it plays


def test_vendored_three_is_the_pinned_release_with_its_licence():
    table = Path(THREE_DIR, "SOURCE.md").read_text()
    listed = dict(re.findall(r"\| `([^`]+)` \| `[^`]+` \| `([0-9a-f]{64})` \|", table))
    assert sorted(listed) == sorted(set(os.listdir(THREE_DIR)) - {"SOURCE.md"})
    assert {"LICENSE", "OrbitControls.js", "three.core.min.js", "three.module.min.js"} <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256(Path(THREE_DIR, name).read_bytes()).hexdigest() == digest, name
    assert f"`three@{THREE_VERSION}`" in table
    assert "MIT License" in Path(THREE_DIR, "LICENSE").read_text()


def test_view_command_writes_the_page_beside_the_json_with_its_overlay_video(clip, tmp_path, monkeypatch, capsys):
    result, _, video = clip
    shutil.copy(result, tmp_path / "two.json")
    shutil.copy(video, tmp_path / "two_2d.mp4")
    monkeypatch.chdir(tmp_path)
    assert run_command(run_view, ["two.json"]) == 0
    assert capsys.readouterr().out.startswith("two.json -> two.html (")
    assert page_data(tmp_path / "two.html")["video"] == "two_2d.mp4"
    monkeypatch.chdir(REPO_DIR)
    assert run_command(run_view, [str(tmp_path / "two.json"), "-o", str(tmp_path / "sub" / "page.html")]) == 0
    assert page_data(tmp_path / "sub" / "page.html")["video"] == "../two_2d.mp4"


def test_view_command_shows_an_image_results_overlay_picture(clip, tmp_path, monkeypatch):
    _, record, _ = clip
    image = {key: value for key, value in record.items() if key not in ("frames", "video", "fps", "tracks")}
    image.update(image="/photos/two.png", people=[dict(p, track_id=None) for p in record["frames"][0]["people"]])
    (tmp_path / "two.json").write_text(json.dumps(image))
    overlay = np.zeros((90, 160, 3), np.uint8)
    overlay[:, :, 1] = np.linspace(0, 255, 160)
    cv2.circle(overlay, (80, 45), 30, (255, 255, 255), -1)
    cv2.imwrite(str(tmp_path / "two_2d.png"), overlay)
    monkeypatch.chdir(tmp_path)
    assert run_command(run_view, ["two.json"]) == 0
    data = page_data(tmp_path / "two.html")
    assert [p["name"] for p in data["frames"][0]["people"]] == ["#0", "#1"]  # as the overlay names them
    assert np.abs(decoded_photo(data["photo"]).astype(int) - overlay).mean() < 3  # JPEG: near, not equal
    (tmp_path / "two_2d.png").unlink()
    assert run_command(run_view, ["two.json"]) == 0
    assert page_data(tmp_path / "two.html")["photo"] is None


def decoded_photo(source):
    prefix = "data:image/jpeg;base64,"
    assert source.startswith(prefix)
    return cv2.imdecode(np.frombuffer(base64.b64decode(source[len(prefix) :]), np.uint8), cv2.IMREAD_COLOR)


def test_a_large_photo_is_embedded_at_a_bounded_size(tmp_path):
    """A 12-megapixel picture goes into the page shrunk to PHOTO_MAX_SIDE on its longer side (a
    smooth one well under 1 MB)."""
    ramp = np.linspace(0, 255, 4000, dtype=np.float32)
    big = np.stack([np.tile(ramp, (3000, 1)), np.tile(ramp[:3000, None], (1, 4000)), np.full((3000, 4000), 90)], 2)
    cv2.imwrite(str(tmp_path / "big.png"), big.astype(np.uint8))
    source = photo_source(str(tmp_path / "big.png"))
    shrunk = decoded_photo(source)
    assert shrunk.shape == (PHOTO_MAX_SIDE * 3 // 4, PHOTO_MAX_SIDE, 3)
    want = cv2.resize(big.astype(np.uint8), (PHOTO_MAX_SIDE, PHOTO_MAX_SIDE * 3 // 4), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk.astype(int) - want).mean() < 2
    assert len(source) < 1_000_000


@pytest.mark.parametrize(
    "content,args,message",
    [
        (None, [], r"cannot read demo result missing\.json: .*No such file"),
        ("{not json", [], r"cannot read demo result missing\.json: "),
        ('{"a": 1}', [], r"missing\.json is not a demo result"),
        ('{"people": [{"index": 0, "joints_2d": []}]}', [], r"missing\.json has no 3D joints"),
        ('{"frames": []}', [], r"missing\.json has no frames"),
        ('{"frames": [{"people": []}]}', ["--video", "nope.mp4"], r"video nope\.mp4 not found"),
        ('{"people": []}', ["--embed_video"], r"--embed_video: no video beside missing\.json"),
        ('{"frames": [{"people": []}], "fps": "30"}', [], r"missing\.json: 'fps' is \"30\", not a positive number"),
        ('{"frames": [{"people": []}], "fps": 0}', [], r"missing\.json: 'fps' is 0, not a positive number"),
        (
            '{"frames": [{"time_s": "0.5", "people": []}]}',
            [],
            r"missing\.json frame 0: 'time_s' is \"0\.5\", not a time",
        ),
        (
            '{"frames": [{"people": []}, {"frame": 1.5}]}',
            [],
            r"missing\.json frame 1: 'frame' is 1\.5, not a frame number",
        ),
        ('{"frames": [7]}', [], r"missing\.json frame 0 is 7, not an object with 'frame', 'time_s' and 'people'"),
        ('{"frames": [{"people": 3}]}', [], r"missing\.json frame 0: 'people' is 3, not a list of people"),
        ('{"people": [], "intrinsics": {"fx": "wide"}}', [], r"missing\.json: 'intrinsics' is .*, not an object of"),
        (
            '{"people": [], "joint_names_h36m": ["a"]}',
            [],
            r"missing\.json: 'joint_names_h36m' is \[\"a\"\], not a list",
        ),
        ('{"people": [], "image": 5}', [], r"missing\.json: 'image' is 5, not a file name"),
        ('{"people": []}', ["--photo", "nope.png"], r"picture nope\.png not found or not an image"),
        ('{"frames": [{"people": []}]}', ["--photo", "a.png"], r"--photo: missing\.json is a video result"),
    ],
)
def test_view_command_one_line_errors(tmp_path, monkeypatch, capsys, content, args, message):
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / "missing.json").write_text(content)
    assert run_command(run_view, ["missing.json", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and re.match(f"error: {message}", err), err
    assert os.listdir(tmp_path) == ([] if content is None else ["missing.json"])


def test_write_viewer_rejects_malformed_joints(clip, tmp_path):
    _, record, _ = clip
    broken = json.loads(json.dumps(record))
    person = broken["frames"][1]["people"][0]
    person["joints_3d_cam_mm" if person.get("joints_3d_cam_mm") is not None else "joints_3d_h36m_mm"] = [[0, 0, 0]] * 16
    with pytest.raises(UserError, match="not 17 x 3 finite numbers"):
        write_viewer(broken, str(tmp_path / "x.html"))
