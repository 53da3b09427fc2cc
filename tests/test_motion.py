"""Motion files: the angle CSV, OpenSim's .mot and .trc read back by small readers written here,
the C3D read back with ezc3d (hg3d writes it with ``c3d``); and the demo end to end with
--angles --trc --c3d (--world FILE), as a subprocess."""

import csv
import json
import subprocess
import sys

import cv2
import ezc3d
import numpy as np
import pytest

from helpers import SRC_DIR
from hg3d import commands
from hg3d.angles import ANGLE_NAMES, joint_angles
from hg3d.demo import run_demo
from hg3d.joints import H36M_JOINTS
from hg3d.motion import track_motion, write_angles_csv, write_c3d, write_mot, write_trc
from hg3d.tools.synthetic import random_scene
from test_world import FPS, tilted_camera, to_camera, walk_world

SMALL = ["--arch", "msra_18", "--input_h", "128", "--input_w", "128", "--gpus", "-1", "--detector", "none"]


def read_trc(path):
    """(header {key: value}, first line's fields, marker names, frame numbers, times, (T, M, 3) NaN where empty)."""
    lines = path.read_text().split("\n")
    first = lines[0].split("\t")
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t")))
    names = [n for n in lines[3].split("\t")[2:] if n]
    assert lines[4].split("\t")[2:5] == ["X1", "Y1", "Z1"] and lines[5] == ""
    rows = [line.split("\t") for line in lines[6:] if line]
    values = np.array([[float(c) if c else np.nan for c in row[2:]] for row in rows])
    return (
        header,
        first,
        names,
        [int(r[0]) for r in rows],
        [float(r[1]) for r in rows],
        values.reshape(len(rows), -1, 3),
    )


def read_mot(path):
    """(header {key: value}, column names, (T, C) table)."""
    lines = path.read_text().splitlines()
    end = lines.index("endheader")
    header = dict(line.split("=", 1) for line in lines[1:end] if "=" in line)
    columns = lines[end + 1].split("\t")
    return header, columns, np.array([[float(c) for c in line.split("\t")] for line in lines[end + 2 :]])


@pytest.fixture(scope="module")
def walk_motion():
    """The synthetic walk of test_world in a tilted camera's frame, a few frames missed, as one track."""
    joints_w, _ = walk_world(60)
    cam = to_camera(joints_w, *tilted_camera())
    cam[20:23] = np.nan
    poses, roots = cam - cam[:, :1], cam[:, 0].copy()
    world, note, motions = track_motion({3: (5, poses, roots)}, FPS)
    times = {f: f / FPS for f in range(5, 65)}
    return world, motions[3], times


def test_trc_and_mot_read_back(walk_motion, tmp_path):
    world, motion, times = walk_motion
    assert world is not None and world.source == "floor"
    write_trc(tmp_path / "w.trc", motion, times, FPS)
    header, first, names, numbers, got_times, markers = read_trc(tmp_path / "w.trc")
    assert first[:4] == ["PathFileType", "4", "(X/Y/Z)", "w.trc"] and "world frame: +Y up" in first[4]
    assert header == {
        "DataRate": "30.00",
        "CameraRate": "30.00",
        "NumFrames": "60",
        "NumMarkers": "17",
        "Units": "mm",
        "OrigDataRate": "30.00",
        "OrigDataStartFrame": "1",
        "OrigNumFrames": "60",
    }
    assert names == list(H36M_JOINTS) and numbers == list(range(1, 61))
    assert got_times == pytest.approx([f / FPS for f in range(5, 65)], abs=1e-4)
    assert np.isnan(markers[20:23]).all() and np.isfinite(np.delete(markers, [20, 21, 22], 0)).all()
    np.testing.assert_allclose(markers, motion.world, atol=1e-3)
    assert np.nanmin(np.abs(markers[:, H36M_JOINTS.index("l_ankle"), 1])) < 1  # +Y up, the floor at 0
    assert markers[0, H36M_JOINTS.index("head"), 1] > 1500

    write_mot(tmp_path / "w.mot", motion, times)
    header, columns, table = read_mot(tmp_path / "w.mot")
    assert header == {"version": "1", "nRows": "60", "nColumns": "13", "inDegrees": "yes"}
    assert columns == ["time", *ANGLE_NAMES]
    want = joint_angles(motion.joints, world.up_cam)
    np.testing.assert_allclose(table[:, 0], got_times, atol=1e-6)
    for k, name in enumerate(ANGLE_NAMES, 1):
        np.testing.assert_allclose(table[:, k], want[name], atol=1e-5, err_msg=name)
    assert np.isnan(table[20:23, 1:]).all()
    assert np.abs(table[:, ANGLE_NAMES.index("trunk_flexion") + 1][:20]).max() < 1  # upright walker


def test_without_a_world_the_markers_are_the_camera_turned(tmp_path):
    joints_w, _ = walk_world(2)
    cam = to_camera(joints_w, *tilted_camera())
    world, note, motions = track_motion({1: (0, cam - cam[:, :1], cam[:, 0])}, FPS)
    assert world is None and "planted" in note
    write_trc(tmp_path / "c.trc", motions[1], {0: 0.0, 1: 1 / FPS}, FPS)
    _, first, _, _, _, markers = read_trc(tmp_path / "c.trc")
    assert "(x, -y, -z)" in first[4]
    np.testing.assert_allclose(markers, cam * [1, -1, -1], atol=1e-3)
    assert np.isnan(motions[1].angles["trunk_flexion"]).all() and motions[1].contacts is None


def test_c3d_reads_back_with_the_other_library(walk_motion, tmp_path):
    _, motion, _ = walk_motion
    write_c3d(tmp_path / "w.c3d", motion, FPS)
    c3d = ezc3d.c3d(str(tmp_path / "w.c3d"))
    point = c3d["parameters"]["POINT"]
    assert [label.strip() for label in point["LABELS"]["value"]] == list(H36M_JOINTS)
    assert point["RATE"]["value"][0] == pytest.approx(FPS)
    assert point["UNITS"]["value"][0].strip() == "mm"
    points = np.transpose(c3d["data"]["points"][:3], (2, 1, 0))  # (frames, markers, xyz)
    assert points.shape == (60, 17, 3)
    assert np.isnan(points[20:23]).all()
    seen = np.isfinite(motion.world).all(-1)
    np.testing.assert_allclose(points[seen], motion.world[seen], atol=0.01)


def test_angles_csv(walk_motion, tmp_path):
    _, motion, times = walk_motion
    write_angles_csv(tmp_path / "a.csv", {3: motion, 1: motion}, times)
    rows = list(csv.DictReader((tmp_path / "a.csv").open()))
    assert list(rows[0]) == ["frame", "time_s", "track_id", *ANGLE_NAMES]
    assert [(int(r["frame"]), int(r["track_id"])) for r in rows[:3]] == [(5, 1), (5, 3), (6, 1)]
    assert len(rows) == 2 * 57  # the three missed frames have no row
    row = next(r for r in rows if r["frame"] == "30" and r["track_id"] == "3")
    assert float(row["time_s"]) == pytest.approx(1.0)
    assert float(row["knee_flexion_l"]) == pytest.approx(motion.angles["knee_flexion_l"][25], abs=0.006)


def demo_py(*args):
    return subprocess.run([sys.executable, "demo.py", *args], cwd=SRC_DIR, capture_output=True, text=True, timeout=300)


@pytest.mark.e2e
def test_demo_writes_the_motion_files(resnet18_3d_checkpoint, tmp_path):
    """A clip with two people (boxes given), --angles --trc --c3d --world FILE: the JSON's world and
    each person's world joints, angles and contacts agree with the files and with the definitions."""
    rng = np.random.default_rng(5)
    video = tmp_path / "walk.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 128))
    for _ in range(5):
        writer.write(random_scene(rng, 160, 128)["image"])
    writer.release()
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"walk.mp4": [[[10, 10, 60, 100], [90, 10, 60, 100]]] * 4 + [[[12, 10, 60, 100]]]}))
    R = tilted_camera()[0]
    world_file = tmp_path / "world.json"
    world_file.write_text(json.dumps({"R": R.tolist(), "t": [0.0, 1500.0, 0.0]}))
    out = tmp_path / "out"
    argv = ["--demo", str(video), "--bboxes", str(boxes), "--load_model", resnet18_3d_checkpoint]
    done = demo_py(*argv, "--out_dir", str(out), *SMALL, "--angles", "--trc", "--c3d", "--world", str(world_file))
    assert done.returncode == 0, done.stderr
    assert "motion: 2 track(s), world frame from file" in done.stdout
    record = json.loads((out / "walk.json").read_text())
    assert record["world"] == {
        "R": np.round(R, 8).tolist(),
        "t": [0.0, 1500.0, 0.0],
        "source": "file",
        "floor_rmse_mm": None,
    }
    people = [(f["frame"], p) for f in record["frames"] for p in f["people"]]
    assert len(people) == 9
    for _, person in people:
        cam = np.array(person["joints_3d_cam_mm"], np.float64)
        np.testing.assert_allclose(person["joints_3d_world_mm"], cam @ R.T + [0, 1500, 0], atol=0.02)
        want = joint_angles(np.array(person["joints_3d_h36m_mm"]), up=R[1])
        for name, value in want.items():  # hip angles near 180 may come back as -180
            assert (person["angles"][name] - value + 180) % 360 - 180 == pytest.approx(0, abs=0.011), name
        assert isinstance(person["contact_l"], bool) and isinstance(person["contact_r"], bool)
    track1 = np.array([p["joints_3d_world_mm"] for _, p in people if p["track_id"] == 1])
    _, first, names, _, _, markers = read_trc(out / "walk_track1.trc")
    assert "world frame" in first[4] and names == list(H36M_JOINTS)
    np.testing.assert_allclose(markers, track1, atol=0.02)
    _, columns, table = read_mot(out / "walk_track2.mot")
    assert len(table) == 4 and columns[0] == "time"
    rows = list(csv.DictReader((out / "walk_angles.csv").open()))
    assert [(r["frame"], r["track_id"]) for r in rows] == [(str(f), str(t)) for f in range(4) for t in (1, 2)] + [
        ("4", "1")
    ]
    c3d = ezc3d.c3d(str(out / "walk_track1.c3d"))
    np.testing.assert_allclose(np.transpose(c3d["data"]["points"][:3], (2, 1, 0)), track1, atol=0.05)

    run_demo([*argv, "--out_dir", str(tmp_path / "plain"), *SMALL, "--trc"])  # in-process: quicker
    record = json.loads((tmp_path / "plain" / "walk.json").read_text())
    assert record["world"] is None and "no floor" in record["world_note"]
    person = record["frames"][0]["people"][0]
    assert person["joints_3d_world_mm"] is None and person["contact_l"] is None
    assert person["angles"]["trunk_flexion"] is None and person["angles"]["knee_flexion_r"] is not None
    _, first, *_ = read_trc(tmp_path / "plain" / "walk_track1.trc")
    assert "(x, -y, -z)" in first[4]
    assert not (tmp_path / "plain" / "walk_angles.csv").exists()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--angles"], "no video"),
        (["--world", "missing.json"], "cannot read --world"),
        (["--live", "--trc"], "live input drops frames"),
    ],
)
def test_motion_flags_refused_with_a_one_line_error(resnet18_3d_checkpoint, tmp_path, args, says, capsys):
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), random_scene(np.random.default_rng(0), 96, 96)["image"])
    out = tmp_path / "out"
    argv = ["--demo", str(image), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(out), *SMALL, *args]
    assert commands.demo(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0]
    assert not out.exists()
