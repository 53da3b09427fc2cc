"""Every annotation entry is checked when a dataset is opened: one line naming file, entry, field."""

import copy
import json
import pickle

import numpy as np
import pytest

from helpers import main_py
from hg3d.datasets import h36m, mpii, threedpw, validation
from hg3d.errors import UserError
from hg3d.tools.sample_data import write_3dpw


def h36m_entries(count=6):
    rng = np.random.default_rng(0)
    return [
        {
            "image": f"{i + 1:05d}.jpg",
            "center_x": 100.0 + i,
            "center_y": 120.0,
            "width": 80.0,
            "height": 150.0,
            "joints_3d": rng.normal(size=(18, 3)),
            "joints_3d_relative": rng.normal(size=(18, 3)),
            "subject": 9,
        }
        for i in range(count)
    ]


def mpii_entries(count=6):
    return [
        {
            "image": f"im_{i}.jpg",
            "center": [50.0, 60.0],
            "scale": 1.5,
            "joints": [[-1.0, -1.0]] + [[10.0 + j, 20.0] for j in range(15)],
            "joints_vis": [0.0] + [1.0] * 15,
        }
        for i in range(count)
    ]


def test_good_files_pass_with_extra_keys():
    entries = h36m_entries()
    assert h36m.check_annotations(entries, "cache.pkl") is entries
    seventeen = h36m_entries()
    for entry in seventeen:
        entry["joints_3d"], entry["joints_3d_relative"] = entry["joints_3d"][:17], entry["joints_3d_relative"][:17]
    h36m.check_annotations(seventeen, "cache.pkl")


@pytest.mark.parametrize(
    "index,key,value,message",
    [
        (
            4,
            "joints_3d",
            np.zeros((5, 2)),
            r"entry 4 \(image 00005.jpg\): joints_3d has shape \(5, 2\), "
            r"expected an array of shape \(18, 3\) or \(17, 3\)",
        ),
        (2, "center_x", float("nan"), r"entry 2 \(image 00003.jpg\): center_x is not a finite number \(nan\)"),
        (
            5,
            "joints_3d_relative",
            np.full((18, 3), np.inf),
            r"entry 5 \(image 00006.jpg\): joints_3d_relative is not a finite number",
        ),
        (1, "width", 0.0, r"entry 1 \(image 00002.jpg\): width is not > 0 \(0.0\)"),
        (3, "height", "tall", r"entry 3 \(image 00004.jpg\): height is not a number \('tall'\)"),
        (
            0,
            "joints_3d",
            [[1, 2, 3]] * 17 + [[1, 2]],
            r"entry 0 \(image 00001.jpg\): joints_3d is not an array of shape \(18, 3\) or \(17, 3\) \(\[\[1, 2",
        ),
    ],
)
def test_bad_h36m_entry_is_named(index, key, value, message):
    entries = h36m_entries()
    entries[index][key] = value
    with pytest.raises(UserError, match=r"^cache.pkl: " + message):
        h36m.check_annotations(entries, "cache.pkl")


def test_bad_entry_in_a_later_chunk_and_mixed_shapes(monkeypatch):
    monkeypatch.setattr(validation, "CHUNK", 4)
    entries = h36m_entries(11)
    entries[9]["center_y"] = float("nan")
    with pytest.raises(UserError, match=r"entry 9 \(image 00010.jpg\): center_y"):
        h36m.check_annotations(entries, "cache.pkl")
    entries = h36m_entries(11)
    entries[6]["joints_3d"] = entries[6]["joints_3d"][:17]  # 17 joints in a file of 18
    with pytest.raises(UserError, match=r"entry 6 .*has shape \(17, 3\) while earlier entries have \(18, 3\)"):
        h36m.check_annotations(entries, "cache.pkl")


@pytest.mark.parametrize(
    "index,key,value,message",
    [
        (
            3,
            "joints",
            [[1.0, 2.0]] * 15,
            r"entry 3 \(image im_3.jpg\): joints has shape \(15, 2\), expected an array of shape \(16, 2\)",
        ),
        (2, "joints", [[float("nan"), 2.0]] * 16, r"entry 2 \(image im_2.jpg\): joints is not a finite number"),
        (1, "joints_vis", [1.0] * 14, r"entry 1 \(image im_1.jpg\): joints_vis has shape \(14,\)"),
        (5, "center", [1.0, None], r"entry 5 \(image im_5.jpg\): center is not a finite number"),
        (0, "scale", -1.0, r"entry 0 \(image im_0.jpg\): scale is not > 0 \(-1.0\)"),
        (4, "image", 7, r"entry 4 \(image 7\): image is not a file name \(7\)"),
    ],
)
def test_bad_mpii_entry_is_named(tmp_path, index, key, value, message):
    entries = mpii_entries()
    entries[index][key] = value
    path = tmp_path / "train.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(UserError, match=r"train.json: " + message):
        mpii.load_annotations(str(path))


def test_missing_key_is_named(tmp_path):
    entries = mpii_entries()
    del entries[2]["joints_vis"]
    (tmp_path / "train.json").write_text(json.dumps(entries))
    with pytest.raises(UserError, match=r"train.json: entry 2 lacks joints_vis"):
        mpii.load_annotations(str(tmp_path / "train.json"))


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    root = tmp_path_factory.mktemp("pw")
    write_3dpw(root / "3dpw", np.random.default_rng(0), sequences=(("test", 2, 5),), size=(64, 48))
    path = next((root / "3dpw" / "sequenceFiles" / "test").glob("*.pkl"))
    return pickle.loads(path.read_bytes())


def _bad_sequence(tmp_path, sequence, change):
    data = copy.deepcopy(sequence)
    change(data)
    path = tmp_path / "seq.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    return str(path)


def _set(array, index, value):
    array[index] = value


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda d: _set(d["jointPositions"][1], (3, 7), np.nan),
            r"seq.pkl: person 1 frame 3 \(image_00003.jpg\): jointPositions holds a number that is not finite",
        ),
        (
            lambda d: _set(d["cam_poses"], (2, 0, 3), np.inf),
            r"seq.pkl: person 0 frame 2 \(image_00002.jpg\): cam_poses holds a number that is not finite",
        ),
        (
            lambda d: _set(d["jointPositions"], 0, d["jointPositions"][0][:, :70]),
            r"seq.pkl: person 0 has jointPositions \(5, 70\) and campose_valid \(5,\) for 5 frames",
        ),
        (
            lambda d: _set(d["campose_valid"], 1, d["campose_valid"][1][:4]),
            r"seq.pkl: person 1 has jointPositions \(5, 72\) and campose_valid \(4,\)",
        ),
        (lambda d: d["campose_valid"].pop(), r"seq.pkl: jointPositions has 2 people but campose_valid 1"),
        (lambda d: _set(d["cam_intrinsics"], (0, 0), 0.0), r"seq.pkl: cam_intrinsics is not a camera matrix"),
    ],
)
def test_bad_3dpw_sequence_is_named(tmp_path, sequence, change, message):
    with pytest.raises(UserError, match=message):
        threedpw.load_sequence(_bad_sequence(tmp_path, sequence, change))


def test_nan_in_an_unused_3dpw_frame_is_accepted(tmp_path, sequence):
    # the generator marks person 0's last frame (4) with campose_valid 0: it never becomes a sample
    path = _bad_sequence(tmp_path, sequence, lambda d: _set(d["jointPositions"][0], (4, 0), np.nan))
    threedpw.load_sequence(path)


@pytest.mark.e2e
def test_cli_names_a_nan_h36m_entry_in_one_line(tmp_path):
    from hg3d.tools.sample_data import write_h36m

    write_h36m(tmp_path / "h36m", np.random.default_rng(1), 1, 3, size=64)
    cache = next((tmp_path / "h36m" / "msra_cache").glob("*Val*/*.pkl"))
    entries = pickle.loads(cache.read_bytes())
    entries[2]["center_x"] = float("nan")
    cache.write_bytes(pickle.dumps(entries, protocol=2))
    proc = main_py(
        "--task",
        "human3d",
        "--dataset",
        "h36m",
        "--test",
        "--load_model",
        "x.pth",
        "--data_dir",
        str(tmp_path),
        "--gpus",
        "-1",
        "--exp_dir",
        str(tmp_path / "exp"),
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "entry 2 (image 00003.jpg): center_x is not a finite number (nan)" in proc.stderr, proc.stderr
