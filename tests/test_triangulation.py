"""Calibration readers and triangulation on a synthetic rig with lens distortion."""

import os
from dataclasses import replace

import cv2
import numpy as np
import pytest

from hg3d.calibration import load_cameras, select_cameras
from hg3d.camera import project
from hg3d.errors import UserError
from hg3d.triangulation import triangulate
from multiview_rig import person, rig, write_calib_toml, write_easymocap


def project_all(cameras, points):
    return np.stack([camera.project(points) for camera in cameras])


def test_perfect_labels_give_the_world_points_back():
    cameras, rng = rig(), np.random.default_rng(0)
    truth = np.stack([person(rng, rng.uniform(-800, 800, 2)) for _ in range(5)])  # (5, 16, 3)
    pixels = project_all(cameras, truth)
    pinhole = np.stack([project(c.to_camera(truth), replace(c.intrinsics, dist=None)) for c in cameras])
    assert np.abs(pixels - pinhole).max() > 5  # the lens distortion matters
    joints, info = triangulate(cameras, pixels, rng.uniform(0.3, 1.0, pixels.shape[:-1]))
    assert np.linalg.norm(joints - truth, axis=-1).max() < 1.0
    assert info["views"].all() and info["reprojection_px"].max() < 0.01


def test_ransac_leaves_out_the_view_that_disagrees():
    cameras, rng = rig(), np.random.default_rng(1)
    truth = person(rng)
    pixels = project_all(cameras, truth)
    pixels[2] += [300.0, -250.0]  # view 2 saw someone else
    joints, info = triangulate(cameras, pixels, np.ones(pixels.shape[:-1]))
    assert np.linalg.norm(joints - truth, axis=-1).max() < 1.0
    assert (info["views"] == [True, True, False, True]).all()


def test_two_views_that_disagree_give_no_point_and_a_view_that_misses_is_not_used():
    cameras, rng = rig(), np.random.default_rng(2)
    truth = person(rng)
    pixels = project_all(cameras[:2], truth)
    pixels[1, 3] += 200.0
    confidence = np.ones(pixels.shape[:-1])
    confidence[0, 5] = 0.0  # joint 5 seen by one view only
    joints, info = triangulate(cameras[:2], pixels, confidence)
    assert np.isnan(joints[[3, 5]]).all() and not info["views"][[3, 5]].any()
    nobody, info = triangulate(cameras[:2], pixels[:, :0], confidence[:, :0])
    assert nobody.shape == (0, 3) and info["views"].shape == (0, 2)
    kept = np.setdiff1d(np.arange(16), [3, 5])
    assert np.linalg.norm(joints[kept] - truth[kept], axis=-1).max() < 1.0


def test_calib_toml_and_easymocap_files_give_the_same_3d(tmp_path):
    cameras, rng = rig(), np.random.default_rng(3)
    truth = person(rng)
    pixels = project_all(cameras, truth)
    write_calib_toml(tmp_path / "Calib.toml", cameras)
    (tmp_path / "easymocap").mkdir()
    write_easymocap(tmp_path / "easymocap", cameras)
    (tmp_path / "rodrigues").mkdir()
    write_easymocap(tmp_path / "rodrigues", cameras, rodrigues=True)
    readings = [
        load_cameras(str(tmp_path / "Calib.toml")),
        load_cameras(str(tmp_path / "easymocap")),
        load_cameras(str(tmp_path / "easymocap" / "intri.yml")),
        load_cameras(str(tmp_path / "rodrigues" / "extri.yml")),
    ]
    results = [triangulate(read, pixels)[0] for read in readings]
    for read, joints in zip(readings, results):
        assert [c.name for c in read] == [c.name for c in cameras]
        assert np.abs(read[1].t - cameras[1].t).max() < 1e-6  # metres in the file, mm here
        assert np.linalg.norm(joints - truth, axis=-1).max() < 1.0
    assert np.abs(results[0] - results[1]).max() < 1e-6
    assert readings[0][0].size == (640, 480) and readings[1][0].size is None
    assert [c.name for c in select_cameras(readings[0], ["cam_03", "cam_01"], "Calib.toml")] == ["cam_03", "cam_01"]


def bad_toml(tmp_path, old, new):
    path = tmp_path / "Calib.toml"
    write_calib_toml(path, rig(2))
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return str(path)


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("translation = ", "translations = ", r"\[cam_01\] lacks translation"),
        ("rotation = [", "rotation = [1.0, 2.0, 3.0, 4.0, ", r"\[cam_01\] rotation must be a Rodrigues vector"),
        ("matrix = [[", "matrix = [[0.0, ", r"\[cam_01\] matrix must be 9 finite numbers"),
        ("size = [640.0", "size = [640.5", r"\[cam_01\] size must be \[width, height\]"),
        ("fisheye = false", "fisheye = true", r"\[cam_01\] is a fisheye"),
        ("[cam_01]", "[cam_01", "cannot read calibration .* as TOML"),
    ],
)
def test_bad_calib_toml_is_one_line_naming_the_key(tmp_path, old, new, message):
    path = bad_toml(tmp_path, old, new)
    with pytest.raises(UserError, match=message) as caught:
        load_cameras(path)
    assert path in str(caught.value) and "\n" not in str(caught.value)


def test_bad_easymocap_files_are_one_line_naming_the_key(tmp_path):
    cameras = rig(2)
    write_easymocap(tmp_path, cameras)
    extri = tmp_path / "extri.yml"
    storage = cv2.FileStorage(str(extri), cv2.FILE_STORAGE_WRITE)
    storage.write("names", ["cam_01", "cam_02"])
    storage.write("Rot_cam_01", cameras[0].R * 1.5)  # not a rotation
    storage.write("T_cam_01", cameras[0].t.reshape(3, 1) / 1000)
    storage.release()
    with pytest.raises(UserError, match=r"Rot_cam_01 is not a rotation"):
        load_cameras(str(tmp_path))
    storage = cv2.FileStorage(str(extri), cv2.FILE_STORAGE_WRITE)
    storage.write("names", ["cam_01", "cam_02"])
    storage.write("Rot_cam_01", cameras[0].R)
    storage.write("T_cam_01", cameras[0].t.reshape(3, 1) / 1000)
    storage.release()
    with pytest.raises(UserError, match=r"extri.yml lacks R_cam_02 \(camera 'cam_02' is in names\)"):
        load_cameras(str(tmp_path / "intri.yml"))
    os.remove(extri)
    with pytest.raises(UserError, match=r"calibration .*extri.yml not found"):
        load_cameras(str(tmp_path / "intri.yml"))
    with pytest.raises(UserError, match=r"has no camera named 'cam_09' \(it has cam_01, cam_02\)"):
        select_cameras(cameras, ["cam_01", "cam_09"], "Calib.toml")
    with pytest.raises(UserError, match="not found"):
        load_cameras(str(tmp_path / "missing.toml"))
