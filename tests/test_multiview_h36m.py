"""Human3.6M's views scored together (``--test --multiview``): perfect 2D of four calibrated cameras
gives the world-frame ground truth, on labels made here and through prepare_h36m and ``--test`` on a
generated release; a wrong calibration shows; data that cannot be scored so is one line."""

import json
import os
import pickle
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from helpers import SRC_DIR, quiet_opts
from hg3d.calibration import h36m_cameras, lens_of
from hg3d.datasets import get_dataset
from hg3d.errors import UserError
from hg3d.joints import H36M_TO_MPII
from hg3d.metrics.multiview import CALIBRATION_KEYS, score_multiview
from hg3d.tools.h36m_official import CAMERAS, OFFICIAL_TO_H36M17, read_pose, table_intrinsics, world_pose_path
from hg3d.tools.h36m_sample import consistent_pose, write_multiview_sequence, write_official_h36m
from hg3d.tools.prepare_h36m import cache_path
from hg3d.tools.prepare_h36m import main as prepare
from multiview_rig import rig

WIDTH = 128
CONVERT = ["--train_subjects", "1", "--test_subjects", "9", "--test_step", "1", "--workers", "1"]


def release_labels(rng, sequences=(("Walking 1", "Walking"), ("Eating 2", "Eating")), frames=5):
    """Per-view labels (as ``H36M.labels`` gives them with --multiview) of the synthetic rig (lens
    distortion included), and the views' perfect MPII-16 2D joints."""
    cameras = rig(4)
    labels = {k: [] for k in ("subject", "sequence", "action", "camera", "frame", "joints_3d_world")}
    labels.update(camera_R=[], camera_t=[], camera_lens=[])
    pred_2d = []
    for sequence, action in sequences:
        for frame in range(frames):
            pose = consistent_pose(rng)
            world = np.stack([pose[:, 0], pose[:, 2], -pose[:, 1]], -1) + [rng.uniform(-500, 500), 0, 1000]
            for name, camera in zip(CAMERAS, cameras):
                pred_2d.append(camera.project(world)[H36M_TO_MPII])
                for key, value in (("subject", 9), ("sequence", sequence), ("action", action), ("camera", name)):
                    labels[key].append(value)
                labels["frame"].append(frame * 64)
                labels["joints_3d_world"].append(world)
                labels["camera_R"].append(camera.R)
                labels["camera_t"].append(camera.t)
                labels["camera_lens"].append(lens_of(camera))
    return np.array(pred_2d), {key: np.array(value) for key, value in labels.items()}


def test_perfect_2d_of_four_views_scores_zero():
    pred_2d, labels = release_labels(np.random.default_rng(0))
    summary, arrays = score_multiview(pred_2d, labels)
    assert summary["num_mv_samples"] == 10 and summary["num_mv_untriangulated"] == 0
    assert summary["mpjpe_mv"] < 0.1 and summary["mpjpe_mv_abs"] < 0.1
    assert set(summary["per_action_mv"]) == {"Walking", "Eating"}
    assert arrays["pred_3d_mv"].shape == (40, 17, 3) and np.isfinite(arrays["mpjpe_mv"]).all()
    np.testing.assert_allclose(arrays["pred_3d_mv"], labels["joints_3d_world"], atol=0.5)


def test_a_wrong_view_is_left_out_and_a_lone_or_uncalibrated_view_is_not_scored():
    pred_2d, labels = release_labels(np.random.default_rng(1))
    pred_2d[5] += 300.0  # frame 1 of Walking 1, camera 2: another person
    keep = np.ones(len(pred_2d), bool)
    keep[[8, 9, 10]] = False  # frame 2 of Walking 1: only one camera left
    summary, arrays = score_multiview(pred_2d[keep], {k: v[keep] for k, v in labels.items()})
    assert summary["num_mv_samples"] == 9 and summary["mpjpe_mv_abs"] < 0.1
    assert np.isnan(arrays["mpjpe_mv"][8])  # the lone view
    for key in ("camera_R", "camera_t", "camera_lens"):
        labels[key][[12, 13, 14]] = np.nan  # frame 3 of Walking 1: the release gave one camera only
    summary, arrays = score_multiview(pred_2d, labels)
    assert summary["num_mv_samples"] == 9 and np.isnan(arrays["mpjpe_mv"][12:16]).all()
    labels["camera"][:] = CAMERAS[0]  # every view claims to be one camera: no second view to match
    assert score_multiview(pred_2d, labels)[0]["num_mv_samples"] == 0


def test_the_world_frame_and_each_extrinsic_are_the_labels():
    """Moving the world origin moves the absolute joints by as much and leaves the rooted ones;
    one camera turned in place by half a degree (still within RANSAC's threshold) moves them."""
    pred_2d, labels = release_labels(np.random.default_rng(2))
    shift = np.array([60.0, -30.0, 20.0])
    moved = {**labels, "camera_t": labels["camera_t"] - np.einsum("nij,j->ni", labels["camera_R"], shift)}
    summary, _ = score_multiview(pred_2d, moved)  # every camera sees the same scene from shift further on
    assert summary["mpjpe_mv_abs"] == pytest.approx(np.linalg.norm(shift), abs=0.1) and summary["mpjpe_mv"] < 0.1
    turned = labels["camera"] == CAMERAS[1]
    tilt = Rotation.from_euler("y", 0.5, degrees=True).as_matrix()
    wrong = {
        **labels,
        "camera_R": np.where(turned[:, None, None], tilt @ labels["camera_R"], labels["camera_R"]),
        "camera_t": np.where(turned[:, None], labels["camera_t"] @ tilt.T, labels["camera_t"]),
    }
    assert score_multiview(pred_2d, wrong)[0]["mpjpe_mv_abs"] > 10.0


WALKING_FRAMES = 9  # with Directions 1's two, frame number 10 (the second kept without --full_test) is Walking's


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A release whose S9 "Walking 1" is filmed by all four cameras, converted with every frame,
    and S9 "Directions 1" by one camera with no world-frame poses."""
    root = tmp_path_factory.mktemp("release")
    rng = np.random.default_rng(7)
    truth, extrinsics = write_multiview_sequence(str(root), 9, "Walking 1", rng, frames=WALKING_FRAMES, width=WIDTH)
    layout = ((1, "Directions 1", (CAMERAS[0],)), (9, "Directions 1", (CAMERAS[1],)))
    write_official_h36m(str(root), rng, frames=2, width=WIDTH, layout=layout, quirks=False)
    out = str(tmp_path_factory.mktemp("data") / "h36m")
    converted = prepare(["--src", str(root), "--out", out, *CONVERT])
    return str(root), truth, extrinsics, out, converted


def test_the_converter_keeps_the_release_calibration(release):
    root, _, extrinsics, out, converted = release
    assert converted["uncalibrated"] == [
        f"S9/Directions 1.{CAMERAS[1]}: no world-frame poses ({world_pose_path(root, 9, 'Directions 1')})"
    ]
    cameras = {camera.name: camera for camera in h36m_cameras(root, 9, "Walking 1", width=WIDTH)}
    world = read_pose(world_pose_path(root, 9, "Walking 1"), 3)[:, OFFICIAL_TO_H36M17]
    for camera in cameras.values():
        R, t = extrinsics[camera.name]
        assert np.abs(camera.R - R).max() < 1e-9 and np.abs(camera.t - t).max() < 1e-6
    entries = pickle.load(open(cache_path(out, "Val"), "rb"))
    walking = [e for e in entries if e["sequence"] == "Walking 1"]
    assert len(walking) == 4 * WALKING_FRAMES and not any(
        "camera_R" in e for e in entries if e["sequence"] == "Directions 1"
    )
    for entry in walking:
        camera = cameras[entry["camera"]]
        np.testing.assert_allclose(entry["camera_R"], camera.R, atol=1e-12)
        np.testing.assert_allclose(entry["camera_t"], camera.t, atol=1e-9)
        np.testing.assert_allclose(entry["camera_lens"], lens_of(camera))
        np.testing.assert_allclose(entry["joints_3d_world"], world[entry["frame"]])
    assert lens_of(cameras[CAMERAS[0]])[:4] == pytest.approx(table_intrinsics(CAMERAS[0], WIDTH))
    assert lens_of(cameras[CAMERAS[0]])[4] == pytest.approx(-0.2070989)  # k1 of the release's table
    train_sequence = os.path.join(out, "sequences", "S1", f"Directions 1.{CAMERAS[0]}", "entries.pkl")
    assert "calibration" not in pickle.load(open(train_sequence, "rb"))["settings"]  # the test subjects only
    # a sequence finished before entries held the calibration is converted again, the others reused
    older_train = pickle.load(open(train_sequence, "rb"))
    del older_train["uncalibrated"]  # as written before the calibration was stored: reused all the same
    pickle.dump(older_train, open(train_sequence, "wb"))
    stored_path = os.path.join(out, "sequences", "S9", f"Walking 1.{CAMERAS[2]}", "entries.pkl")
    stored = pickle.load(open(stored_path, "rb"))
    del stored["settings"]["calibration"]
    stored["entries"] = without(*CALIBRATION_KEYS)(stored["entries"])
    pickle.dump(stored, open(stored_path, "wb"))
    again = prepare(["--src", root, "--out", out, *CONVERT])
    assert again["reused"] == converted["sequences"] - 1
    assert all("camera_R" in e for e in pickle.load(open(cache_path(out, "Val"), "rb")) if e["sequence"] == "Walking 1")


# Runs ``hg3d-train`` with a predictor that returns the 2D joints saved in argv[1] (the release's
# own, perfect) for each sample, and the pose the cache holds as 3D: the rest is the real command.
PERFECT_2D_RUN = """
import sys

import numpy as np

import hg3d.evaluate
from hg3d.commands import train

perfect = np.load(sys.argv[1])


def predict(loader):
    index = np.concatenate([batch["index"].numpy() for batch in loader])
    pred_2d, pred_3d = perfect["pred_2d"][index], perfect["pred_3d"][index]
    return {"index": index, "pred_2d": pred_2d, "pred_3d": pred_3d, "pck_dist": np.zeros((len(index), 16)), "loss": {}}


hg3d.evaluate.test_predictor = lambda opt, model: predict
sys.exit(train(sys.argv[2:]))
"""


def perfect_predictions(release, tmp_path):
    """The file the perfect-2D run reads: per cache entry its D2_Positions (MPII-16, px) and its
    root-relative ground truth (MPII-16, m)."""
    _, truth, _, out, _ = release
    entries = pickle.load(open(cache_path(out, "Val"), "rb"))
    pred_2d, pred_3d = [], []
    for entry in entries:
        name = f"{entry['sequence']}.{entry['camera']}"
        pose_2d = truth[name]["pose_2d"][entry["frame"]] if name in truth else np.zeros((32, 2))
        pred_2d.append(pose_2d[OFFICIAL_TO_H36M17][H36M_TO_MPII])
        pred_3d.append(np.asarray(entry["joints_3d_relative"])[:17][H36M_TO_MPII] / 1000)
    path = tmp_path / "perfect.npz"
    np.savez(path, pred_2d=np.array(pred_2d), pred_3d=np.array(pred_3d))
    return path


def command_args(data_dir, checkpoint, exp_dir, exp_id, *extra):
    return [
        *("--task", "human3d", "--dataset", "h36m", "--test", "--full_test", "--data_dir", str(data_dir)),
        *("--arch", "msra_18", "--gpus", "-1", "--num_workers", "0", "--load_model", checkpoint),
        *("--exp_dir", str(exp_dir), "--exp_id", exp_id, *extra),
    ]


@pytest.mark.e2e
def test_multiview_test_on_perfect_2d_gives_the_world_ground_truth(release, resnet18_3d_checkpoint, tmp_path):
    out = release[3]
    driver = tmp_path / "perfect_2d_run.py"
    driver.write_text(PERFECT_2D_RUN)
    perfect = perfect_predictions(release, tmp_path)

    def hg3d_test(exp_id, *extra):
        args = command_args(os.path.dirname(out), resnet18_3d_checkpoint, tmp_path, exp_id, *extra)
        proc = subprocess.run(
            [sys.executable, str(driver), str(perfect), *args],
            capture_output=True,
            text=True,
            cwd=SRC_DIR,
            env={**os.environ, "PYTHONPATH": SRC_DIR},  # the driver imports this checkout's hg3d
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads((tmp_path / exp_id / "results.json").read_text())

    results = hg3d_test("mv", "--multiview")
    assert results["num_mv_samples"] == WALKING_FRAMES and results["num_mv_untriangulated"] == 0
    assert results["mpjpe_mv"] < 0.05 and results["mpjpe_mv_abs"] < 0.05
    assert (
        list(results["per_action_mv"]) == ["Walking"]
        and results["per_action_mv"]["Walking"]["num_samples"] == WALKING_FRAMES
    )
    for name in ("mpjpe_mv", "mpjpe_mv_abs"):
        assert results["protocols"][name]["protocol"] == f"h36m_{name}"
    with h5py.File(tmp_path / "mv" / "preds.h5") as f:
        pred_3d_mv, camera = f["pred_3d_mv"][:], f["camera"][:].astype(str)
        index = f["index"][:]
    entries = pickle.load(open(cache_path(out, "Val"), "rb"))
    seen = np.array([entries[i]["sequence"] == "Walking 1" for i in index])
    world = np.array([entries[i]["joints_3d_world"] for i in index[seen]])
    np.testing.assert_allclose(pred_3d_mv[seen], world, atol=0.1)  # the release's world frame, mm
    assert np.isnan(pred_3d_mv[~seen]).all() and set(camera[seen]) == set(CAMERAS)

    single = hg3d_test("single")
    assert (
        "mpjpe_mv" not in single
        and "mpjpe_mv" not in single["protocols"]
        and single["num_samples"] == 4 * WALKING_FRAMES + 2
    )
    with h5py.File(tmp_path / "single" / "preds.h5") as f:
        assert "pred_3d_mv" not in f


def copy_with_entries(out, tmp_path, change):
    """A data root whose Val cache is ``out``'s with ``change(entries)`` applied (images linked)."""
    target = tmp_path / "h36m"
    image_dir = os.path.join(out, "ECCV18_Challenge", "Val", "IMG")
    os.makedirs(target / "ECCV18_Challenge" / "Val")
    os.symlink(image_dir, target / "ECCV18_Challenge" / "Val" / "IMG")
    path = cache_path(str(target), "Val")
    os.makedirs(os.path.dirname(path))
    shutil.copyfile(cache_path(out, "Val"), path)
    entries = change(pickle.load(open(path, "rb")))
    pickle.dump(entries, open(path, "wb"))
    return str(tmp_path)


def without(*keys):
    return lambda entries: [{k: v for k, v in e.items() if k not in keys} for e in entries]


@pytest.mark.parametrize(
    "change, message",
    [
        (without(*CALIBRATION_KEYS), "no camera calibration"),
        (without("subject", "sequence", "camera", "frame", "action"), "converted from the official release"),
        (lambda entries: [e for e in entries if e["camera"] == CAMERAS[0]], "no frame in"),
    ],
    ids=["older converter", "challenge cache", "one camera"],
)
def test_data_that_cannot_be_triangulated_is_one_line(release, tmp_path, change, message):
    data_dir = copy_with_entries(release[3], tmp_path, change)
    opts = quiet_opts("--task", "human3d", "--dataset", "h36m", "--test", "--multiview", "--data_dir", data_dir)
    with pytest.raises(UserError, match=message):
        get_dataset(opts, "val")


def test_without_full_test_every_tenth_frame_is_kept_with_all_its_views(release):
    data_dir = os.path.dirname(release[3])
    dataset = get_dataset(
        quiet_opts("--task", "human3d", "--dataset", "h36m", "--multiview", "--test", "--data_dir", data_dir), "val"
    )
    labels = dataset.labels(np.arange(len(dataset.annotations)))
    frames = np.array([f"{s}|{q}|{f}" for s, q, f in zip(labels["subject"], labels["sequence"], labels["frame"])])
    kept = set(frames[dataset.indices])  # 11 frames in the cache's order: Directions 1's two, Walking 1's nine
    assert kept == {"9|Directions 1|0", "9|Walking 1|8"}
    assert list(dataset.indices) == [i for i, frame in enumerate(frames) if frame in kept]
    assert sorted(labels["camera"][dataset.indices][frames[dataset.indices] == "9|Walking 1|8"]) == sorted(CAMERAS)


def test_crops_keep_the_cameras(release, tmp_path):
    """With --crop each entry's lens moves with its crop: the release's 2D moved into the crops
    still triangulates onto the world-frame ground truth."""
    root, truth = release[:2]
    out = str(tmp_path / "h36m")
    prepare(["--src", root, "--out", out, *CONVERT, "--crop"])
    opts = ["--task", "human3d", "--dataset", "h36m", "--test", "--full_test", "--multiview"]
    dataset = get_dataset(quiet_opts(*opts, "--data_dir", str(tmp_path)), "val")
    labels = dataset.labels(dataset.indices)
    walking = labels["sequence"] == "Walking 1"
    offsets = np.array([dataset.annotations[i]["crop_offset"] for i in dataset.indices])[walking]
    assert (offsets != 0).any()
    perfect = np.stack(
        [
            truth[f"Walking 1.{camera}"]["pose_2d"][frame][OFFICIAL_TO_H36M17][H36M_TO_MPII]
            for camera, frame in zip(labels["camera"][walking], labels["frame"][walking])
        ]
    )
    summary, _ = score_multiview(perfect - offsets[:, None], {k: v[walking] for k, v in labels.items()})
    assert summary["num_mv_samples"] == WALKING_FRAMES and summary["mpjpe_mv_abs"] < 0.05


def test_a_release_whose_2d_has_no_lens_distortion_gets_a_pinhole_lens(tmp_path):
    """The converter lets the release's own 2D decide whether the lens distortion is in it: 2D
    written as a plain pinhole projection stores no distortion, and those 2D joints, given as
    predictions, still triangulate onto the world-frame ground truth."""
    root, rng = tmp_path / "release", np.random.default_rng(11)
    truth, _ = write_multiview_sequence(str(root), 9, "Walking 1", rng, frames=3, width=WIDTH, distorted=False)
    write_official_h36m(
        str(root), rng, frames=2, width=WIDTH, layout=((1, "Directions 1", (CAMERAS[0],)),), quirks=False
    )
    prepare(["--src", str(root), "--out", str(tmp_path / "h36m"), *CONVERT])
    opts = ["--task", "human3d", "--dataset", "h36m", "--test", "--full_test", "--multiview"]
    dataset = get_dataset(quiet_opts(*opts, "--data_dir", str(tmp_path)), "val")
    labels = dataset.labels(dataset.indices)
    assert not labels["camera_lens"][:, 4:].any() and labels["camera_lens"][:, 0].min() > 0  # pinhole, no distortion
    perfect = np.stack(
        [
            truth[f"Walking 1.{camera}"]["pose_2d"][frame][OFFICIAL_TO_H36M17][H36M_TO_MPII]
            for camera, frame in zip(labels["camera"], labels["frame"])
        ]
    )
    summary, _ = score_multiview(perfect, labels)
    assert summary["num_mv_samples"] == 3 and summary["mpjpe_mv_abs"] < 0.05


def test_multiview_is_a_human36m_test_flag():
    with pytest.raises(UserError, match="add --test"):
        quiet_opts("--task", "human3d", "--dataset", "h36m", "--multiview")
    with pytest.raises(UserError, match="--dataset h36m"):
        quiet_opts("--task", "human3d", "--dataset", "mpi_inf_3dhp", "--test", "--multiview")
    with pytest.raises(UserError, match="scores the test subjects.*drop --test_split train"):
        quiet_opts("--task", "human3d", "--dataset", "h36m", "--test", "--multiview", "--test_split", "train")


@pytest.mark.e2e
def test_an_older_cache_is_one_line_from_the_command(release, resnet18_3d_checkpoint, tmp_path):
    data_dir = copy_with_entries(release[3], tmp_path, without("camera_R"))
    args = command_args(data_dir, resnet18_3d_checkpoint, tmp_path, "old", "--multiview")
    proc = subprocess.run([sys.executable, "main.py", *args], capture_output=True, text=True, cwd=SRC_DIR, timeout=600)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "hg3d-prepare-h36m again" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
