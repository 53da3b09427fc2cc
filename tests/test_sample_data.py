import filecmp
import json
import pickle

import numpy as np
import pytest

from helpers import FUSION_3D
from hg3d.datasets import get_dataset
from hg3d.errors import UserError
from hg3d.geometry import pinhole_project
from hg3d.options import parse_opts
from hg3d.tools.sample_data import prepare_root, write_h36m, write_mpii
from hg3d.tools.synthetic import camera_intrinsics, random_scene


def test_scene_labels_are_consistent():
    scene = random_scene(np.random.default_rng(3), 200, 160)
    np.testing.assert_allclose(pinhole_project(scene["joints_cam"], scene["intrinsics"]), scene["joints_2d"])
    assert scene["image"].shape == (160, 200, 3) and scene["mpii_2d"].shape == (16, 2)
    x, y, w, h = scene["box"]
    assert np.all(scene["joints_2d"] >= [x, y]) and np.all(scene["joints_2d"] <= [x + w, y + h])
    assert scene["image"].std() > 10  # a varied picture, not a flat colour


def test_projection_by_hand():
    K = camera_intrinsics(100, 80, focal=50)
    np.testing.assert_allclose(pinhole_project(np.array([[200.0, -100.0, 1000.0]]), K), [[60.0, 35.0]])


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    write_mpii(root / "mpii", np.random.default_rng(0), 6, 3, size=96)
    write_h36m(root / "h36m", np.random.default_rng(1), 6, 12, size=96)
    return root


def test_sample_data_passes_the_loaders(root):
    opt = parse_opts(
        [
            *FUSION_3D,
            "--full_test",
            "--data_dir",
            str(root),
            "--gpus",
            "-1",
        ],
        log=lambda _: None,
    )
    train, val = get_dataset(opt, "train"), get_dataset(opt, "val")
    assert len(train) == 12 and len(val) == 12
    for item in [train[i] for i in range(len(train))] + [val[0]]:
        assert item["input"].shape == (3, 256, 256) and np.isfinite(item["input"]).all()
        assert item["target"].max() > 0.9  # at least one joint drawn
    assert val[0]["reg_mask"].sum() >= 12 and np.abs(val[0]["gt_3d"]).max() > 100  # mm scale
    mpii_val = get_dataset(parse_opts(["--data_dir", str(root), "--gpus", "-1"], log=lambda _: None), "val")
    assert len(mpii_val) == 3 and mpii_val[0]["target"].sum() > 0


def test_sample_data_is_deterministic(root, tmp_path):
    write_mpii(tmp_path / "mpii", np.random.default_rng(0), 6, 3, size=96)
    assert json.load(open(root / "mpii/annot/train.json")) == json.load(open(tmp_path / "mpii/annot/train.json"))
    assert filecmp.cmp(root / "mpii/images/valid_000002.jpg", tmp_path / "mpii/images/valid_000002.jpg", shallow=False)
    cache = "msra_cache/HM36_eccv_challenge_Val_cache/HM36_eccv_challenge_Val_w288xh384_keypoint_jnt_bbox_db.pkl"
    entries = pickle.load(open(root / "h36m" / cache, "rb"))
    assert len(entries) == 12 and entries[0]["joints_3d"].shape == (18, 3)
    np.testing.assert_allclose(entries[0]["joints_3d_relative"][0], 0)


def test_real_data_is_never_overwritten(tmp_path):
    real = tmp_path / "mpii"
    real.mkdir()
    (real / "annot.json").write_text("real")
    with pytest.raises(UserError, match="refusing to overwrite"):
        prepare_root(str(real))
    assert (real / "annot.json").read_text() == "real"
    sample = tmp_path / "sample"
    assert prepare_root(str(sample)) and not prepare_root(str(sample))  # second time: kept
    assert prepare_root(str(sample), overwrite=True)


@pytest.mark.e2e
def test_make_sample_data_script(tmp_path):
    """The script: sizes from flags, same bytes for the same --seed, kept on a second run, real data refused."""
    import subprocess
    import sys

    from helpers import REPO_DIR

    def make(out, *extra):
        return subprocess.run(
            [
                sys.executable,
                "scripts/make_sample_data.py",
                "--out",
                str(out),
                "--size",
                "64",
                "--mpii_train",
                "3",
                "--mpii_val",
                "2",
                "--h36m_train",
                "2",
                "--h36m_val",
                "2",
                *extra,
            ],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )

    for out in ("a", "b"):
        assert make(tmp_path / out, "--seed", "5").returncode == 0
    assert len(json.load(open(tmp_path / "a/mpii/annot/train.json"))) == 3
    for name in ("mpii/annot/valid.json", "mpii/images/train_000002.jpg", "h36m/ECCV18_Challenge/Val/IMG/00002.jpg"):
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False), name
    assert "already there" in make(tmp_path / "a", "--seed", "6").stdout
    assert filecmp.cmp(tmp_path / "a/mpii/annot/valid.json", tmp_path / "b/mpii/annot/valid.json", shallow=False)
    (tmp_path / "real" / "mpii").mkdir(parents=True)
    (tmp_path / "real" / "mpii" / "annot.json").write_text("real")
    proc = make(tmp_path / "real")
    assert proc.returncode == 2 and "refusing to overwrite" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "real" / "mpii" / "annot.json").read_text() == "real"
