"""hg3d-demo --html: the 3D viewer written next to the JSON for images, folders and videos (a
video's page plays the demo's H.264 overlay video, checked in the browser); the demo's videos are
H.264; a 2D checkpoint is refused."""

import contextlib
import io
import json

import av
import cv2
import numpy as np
import pytest
from selenium.webdriver.common.by import By

from browser import (
    FRAMES,
    SIDE,
    SMALL,
    chromium,
    expected_joints,
    open_page,
    page_data,
    page_state,
    requested_urls,
    show_frame,
    two_person_frames,
    video_ready,
    wait_for,
    write_two_person_clip,
)
from hg3d import commands
from hg3d.demo import run_demo


def demo_output(argv):
    """What the demo printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run_demo(argv)
    return printed.getvalue()


@pytest.fixture(scope="module")
def video_run(tmp_path_factory, resnet18_3d_checkpoint):
    """The output folder of ``--html`` on a two-person clip, what the demo printed, and its JSON."""
    folder = tmp_path_factory.mktemp("demo_html_video")
    video, boxes = write_two_person_clip(folder, "two.mp4", seed=5)
    out = folder / "out"
    argv = ["--demo", str(video), "--bboxes", str(boxes), "--load_model", resnet18_3d_checkpoint, "--html"]
    printed = demo_output([*argv, "--out_dir", str(out), *SMALL])
    return out, printed, json.loads((out / "two.json").read_text())


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium_profile")) as driver:
        yield driver


def test_video_page_is_written_next_to_the_json(video_run):
    out, printed, record = video_run
    assert sorted(p.name for p in out.iterdir()) == ["two.html", "two.json", "two_2d.mp4", "two_3d.mp4"]
    assert f"-> {out / 'two'}{{_2d.mp4,_3d.mp4,.json,.html}}: {FRAMES} frames, 2 track(s)" in printed
    data = page_data(out / "two.html")
    assert data["video"] == "two_2d.mp4" and data["is_video"] and data["tracks"] == [1, 2]
    assert [f["frame"] for f in data["frames"]] == [f["frame"] for f in record["frames"]] == list(range(FRAMES))


def test_demo_videos_are_h264(video_run):
    out, _, _ = video_run
    for name, width in (("two_2d.mp4", 2 * SIDE), ("two_3d.mp4", None)):
        with av.open(str(out / name)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p"), name
            assert width is None or stream.width == width
            assert sum(1 for _ in container.decode(stream)) == FRAMES, name


def test_demo_page_shows_the_json_joints_and_plays_its_video(browser, video_run):
    out, _, record = video_run
    open_page(browser, out / "two.html", 0)
    for frame in (0, 3):
        state = show_frame(browser, frame) if frame else page_state(browser, 0)
        expected = expected_joints(record["frames"][frame])
        assert state["frames"] == FRAMES and sorted(state["joints"]) == sorted(expected) == ["1", "2"]
        for track, joints in expected.items():
            np.testing.assert_allclose(state["joints"][track], joints, atol=1e-6, err_msg=f"frame {frame} id {track}")
    assert video_ready(browser)[1] == 2 * SIDE  # the H.264 overlay decodes in Chromium
    urls = requested_urls(browser)
    assert (out / "two_2d.mp4").as_uri() in urls
    assert [url for url in urls if url.split(":", 1)[0] not in ("file", "data", "blob")] == []


@pytest.fixture(scope="module")
def images_run(tmp_path_factory, resnet18_3d_checkpoint):
    """The output folder of ``--html`` on a folder of two two-person images, and what the demo printed."""
    tmp_path = tmp_path_factory.mktemp("demo_html_images")
    frames, boxes = two_person_frames(np.random.default_rng(8))
    folder, out = tmp_path / "pictures", tmp_path / "out"
    folder.mkdir()
    for name, index in (("a.png", 0), ("b.png", 3)):
        cv2.imwrite(str(folder / name), frames[index])
    (tmp_path / "boxes.json").write_text(json.dumps({"a.png": boxes[0], "b.png": boxes[3]}))
    argv = ["--demo", str(folder), "--bboxes", str(tmp_path / "boxes.json"), "--html"]
    return out, demo_output([*argv, "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out), *SMALL])


def test_folder_of_images_gets_a_page_per_image(images_run):
    out, printed = images_run
    for stem in ("a", "b"):
        assert f"-> {out / stem}{{_2d.png,_3d.png,.json,.html}}: 2 person(s)" in printed
        people = json.loads((out / f"{stem}.json").read_text())["people"]
        data = page_data(out / f"{stem}.html")
        assert data["video"] is None and not data["is_video"] and len(data["frames"]) == 1
        assert data["photo"].startswith("data:image/jpeg;base64,")  # the overlay, inside the page
        drawn = data["frames"][0]["people"]
        assert [p["id"] for p in drawn] == [0, 1]
        for person, pose in zip(people, drawn):  # exactly the JSON's numbers, in camera space where placed
            placed = person["joints_3d_cam_mm"] is not None
            assert pose["joints"] == person["joints_3d_cam_mm" if placed else "joints_3d_h36m_mm"]


def test_image_page_shows_the_overlay_picture_beside_the_3d(browser, images_run):
    """The photo with the demo's 2D skeletons and ids, left of the 3D view, where the 3D names each
    person as the overlay does (#0, #1): its pixels are the demo's <name>_2d.png."""
    out, _ = images_run
    open_page(browser, out / "a.html", 0)
    assert page_state(browser, 0)["tracks"] == [0, 1]
    photo = "document.getElementById('photo')"
    size = wait_for(browser, f"{photo}.complete ? [{photo}.naturalWidth, {photo}.naturalHeight] : null", bool, "it")
    overlay = cv2.imread(str(out / "a_2d.png"))
    assert size == [overlay.shape[1], overlay.shape[0]]
    element = browser.find_element(By.ID, "photo")
    shown = cv2.imdecode(np.frombuffer(element.screenshot_as_png, np.uint8), cv2.IMREAD_COLOR)
    assert shown.shape[1] > overlay.shape[1]  # drawn larger than the picture's own pixels
    shown = cv2.resize(shown, (overlay.shape[1], overlay.shape[0]), interpolation=cv2.INTER_AREA).astype(int)
    assert shown.std() > 20  # not a blank box

    def blurred(image):
        return cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), 2)

    assert np.abs(blurred(shown) - blurred(overlay)).mean() < 2  # the picture (JPEG, scaled: near, not equal)
    photo = cv2.imread(str(out.parent / "pictures" / "a.png")).astype(int)
    drawn = np.abs(overlay - photo).sum(2) > 150  # the skeletons, boxes and names the demo drew on it
    nearer = (
        np.abs(blurred(shown) - blurred(overlay))[drawn].mean()
        < 0.5 * np.abs(blurred(shown) - blurred(photo))[drawn].mean()
    )
    assert drawn.mean() > 0.02 and nearer
    box = "document.getElementById('{}').getBoundingClientRect().toJSON()"
    picture, view = (browser.execute_script(f"return {box.format(name)}") for name in ("photo", "view"))
    assert picture["right"] <= view["left"] and picture["bottom"] > view["top"]  # beside the 3D
    names = browser.execute_script("return window.hg3dViewer.labelsOnPage().map((l) => l.text)")
    assert sorted(names) == ["#0", "#1", "camera"]
    assert [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#legend li")] == ["#0", "#1"]


def test_html_with_a_2d_checkpoint_is_a_one_line_error(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--demo", str(tmp_path), "--task", "human2d", "--html", "--out_dir", str(out), *SMALL]
    assert commands.demo(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --html shows 3D poses and --task human2d gives none") and "\n" not in err
    assert not out.exists()
