"""hg3d-triangulate end to end: demo-format JSONs of a synthetic rig, made from known 3D people."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from browser import chromium, open_page, page_state
from helpers import REPO_DIR
from hg3d.errors import UserError
from hg3d.multiview import match_people, run_triangulate
from hg3d.skeleton import to_h36m_order
from multiview_rig import person, rig, write_calib_toml

SCRIPT = os.path.join(REPO_DIR, "scripts", "triangulate.py")
FPS = 25.0


def walking_people(num_frames=12, seed=0):
    """(T, P, 16, 3) two people walking past each other, mm, z up."""
    rng = np.random.default_rng(seed)
    poses = [person(rng, (-700.0, 300.0)), person(rng, (600.0, -400.0))]
    steps = np.arange(num_frames)[:, None, None, None] * np.array([[[40.0, 0, 0]], [[-35.0, 10.0, 0]]])
    return np.stack(poses)[None] + steps


def write_view(path, camera, people_3d, order=None, extra=None, media=None):
    """The demo's JSON of one camera: every frame's people projected, listed in ``order``;
    ``extra``: a person seen by this view only (its pixels)."""
    frames = []
    for index, people in enumerate(people_3d):
        listed = [camera.project(p) for p in people]
        listed = [listed[k] for k in (order or range(len(listed)))]
        if extra is not None:
            listed.append(extra)
        frames.append(
            {
                "frame": index,
                "time_s": index / FPS,
                "num_people": len(listed),
                "people": [
                    {"index": k, "track_id": k + 1, "joints_2d": px.tolist(), "confidence": [0.9] * 16}
                    for k, px in enumerate(listed)
                ],
            }
        )
    record = {"format_version": 2, "video": media, "fps": FPS, "num_frames": len(frames), "frames": frames}
    with open(path, "w") as handle:
        json.dump(record, handle)
    return str(path)


def setup_views(tmp_path, truth, cameras):
    calib = tmp_path / "Calib.toml"
    write_calib_toml(calib, cameras)
    orders = [None, [1, 0], None, [1, 0]]
    lonely = cameras[2].project(person(np.random.default_rng(9), (2500.0, 2500.0)))  # outside the other views' match
    views = [
        write_view(tmp_path / f"cam{v + 1}.json", camera, truth, orders[v], lonely if v == 2 else None)
        for v, camera in enumerate(cameras)
    ]
    return str(calib), views


@pytest.mark.e2e
def test_the_command_puts_people_of_four_views_in_the_world_frame(tmp_path):
    cameras, truth = rig(), walking_people()
    calib, views = setup_views(tmp_path, truth, cameras)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO_DIR, "src")}
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--calib", calib, "--views", *views, "--out_dir", str(out), "--bvh"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "matched in no other view" in proc.stdout
    result = json.loads((out / "cam1.json").read_text())
    assert result["format_version"] == 1 and [c["name"] for c in result["cameras"]] == [c.name for c in cameras]
    assert result["num_frames"] == len(truth)
    ids_of = [set(), set()]
    for frame, people in zip(result["frames"], truth):
        assert frame["num_people"] == 2
        for found in frame["people"]:
            joints = np.array(found["joints_3d_world_mm"])
            errors = np.linalg.norm(joints[None] - people, axis=-1).max(-1)
            who = int(np.argmin(errors))
            assert errors[who] < 1.0
            ids_of[who].add(found["track_id"])
            assert found["views"] == [[0, 1, 2, 3]] * 16 and max(found["reprojection_px"]) < 0.1
            assert len(found["joints_3d_world_h36m_mm"]) == 17
    assert len(ids_of[0]) == len(ids_of[1]) == 1 and ids_of[0] != ids_of[1]  # one id per person, all along
    assert sorted(p.name for p in out.glob("*.bvh")) == ["cam1_track1.bvh", "cam1_track2.bvh"]


def test_a_person_behind_the_first_camera_is_tracked_by_the_others(tmp_path):
    """Person 0 walks near the middle; person 1 walks behind the first camera (which cannot see
    them, so its JSON lists person 0 only): both keep one track id all along."""
    cameras, rng = rig(), np.random.default_rng(3)
    axis = cameras[0].R[2]  # the first camera's viewing direction in the world frame
    start = (cameras[0].centre[0] - 1500.0 * axis[0], cameras[0].centre[1] - 1500.0 * axis[1])
    poses = np.stack([person(rng, (-300.0, 0.0)), person(rng, start)])
    truth = poses[None] + np.arange(10)[:, None, None, None] * np.array([[[30.0, 0, 0]], [[0, 25.0, 0]]])
    assert np.isnan(cameras[0].project(truth[:, 1])).all()  # behind the first camera
    calib = tmp_path / "Calib.toml"
    write_calib_toml(calib, cameras)
    views = [
        write_view(tmp_path / f"cam{v + 1}.json", c, truth[:, :1] if v == 0 else truth) for v, c in enumerate(cameras)
    ]
    result = run_triangulate(["--calib", str(calib), "--views", *views, "--out_dir", str(tmp_path / "out")])
    ids_of = [set(), set()]
    for frame, people in zip(result["frames"], truth):
        assert frame["num_people"] == 2
        for found in frame["people"]:
            errors = np.linalg.norm(np.array(found["joints_3d_world_mm"])[None] - people, axis=-1).max(-1)
            assert errors.min() < 1.0
            ids_of[int(np.argmin(errors))].add(found["track_id"])
    assert len(ids_of[0]) == len(ids_of[1]) == 1 and None not in ids_of[1] and ids_of[0] != ids_of[1]


def test_people_listed_in_other_orders_are_matched_by_epipolar_distance():
    cameras, truth = rig(3), walking_people(1)[0]
    people = [
        [(cameras[0].project(truth[0]), np.ones(16)), (cameras[0].project(truth[1]), np.ones(16))],
        [(cameras[1].project(truth[1]), np.ones(16)), (cameras[1].project(truth[0]), np.ones(16))],
        [(cameras[2].project(truth[0]), np.ones(16))],
    ]
    assert match_people(cameras, people, 30.0) == [((0, 0), (1, 1), (2, 0)), ((0, 1), (1, 0))]


def test_view_mismatches_and_bad_sizes_are_one_line_errors(tmp_path):
    cameras, truth = rig(2), walking_people()
    calib = tmp_path / "Calib.toml"
    write_calib_toml(calib, cameras)
    a = write_view(tmp_path / "a.json", cameras[0], truth)
    b = write_view(tmp_path / "b.json", cameras[1], truth[2:])
    with pytest.raises(UserError, match=r"different frame counts .*a.json: 12, .*b.json: 10.*--offsets"):
        run_triangulate(["--calib", str(calib), "--views", a, b, "--out_dir", str(tmp_path / "out")])
    result = run_triangulate(
        ["--calib", str(calib), "--views", a, b, "--offsets", "2", "0", "--out_dir", str(tmp_path / "out")]
    )
    assert result["num_frames"] == 10 and result["frames"][0]["frame"] == 2
    first = np.array(result["frames"][0]["people"][0]["joints_3d_world_mm"])
    assert np.linalg.norm(first[None] - truth[2], axis=-1).max(-1).min() < 1.0
    late = json.loads(open(b).read())
    for frame in late["frames"][5:]:
        frame["time_s"] += 0.1  # a dropped stretch: the frames after it run late
    late_path = tmp_path / "late.json"
    late_path.write_text(json.dumps(late))
    with pytest.raises(UserError, match=r"late.json drifts 0.100 s from .*a.json by its frame 5 .*not in step"):
        run_triangulate(["--calib", str(calib), "--views", a, str(late_path), "--offsets", "2", "0"])
    with pytest.raises(UserError, match=r"has no camera named 'cam_07'"):
        run_triangulate(["--calib", str(calib), "--views", a, b, "--names", "cam_01", "cam_07"])
    photos = []
    for v, camera in enumerate(cameras):  # one photo per camera: the demo's image JSON
        people = [{"joints_2d": camera.project(p).tolist(), "confidence": [1.0] * 16} for p in truth[0]]
        photos.append(tmp_path / f"photo{v}.json")
        photos[-1].write_text(json.dumps({"format_version": 2, "image": None, "people": people}))
    argv = ["--calib", str(calib), "--views", *map(str, photos), "--out_dir", str(tmp_path / "s")]
    with pytest.raises(UserError, match=r"--bvh needs videos"):
        run_triangulate([*argv, "--bvh"])
    assert not (tmp_path / "s").exists()  # refused before anything is written
    still = run_triangulate(argv)
    assert still["num_frames"] == 1 and still["frames"][0]["num_people"] == 2
    for broken, reason in (("[]", "not the demo's JSON"), ('{"format_version": 2, "frames": [{}]}', "no 'frame'")):
        (tmp_path / "broken.json").write_text(broken)
        with pytest.raises(UserError, match=f"broken.json (is|is not a whole demo JSON) .*{reason}"):
            run_triangulate(["--calib", str(calib), "--views", a, str(tmp_path / "broken.json")])
    picture = tmp_path / "a.png"
    cv2.imwrite(str(picture), np.zeros((240, 320, 3), np.uint8))
    c = write_view(tmp_path / "c.json", cameras[0], truth, media=str(picture))
    d = write_view(tmp_path / "d.json", cameras[1], truth)
    with pytest.raises(UserError, match=r"a.png .* is 320 x 240 px but camera 'cam_01' was calibrated at 640 x 480"):
        run_triangulate(["--calib", str(calib), "--views", c, d])


def test_videos_run_the_demo_on_each_view_first(tmp_path, resnet18_3d_checkpoint):
    cameras = rig(2)
    calib = tmp_path / "Calib.toml"
    write_calib_toml(calib, cameras)
    rng = np.random.default_rng(5)
    videos = []
    for v in range(2):
        (tmp_path / f"cam{v}").mkdir()
        path = str(tmp_path / f"cam{v}" / "clip.mp4")  # both cameras name their file alike
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), FPS, cameras[v].size)
        for _ in range(3):
            writer.write(rng.integers(0, 255, (480, 640, 3), np.uint8))
        writer.release()
        videos.append(path)
    model = ["--load_model", resnet18_3d_checkpoint, "--arch", "msra_18", "--input_h", "64", "--input_w", "64"]
    out = tmp_path / "out"
    argv = ["--calib", str(calib), "--videos", *videos, "--out_dir", str(out), "--detector", "none", *model]
    result = run_triangulate([*argv, "--gpus", "-1"])
    assert result["num_frames"] == 3 and [v["media"] for v in result["views"]] == [os.path.abspath(p) for p in videos]
    for v in range(2):
        demo = json.loads((out / "views" / f"view{v}" / "clip.json").read_text())
        assert demo["num_frames"] == 3 and demo["frames"][0]["num_people"] == 1
    assert (out / "clip.json").is_file()
    with pytest.raises(UserError, match=r"unrecognized arguments: --detector none"):
        run_triangulate(["--calib", str(calib), "--views", "a.json", "b.json", "--detector", "none"])


def test_the_viewer_draws_every_camera_and_the_people_where_they_were_triangulated(tmp_path):
    cameras, truth = rig(), walking_people(3)
    calib, views = setup_views(tmp_path, truth, cameras)
    out = tmp_path / "out"
    run_triangulate(["--calib", calib, "--views", *views, "--out_dir", str(out), "--html"])
    with chromium(tmp_path / "profile") as driver:
        open_page(driver, out / "cam1.html", 1)
        state = page_state(driver, 1)
    assert state["cameras"] == [c.name for c in cameras] and len(state["tracks"]) == 2
    expected = [cameras[0].to_camera(to_h36m_order(person)) for person in truth[1]]
    for joints in state["joints"].values():
        assert min(np.abs(np.array(joints) - e).max() for e in expected) < 1.0  # mm, in the first camera's frame
