"""scripts/prepare_h36m.py on a generated tree in the official layout (OpenCV videos, cdflib pose
files, the release's quirks), checked against the generated truth; then the converted data
through the loader, the 3D decode and ``main.py --test``."""

import glob
import os
import pickle
import shutil
import subprocess
import sys
import time

import cv2
import h5py
import numpy as np
import pytest
import torch

from helpers import FIXTURE_DATA, H36M_FULL_TEST, REPO_DIR, SRC_DIR, TINY_CPU, run_main
from hg3d import commands
from hg3d.camera import Intrinsics, project, root_translation
from hg3d.datasets import get_dataset
from hg3d.decode import decode_3d
from hg3d.errors import UserError
from hg3d.geometry import affine_transform, get_affine_transform
from hg3d.joints import H36M_TO_MPII
from hg3d.metrics.h36m import h36m_metrics
from hg3d.tools import prepare_h36m
from hg3d.tools.h36m_sample import camera_matrix, write_official_h36m
from hg3d.tools.prepare_h36m import cache_path
from hg3d.tools.prepare_h36m import main as prepare
from hg3d.train_options import parse_opts

OFFICIAL_17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]  # spec, written out
STEPS = {"Train": 2, "Val": 3}
ARGS = ["--train_subjects", "1,5", "--train_step", "2", "--test_step", "3"]
SCRIPT = os.path.join(REPO_DIR, "scripts", "prepare_h36m.py")


def run_script(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300)


def read_cache(out, split):
    path = os.path.join(
        out,
        "msra_cache",
        f"HM36_eccv_challenge_{split}_cache",
        f"HM36_eccv_challenge_{split}_w288xh384_keypoint_jnt_bbox_db.pkl",
    )
    with open(path, "rb") as handle:
        return pickle.load(handle)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    truth = write_official_h36m(str(root), np.random.default_rng(0))
    return str(root), truth


@pytest.fixture(scope="module")
def converted(tree, tmp_path_factory):
    """The script run once with 2 worker processes, as a user runs it."""
    src, _ = tree
    data = tmp_path_factory.mktemp("data")
    out = str(data / "h36m")
    proc = run_script("--src", src, "--out", out, "--workers", "2", *ARGS)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def video_frames(path):
    capture, frames = cv2.VideoCapture(path), []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def similarity_by_least_squares(xy, uv):
    """Independent fit: u = a x - b y + tx, v = b x + a y + ty (linear in a, b, tx, ty)."""
    n = len(xy)
    design = np.zeros((2 * n, 4))
    design[0::2] = np.c_[xy[:, 0], -xy[:, 1], np.ones(n), np.zeros(n)]
    design[1::2] = np.c_[xy[:, 1], xy[:, 0], np.zeros(n), np.ones(n)]
    (a, b, tx, ty), *_ = np.linalg.lstsq(design, uv.reshape(-1), rcond=None)
    rotation = np.array([[a, b], [-b, a]]) / np.hypot(a, b)  # row form: (x, y) @ rotation
    return np.hypot(a, b), xy @ (np.hypot(a, b) * rotation) + [tx, ty], rotation


@pytest.mark.e2e
def test_entries_match_the_generated_truth(tree, converted):
    src, truth = tree
    out, _ = converted
    largest_gap = 0.0
    for split, subjects in (("Train", (1, 5)), ("Val", (9, 11))):
        entries = read_cache(out, split)
        expected = [
            (s, name, row)
            for (s, name), t in sorted(truth.items())
            if s in subjects and (s, name) != (11, "Directions.54138969")  # the damaged video
            for row in range(0, len(t["pose_2d"]), STEPS[split])
        ]
        assert [(e["subject"], f"{e['sequence']}.{e['camera']}", e["frame"]) for e in entries] == expected
        frames = {}
        for i, entry in enumerate(entries):
            name = f"{entry['sequence']}.{entry['camera']}"
            t, row = truth[(entry["subject"], name)], entry["frame"]
            assert entry["image"] == f"{i + 1:05d}.jpg"
            assert entry["action"] == {"TakingPhoto 1": "Photo", "WalkingDog": "WalkDog"}.get(
                entry["sequence"], entry["sequence"].split(" ")[0]
            )
            xyz = t["pose_3d"][row][OFFICIAL_17]
            k, uv, _ = similarity_by_least_squares(xyz[:, :2], t["pose_2d"][row][OFFICIAL_17])
            shoulders = lambda a: np.concatenate([a, (a[11:12] + a[14:15]) / 2])  # noqa: E731
            np.testing.assert_allclose(entry["joints_3d"][:, :2], shoulders(uv), atol=1e-6)
            np.testing.assert_allclose(entry["joints_3d"][:, 2], shoulders(k * (xyz[:, 2] - xyz[0, 2])), atol=1e-6)
            np.testing.assert_allclose(entry["joints_3d_relative"], shoulders(xyz - xyz[0]), atol=1e-9)
            largest_gap = max(largest_gap, np.abs(uv - t["pose_2d"][row][OFFICIAL_17]).max())
            w, h = np.ptp(uv, 0)
            w, h = (w, w * 4 / 3) if w / h > 3 / 4 else (h * 3 / 4, h)
            np.testing.assert_allclose([entry["width"], entry["height"]], [1.25 * w, 1.25 * h])
            np.testing.assert_allclose([entry["center_x"], entry["center_y"]], (uv.min(0) + uv.max(0)) / 2)
            # the image is its video frame (JPEG-close to it, and not a neighbour)
            if name not in frames:
                frames[name] = video_frames(os.path.join(src, f"S{entry['subject']}", "Videos", f"{name}.mp4"))
            image = cv2.imread(os.path.join(out, "ECCV18_Challenge", split, "IMG", entry["image"])).astype(float)
            errors = [np.abs(image - f).mean() for f in frames[name]]
            assert errors[row] < 4.0 and int(np.argmin(errors)) == row, errors
    assert largest_gap < 0.05 * 128  # perspective residue: a few px on 128-px frames


def pinhole(matrix):
    return np.array([matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]])


@pytest.mark.e2e
def test_entries_keep_the_camera_frame_root_and_the_fitted_intrinsics(tree, converted):
    """The pelvis from D3_Positions_mono and the pinhole fitted to the video's D2 / D3 pairs; with
    them the perspective 2D and the root come back exactly (perfect labels)."""
    _, truth = tree
    out, proc = converted
    for split in ("Train", "Val"):
        for entry in read_cache(out, split):
            t = truth[(entry["subject"], f"{entry['sequence']}.{entry['camera']}")]
            row = entry["frame"]
            np.testing.assert_array_equal(entry["root_cam"], t["pose_3d"][row][0])
            np.testing.assert_allclose(entry["intrinsics"], pinhole(t["K"]), rtol=1e-9)
            camera = Intrinsics(*entry["intrinsics"])
            pose = entry["root_cam"] + entry["joints_3d_relative"][:17]
            np.testing.assert_allclose(project(pose, camera), t["pose_2d"][row][OFFICIAL_17], atol=1e-6)
            found = root_translation(t["pose_2d"][row][OFFICIAL_17], entry["joints_3d_relative"][:17], camera)
            np.testing.assert_allclose(found, entry["root_cam"], atol=1e-6)
    assert "camera table" not in proc.stdout and "pinhole fit residual up to 0.00 px rms" in proc.stdout


@pytest.mark.e2e
def test_the_dataset_hands_out_the_camera_labels(converted, tmp_path):
    out, _ = converted
    dataset = get_dataset(h36m_opts(os.path.dirname(out)), "val")
    entries = read_cache(out, "Val")
    samples = np.array([4, 0, 7])
    labels = dataset.camera_labels(samples)
    np.testing.assert_array_equal(labels["root_cam"], [entries[i]["root_cam"] for i in samples])
    np.testing.assert_array_equal(labels["intrinsics"], [entries[i]["intrinsics"] for i in samples])
    assert get_dataset(h36m_opts(FIXTURE_DATA), "val").camera_labels(samples) is None  # challenge caches
    # a cache whose later entry lacks them (or holds a bad one) is named in one line
    copy = tmp_path / "h36m"
    shutil.copytree(os.path.join(out, "ECCV18_Challenge"), copy / "ECCV18_Challenge")
    for entry, problem in ((1, "lacks root_cam"), (2, "intrinsics is not a finite number")):
        broken = [dict(e) for e in entries]
        if problem.startswith("lacks"):
            del broken[entry]["root_cam"]
        else:
            broken[entry]["intrinsics"] = np.array([1.0, np.nan, 3.0, 4.0])
        cache = cache_path(str(copy), "Val")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        with open(cache, "wb") as handle:
            pickle.dump(broken, handle)
        with pytest.raises(UserError, match=f"entry {entry} .*{problem}"):
            get_dataset(h36m_opts(str(tmp_path)), "val")


@pytest.mark.e2e
def test_quirks_are_reported_and_the_run_goes_on(converted):
    out, proc = converted
    for needle in (
        "S11/Videos/Directions.54138969.mp4 cannot be read",
        "S9/Greeting.58860488: video without its pose file",
        "S9/Posing 1.54138969: pose files without a video",
    ):
        assert sum(needle in line for line in proc.stdout.splitlines()) == 2, needle  # as found + summary
    assert "Traceback" not in proc.stderr and "moov atom" not in proc.stderr
    assert "3 skipped" in proc.stdout and "JPEG quality 95" in proc.stdout


def h36m_opts(data_dir, *extra):
    return parse_opts(
        ["--task", "human3d", "--dataset", "h36m", "--data_dir", data_dir, "--gpus", "-1", "--full_test", *extra],
        log=lambda _: None,
    )


@pytest.mark.e2e
def test_ground_truth_through_the_3d_decode_gives_zero_mpjpe(tree, converted):
    _, truth = tree
    out, _ = converted
    opt = h36m_opts(os.path.dirname(out))
    dataset = get_dataset(opt, "val")
    items = [dataset[i] for i in range(len(dataset))]
    gt_3d = np.stack([item["gt_3d"] for item in items])
    out_w, out_h = opt.output_w, opt.output_h
    # Exact (sub-pixel) crop coordinates of the labels: the decode without the argmax quantisation.
    exact = []
    for item in items:
        ann = dataset.annotations[int(item["index"])]
        trans = get_affine_transform(item["center"], item["scale"], 0, (out_w, out_h))
        joints = np.asarray(ann["joints_3d"])[H36M_TO_MPII]
        xyz = np.c_[affine_transform(joints[:, :2], trans) / out_w, joints[:, 2] / item["scale"][0]]
        exact.append(xyz - xyz[6])
    _, mpjpe, pa_mpjpe, _ = h36m_metrics(np.stack(exact), gt_3d)
    assert pa_mpjpe.max() < 1e-3 and mpjpe.max() < 5.0
    # What MPJPE sees is the fit's small in-plane rotation (perspective residue); with the ground
    # truth turned by that rotation the decoded labels give 0 mm (float32 labels).
    turned = gt_3d.astype(np.float64).copy()
    for i, item in enumerate(items):
        ann = dataset.annotations[int(item["index"])]
        pose = truth[(ann["subject"], f"{ann['sequence']}.{ann['camera']}")]
        rows = pose["pose_3d"][ann["frame"]][OFFICIAL_17], pose["pose_2d"][ann["frame"]][OFFICIAL_17]
        turned[i, :, :2] = gt_3d[i, :, :2] @ similarity_by_least_squares(rows[0][:, :2], rows[1])[2]
    _, mpjpe_turned, _, _ = h36m_metrics(np.stack(exact), turned)
    assert mpjpe_turned.max() < 1e-3
    # The same labels as network maps (peak at the integer cell, depth there) through decode_3d:
    # the only difference left is the argmax's quantisation to a 1/64 cell.
    hm = torch.zeros(len(items), 16, out_h, out_w)
    dm = torch.zeros_like(hm)
    for b, item in enumerate(items):
        for j, (x, y) in enumerate(item["pts_crop"]):
            hm[b, j, y, x] = 1
            dm[b, j, y, x] = float(item["reg_target"][j, 0])
    decoded = decode_3d(hm, dm).numpy()
    assert np.abs(decoded[..., :2] - np.stack(exact)[..., :2]).max() < 1.0 / out_w
    np.testing.assert_allclose(decoded[..., 2], np.stack(exact)[..., 2], atol=1e-6)
    _, mpjpe_decoded, _, _ = h36m_metrics(decoded, gt_3d)
    assert mpjpe_decoded.mean() < 20.0


@pytest.mark.e2e
def test_main_test_reports_per_action_figures(converted, resnet18_3d_checkpoint, tmp_path):
    out, _ = converted
    proc, results = run_main(
        *H36M_FULL_TEST,
        *TINY_CPU,
        *["--data_dir", os.path.dirname(out), "--load_model", resnet18_3d_checkpoint, "--test_batch_size", "8"],
        exp_dir=tmp_path,
        exp_id="per_action",
    )
    assert proc.returncode == 0, proc.stderr
    per_action = results["per_action"]
    assert sorted(per_action) == ["Directions", "Eating", "Phoning", "Walking"]
    counts = np.array([a["num_samples"] for a in per_action.values()])
    assert counts.sum() == results["num_3d"] == 20
    for name in ("mpjpe", "pa_mpjpe"):
        values = np.array([a[name] for a in per_action.values()])
        np.testing.assert_allclose((values * counts).sum() / counts.sum(), results[name], rtol=1e-6)
        np.testing.assert_allclose(values.mean(), results[f"{name}_action_mean"], rtol=1e-6)
    assert "mean" in proc.stdout and f"{per_action['Eating']['mpjpe']:.2f}" in proc.stdout
    with h5py.File(tmp_path / "per_action" / "preds.h5") as f:
        action, subject = f["action"][:].astype(str), f["subject"][:]
        camera, frame, mpjpe = f["camera"][:].astype(str), f["frame"][:], f["mpjpe"][:]
        pred_root, gt_root = f["pred_root_cam"][:], f["gt_root_cam"][:]
    entries = read_cache(out, "Val")
    # the camera labels give MRPE (tests/test_mrpe.py checks its figures)
    np.testing.assert_array_equal(gt_root, [e["root_cam"] for e in entries])
    placed = np.isfinite(pred_root).all(1)
    assert "mrpe_note" not in results and results["num_unplaced"] == 20 - placed.sum() and placed.any()
    distance = np.linalg.norm(pred_root[placed] - gt_root[placed], axis=1).mean()
    np.testing.assert_allclose(results["mrpe"], distance, rtol=1e-9)
    assert f"MRPE {results['mrpe']:.2f} mm" in proc.stdout
    assert list(action) == [e["action"] for e in entries] and list(frame) == [e["frame"] for e in entries]
    assert list(subject) == [e["subject"] for e in entries] and list(camera) == [e["camera"] for e in entries]
    np.testing.assert_allclose(mpjpe[action == "Eating"].mean(), per_action["Eating"]["mpjpe"], rtol=1e-5)


def same_output(out_a, out_b):
    for split in ("Train", "Val"):
        a, b = read_cache(out_a, split), read_cache(out_b, split)
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert x.keys() == y.keys()
            for key in x:
                np.testing.assert_array_equal(x[key], y[key], err_msg=key)
        folder = os.path.join("ECCV18_Challenge", split, "IMG")
        names = sorted(os.listdir(os.path.join(out_a, folder)))
        assert names == sorted(os.listdir(os.path.join(out_b, folder)))
        for name in names:
            with (
                open(os.path.join(out_a, folder, name), "rb") as fa,
                open(os.path.join(out_b, folder, name), "rb") as fb,
            ):
                assert fa.read() == fb.read(), name


# The 8th image is the 2nd frame of the 2nd sequence (6 frames each): killed there, no clean-up.
KILLED_MID_SEQUENCE = """
import os, signal, sys
import cv2
from hg3d.tools.prepare_h36m import main
written, imwrite = [], cv2.imwrite
def counting_imwrite(path, image, params):
    written.append(path)
    if len(written) == 8:
        os.kill(os.getpid(), signal.SIGKILL)
    return imwrite(path, image, params)
cv2.imwrite = counting_imwrite
main(sys.argv[1:])
"""


@pytest.mark.e2e
def test_killed_conversion_rerun_equals_a_clean_run(tree, converted, tmp_path, capsys):
    src, _ = tree
    out = str(tmp_path / "h36m")
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_MID_SEQUENCE, "--src", src, "--out", out, "--workers", "1", *ARGS],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": SRC_DIR},
    )
    assert proc.returncode == -9, proc.stderr
    sequences = os.path.join(out, "sequences", "S1")
    assert any(d.endswith(".partial") for d in os.listdir(sequences))  # killed mid-sequence
    assert not os.path.exists(os.path.join(out, "msra_cache"))  # the caches come last
    result = prepare(["--src", src, "--out", out, "--workers", "1", *ARGS])
    assert result["reused"] == 1 and result["sequences"] == 9  # the finished one kept, the rest redone
    assert not [d for d in os.listdir(sequences) if d.endswith(".partial")]
    same_output(out, converted[0])
    again = prepare(["--src", src, "--out", out, "--workers", "1", *ARGS])
    assert again["reused"] == 9
    same_output(out, converted[0])
    other_step = prepare(["--src", src, "--out", out, "--workers", "1", *ARGS, "--test_step", "4"])
    assert other_step["reused"] == 4  # the training sequences; the test ones are redone
    assert sorted({e["frame"] for e in read_cache(out, "Val")}) == [0, 4, 8]


@pytest.mark.e2e
def test_crop_stores_the_box_surroundings_with_shifted_labels(tree, converted, tmp_path):
    src, _ = tree
    out = str(tmp_path / "h36m")
    prepare(["--src", src, "--out", out, "--workers", "1", "--crop", *ARGS])
    full, crop = read_cache(converted[0], "Val"), read_cache(out, "Val")
    for a, b in zip(full, crop):
        offset = np.array(b["crop_offset"], float)
        np.testing.assert_allclose(b["joints_3d"][:, :2], a["joints_3d"][:, :2] - offset)
        np.testing.assert_allclose([b["center_x"], b["center_y"]], [a["center_x"], a["center_y"]] - offset)
        np.testing.assert_array_equal(b["root_cam"], a["root_cam"])  # the principal point moves with the crop
        np.testing.assert_allclose(b["intrinsics"], a["intrinsics"] - [0, 0, *offset])
    full_set = get_dataset(h36m_opts(os.path.dirname(converted[0])), "val")
    crop_set = get_dataset(h36m_opts(str(tmp_path)), "val")
    for i in range(len(full_set)):
        x, y = full_set[i], crop_set[i]
        for key in ("target", "reg_target", "reg_ind", "gt_3d"):
            np.testing.assert_allclose(x[key], y[key], atol=1e-4, err_msg=key)
        assert np.abs(x["input"] - y["input"]).mean() < 0.05  # same pixels, JPEG-encoded apart


def one_line_error(capsys, *argv):
    """``commands.prepare_h36m(argv)`` as scripts/prepare_h36m.py runs it: exit status and the stderr line."""
    status = commands.prepare_h36m(list(argv))
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    return err


def test_bad_input_is_one_line(tree, tmp_path, capsys):
    src, _ = tree
    assert "--src" in one_line_error(capsys, "--src", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert "--train_step" in one_line_error(capsys, "--src", src, "--out", "x", "--train_step", "five")
    err = one_line_error(capsys, "--src", src, "--out", str(tmp_path / "out"))  # default subjects: no S6
    assert "S6 not found (unpack SubjectSpecific_7.tgz" in err
    assert "overlap" in one_line_error(capsys, "--src", src, "--out", str(tmp_path / "out"), "--train_subjects", "1,9")
    foreign = tmp_path / "challenge"
    (foreign / "ECCV18_Challenge").mkdir(parents=True)
    assert "refusing to overwrite" in one_line_error(capsys, "--src", src, "--out", str(foreign), *ARGS)
    assert os.listdir(foreign) == ["ECCV18_Challenge"]


def test_short_video_and_unreadable_pose_file_are_skipped_and_every_capture_released(tmp_path, capsys, monkeypatch):
    layout = (
        (1, "Walking 1", ("54138969", "60457274")),
        (1, "Sitting 2", ("58860488",)),
        (9, "Sitting 1", ("54138969",)),
    )
    src = str(tmp_path / "src")
    write_official_h36m(src, np.random.default_rng(1), frames=6, width=64, layout=layout, quirks=False)
    short = os.path.join(src, "S1", "Videos", "Walking 1.60457274.mp4")
    writer = cv2.VideoWriter(short, cv2.VideoWriter_fourcc(*"mp4v"), 50, (64, 66))
    for _ in range(3):
        writer.write(np.zeros((66, 64, 3), np.uint8))
    writer.release()
    garbage = os.path.join(src, "S1", "MyPoseFeatures", "D2_Positions", "Sitting 2.58860488.cdf")
    with open(garbage, "wb") as handle:
        handle.write(b"not a cdf file")
    captures, real_capture = [], cv2.VideoCapture

    class TrackedCapture:
        def __init__(self, path):
            self.capture, self.released = real_capture(path), False
            captures.append(self)

        def __getattr__(self, name):
            return getattr(self.capture, name)

        def release(self):
            self.released = True
            self.capture.release()

    monkeypatch.setattr(prepare_h36m.cv2, "VideoCapture", TrackedCapture)
    result = prepare(
        [
            "--src",
            src,
            "--out",
            str(tmp_path / "h36m"),
            "--train_subjects",
            "1",
            "--test_subjects",
            "9",
            "--train_step",
            "1",
            "--test_step",
            "1",
            "--workers",
            "1",
        ]
    )
    assert result["problems"][0].startswith(f"cannot read the pose file {garbage}")
    assert result["problems"][1:] == [f"{short} ends after 3 frames but its pose files have 6 rows (damaged)"]
    assert result["sizes"] == {"Train": 6, "Val": 6}
    assert f"skipped: {short} ends after 3 frames" in capsys.readouterr().out
    assert len(captures) == 3 and all(c.released for c in captures)  # the short video's too


def converted_sequences(out):
    return sorted(glob.glob(os.path.join(out, "sequences", "S*", "*", prepare_h36m.ENTRIES)))


def test_a_failing_worker_cancels_the_queued_sequences(tmp_path, monkeypatch):
    """An error that is not one skipped video ends the run without converting the rest first."""
    cameras = ("54138969", "55011271", "58860488", "60457274")
    actions = ("Walking 1", "Eating 1", "Sitting 1", "Phoning 1", "Smoking 1")
    layout = (*((1, action, cameras) for action in actions), (9, "Walking 1", cameras[:1]))
    src, out = str(tmp_path / "src"), str(tmp_path / "h36m")
    write_official_h36m(src, np.random.default_rng(2), frames=4, width=64, layout=layout, quirks=False)
    args = ["--src", src, "--out", out, "--workers", "2", "--train_subjects", "1", "--test_subjects", "9"]
    jobs, _ = prepare_h36m.plan(prepare_h36m.parse_args(args))
    os.makedirs(os.path.dirname(jobs[0]["dir"]))
    open(jobs[0]["dir"] + ".partial", "w").close()  # a file where the first sequence's folder goes
    write_frames = prepare_h36m.write_frames

    def slow_write_frames(job, folder):
        """Each sequence takes 0.2 s, so the main process sees the failure long before the workers
        could finish the rest (the workers are forked: they run this too)."""
        time.sleep(0.2)
        return write_frames(job, folder)

    monkeypatch.setattr(prepare_h36m, "write_frames", slow_write_frames)
    with pytest.raises(FileExistsError):
        prepare(args)
    # The sequences already handed to the 2 workers (one running, up to 3 queued, one more
    # handed out as the failure came back) finish; the other 20 are no longer converted first.
    assert len(converted_sequences(out)) <= 8, len(converted_sequences(out))
    assert not os.path.exists(os.path.join(out, "msra_cache"))


@pytest.mark.e2e
def test_sequences_of_an_earlier_subject_list_are_reported_then_removed(tree, converted, tmp_path, capsys):
    src, _ = tree
    out = str(tmp_path / "h36m")
    shutil.copytree(converted[0], out)
    before = converted_sequences(out)
    fewer = ["--src", src, "--out", out, "--workers", "1", *ARGS, "--train_subjects", "1"]
    result = prepare(fewer)
    s5 = [os.path.dirname(p) for p in before if f"{os.sep}S5{os.sep}" in p]
    assert result["stale"] == s5 and s5 and result["reused"] == result["sequences"]
    assert f"holds {len(s5)} sequence folder(s) that this run does not use (S5: {len(s5)})" in capsys.readouterr().out
    assert converted_sequences(out) == before  # reported, kept
    assert {e["subject"] for e in read_cache(out, "Train")} == {1}
    result = prepare([*fewer, "--remove_stale"])
    assert result["stale"] == s5 and f"removed {len(s5)} sequence folder(s)" in capsys.readouterr().out
    assert not os.path.exists(os.path.join(out, "sequences", "S5"))
    assert converted_sequences(out) == [p for p in before if f"{os.sep}S5{os.sep}" not in p]
    assert prepare(fewer)["stale"] == []


def test_intrinsics_unlike_the_table_are_noticed_and_old_sequences_redone(tmp_path):
    layout = ((1, "Walking 1", ("54138969", "58860488")), (9, "Sitting 1", ("55011271",)))
    # camera 58860488 with a 5 % longer focal length and a principal point 40 px (at 1000 px) off
    other = {"58860488": (1.05 * 1149.1407, 1.05 * 1148.7990, 559.8159, 501.4026)}
    src, out = str(tmp_path / "src"), str(tmp_path / "h36m")
    truth = write_official_h36m(src, np.random.default_rng(2), 6, 64, layout, quirks=False, intrinsics=other)
    argv = ["--src", src, "--out", out, "--train_subjects", "1", "--test_subjects", "9", "--workers", "1"]
    result = prepare(argv)
    assert len(result["notices"]) == 1
    notice = result["notices"][0]
    assert notice.startswith("S1/Walking 1.58860488: intrinsics fitted") and "in fx, fy, cx by up to 7.7 %" in notice
    entries = read_cache(out, "Train")
    assert {e["camera"] for e in entries} == {"54138969", "58860488"}
    for entry in entries:  # the entries keep what the poses say
        if entry["camera"] == "58860488":
            np.testing.assert_allclose(entry["intrinsics"], pinhole(camera_matrix("58860488", 64, other)), rtol=1e-9)
            np.testing.assert_allclose(entry["intrinsics"], pinhole(truth[(1, "Walking 1.58860488")]["K"]), rtol=1e-9)
        else:  # the release's table (spec) at 64 / 1000 of its size
            table = np.array([1145.0494, 1143.7811, 512.5415, 515.4515]) * 64 / 1000
            np.testing.assert_allclose(entry["intrinsics"], table, rtol=1e-9)
    # a sequence finished by the converter before entries held the camera labels is converted again
    stored_path = os.path.join(out, "sequences", "S9", "Sitting 1.55011271", "entries.pkl")
    with open(stored_path, "rb") as handle:
        stored = pickle.load(handle)
    del stored["settings"]["format"], stored["intrinsics"]
    for entry in stored["entries"]:
        del entry["root_cam"], entry["intrinsics"]
    with open(stored_path, "wb") as handle:
        pickle.dump(stored, handle)
    again = prepare(argv)
    assert again["reused"] == 2 and all("root_cam" in e for e in read_cache(out, "Val"))
