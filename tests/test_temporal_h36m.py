"""Pose sequences from Human3.6M: ``hg3d-train --test --save_sequences`` on a generated official
release converted by prepare_h36m (every frame of every video, the frame model's prediction with
the ground truth), read back and trained on by ``--task temporal``; the caches that cannot give
sequences are refused in one line. And the noise that training adds to ground-truth inputs."""

import json
import os
import pickle
from dataclasses import replace

import h5py
import numpy as np
import pytest
import torch

from helpers import TINY_CPU, main_py, quiet_opts, run_main
from hg3d.datasets import get_dataset
from hg3d.errors import UserError
from hg3d.joints import H36M_BONE_SUM_MM
from hg3d.safe_pickle import load_pickle
from hg3d.sequences import frame_model_sequences, read_sequences, write_sequences
from hg3d.temporal import IN_2D, START_3D, TemporalModel, WindowBatches
from hg3d.tools.h36m_official import OFFICIAL_TO_H36M17
from hg3d.tools.h36m_sample import write_official_h36m
from hg3d.tools.prepare_h36m import ENTRIES, cache_path
from hg3d.tools.prepare_h36m import main as prepare
from hg3d.tools.sample_data import write_h36m
from hg3d.tools.synthetic_motion import synthetic_sequences

FRAMES = 30
# S1 trains, S9 tests; camera 54138969 films 128 x 130 frames, the others 128 x 128.
LAYOUT = (
    (1, "Walking 1", ("54138969", "55011271")),
    (9, "Eating 2", ("54138969",)),
    (9, "Walking 1", ("55011271",)),
)
TEST_STEP = 2  # the test subjects keep every 2nd frame: their sequences run at 25 fps


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """A generated official release: its folder and its ground truth."""
    src = str(tmp_path_factory.mktemp("official"))
    return src, write_official_h36m(
        src, np.random.default_rng(3), frames=FRAMES, width=128, layout=LAYOUT, quirks=False
    )


@pytest.fixture(scope="module")
def release(official, tmp_path_factory):
    """The generated release converted with every training frame and every 2nd test frame."""
    src, truth = official
    out = str(tmp_path_factory.mktemp("data") / "h36m")
    subjects = ["--train_subjects", "1", "--test_subjects", "9", "--workers", "1"]
    prepare(["--src", src, "--out", out, *subjects, "--train_step", "1", "--test_step", str(TEST_STEP)])
    return truth, out


def h36m_test(data_dir, *args):
    return ["--task", "human3d", "--dataset", "h36m", "--test", "--data_dir", data_dir, *TINY_CPU, *args]


@pytest.mark.e2e
def test_save_sequences_writes_every_frame_of_every_video_and_the_temporal_model_trains_on_them(
    release, resnet18_3d_checkpoint, tmp_path
):
    truth, out = release
    data_dir, exp = os.path.dirname(out), tmp_path / "exp"
    files = {}
    for split, extra in (("test", []), ("train", ["--test_split", "train"])):
        files[split] = str(tmp_path / f"{split}.h5")
        argv = h36m_test(data_dir, "--load_model", resnet18_3d_checkpoint, "--save_sequences", files[split], *extra)
        proc, results = run_main(*argv, exp_dir=exp, exp_id=f"frame_{split}")
        assert proc.returncode == 0, proc.stderr
        assert results["full_test"] is True  # implied: every frame
        kept = FRAMES // (TEST_STEP if split == "test" else 1)
        assert f"sequences: 2 videos, {2 * kept} frames written to {files[split]}" in proc.stdout

    sequences = {s.name: s for split in files for s in read_sequences(files[split], need_gt=True)}
    assert sorted(sequences) == [
        "S1_Walking 1.54138969",
        "S1_Walking 1.55011271",
        "S9_Eating 2.54138969",
        "S9_Walking 1.55011271",
    ]
    eating = sequences["S9_Eating 2.54138969"]
    assert (eating.subject, eating.action, eating.camera, eating.inputs) == ("S9", "Eating", "54138969", "frame_model")
    assert (eating.fps, eating.frame_step, eating.width, eating.height) == (50 / TEST_STEP, TEST_STEP, 128, 130)
    walking = sequences["S1_Walking 1.55011271"]
    assert (walking.fps, walking.frame_step, walking.width, walking.height) == (50, 1, 128, 128)
    for name, seq in sequences.items():
        subject, video = name.split("_", 1)
        step = seq.frame_step
        assert len(seq) == FRAMES // step and seq.joints_2d.shape == (len(seq), 16, 2)
        assert seq.joints_3d.shape == seq.gt_3d.shape == (len(seq), 17, 3) and seq.confidence.shape == (len(seq), 16)
        # the ground truth of those frames, in frame order: the release's own 3D, root-relative
        pose = truth[(int(subject[1:]), video)]["pose_3d"][::step][:, OFFICIAL_TO_H36M17]
        np.testing.assert_allclose(seq.gt_3d, pose - pose[:, :1], atol=0.01)  # mm

    # the inputs are the frame model's per-frame outputs of --test (preds.h5), frame by frame
    entries = load_pickle(cache_path(out, "Val"), "cache")
    with h5py.File(exp / "frame_test" / "preds.h5") as preds:
        index, pred_3d, pred_2d, confidence = (preds[k][:] for k in ("index", "pred_3d", "pred_2d", "confidence"))
    rows = [i for i in np.argsort(index) if entries[index[i]]["sequence"] == "Eating 2"]
    assert [entries[index[i]]["frame"] for i in rows] == list(range(0, FRAMES, TEST_STEP))
    np.testing.assert_array_equal(eating.joints_3d, pred_3d[rows])
    np.testing.assert_array_equal(eating.joints_2d, pred_2d[rows])
    np.testing.assert_array_equal(eating.confidence, confidence[rows])
    assert np.ptp(eating.confidence) > 0

    temporal = ["--task", "temporal", "--gpus", "-1", "--channels", "16", "--batch_size", "8", "--print_iter", "10"]
    proc, _ = run_main(
        *temporal, "--sequences", files["train"], "--val_sequences", files["test"], "--num_epoch", "1",
        exp_dir=exp, exp_id="temporal",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "ground-truth inputs" not in proc.stdout  # the frame model's inputs get no noise
    walking_s1 = sequences["S1_Walking 1.54138969"]
    truth_file = str(tmp_path / "truth.h5")
    write_sequences(truth_file, [replace(walking_s1, joints_3d=walking_s1.gt_3d, inputs="ground_truth"), walking])
    proc, _ = run_main(
        *temporal, "--sequences", truth_file, "--val_sequences", files["test"], "--num_epoch", "1",
        exp_dir=exp, exp_id="truth",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "1 of 2 training sequences have ground-truth inputs: noise of 4 px (2D) and 30 mm (3D)" in proc.stdout
    checkpoint = str(exp / "temporal" / "model_last.pth")
    proc, results = run_main(
        *temporal, "--test", "--sequences", files["test"], "--load_model", checkpoint, exp_dir=exp, exp_id="t_test"
    )
    assert proc.returncode == 0, proc.stderr
    frame_results = json.loads((exp / "frame_test" / "results.json").read_text())
    # the same frames, the frame model's own 3D: the same MPJPE as its --test reported
    assert results["mpjpe_input"] == pytest.approx(frame_results["mpjpe"], rel=1e-5)
    assert set(results["per_action"]) == {"Eating", "Walking"} and np.isfinite(results["mpjpe"])


def test_caches_without_videos_and_bad_flags_are_one_line(release, tmp_path):
    _, out = release
    data_dir = os.path.dirname(out)
    save = ["--save_sequences", str(tmp_path / "s.h5")]
    cases = [
        (["--task", "human3d", "--dataset", "h36m", "--data_dir", data_dir, *save], "add --test"),
        (
            ["--task", "human2d", "--dataset", "mpii", "--test", *save],
            "is for the frame model's --test on --dataset h36m",
        ),
        (h36m_test(data_dir, "--save_sequences", str(tmp_path)), "is a folder: give a file name"),
        (h36m_test(data_dir, "--save_sequences", str(tmp_path / "no" / "s.h5")), "its folder does not exist"),
        (h36m_test(data_dir, "--test_split", "validation"), "Human3.6M has no validation split"),
    ]
    for argv, message in cases:
        with pytest.raises(UserError, match=message):
            quiet_opts(*argv)
    # the ECCV 2018 challenge's caches (as the sample data writes them) carry no video labels
    write_h36m(tmp_path / "challenge" / "h36m", np.random.default_rng(0), 2, 3, size=64)
    dataset = get_dataset(quiet_opts(*h36m_test(str(tmp_path / "challenge"), *save)), "val")
    with pytest.raises(UserError, match=r"needs each image's video and frame .* convert the official release"):
        dataset.videos()


def test_unevenly_spaced_or_old_cropped_caches_give_no_sequences(release, tmp_path):
    _, out = release
    dataset = get_dataset(quiet_opts(*h36m_test(os.path.dirname(out), "--save_sequences", "s.h5")), "val")
    assert [video[0] for video in dataset.videos()] == ["S9_Eating 2.54138969", "S9_Walking 1.55011271"]
    dataset.annotations = [{**e, "frame": e["frame"] + (e["frame"] >= 10)} for e in dataset.annotations]
    with pytest.raises(UserError, match=r"not evenly spaced \(gaps of 2, 3 frames\)"):
        dataset.videos()
    dataset.annotations = [{**e, "crop_offset": [0, 0]} for e in dataset.annotations]  # no frame_size
    with pytest.raises(UserError, match=r"needs each crop's frame size.*: run hg3d-prepare-h36m again"):
        dataset.videos()


def cache_2d(entries):
    """{(sequence, camera, frame): the cache's 2D labels (px of its stored image)}."""
    return {(e["sequence"], e["camera"], e["frame"]): np.asarray(e["joints_3d"])[:, :2] for e in entries}


@pytest.fixture(scope="module")
def cropped(official, tmp_path_factory):
    """The generated release converted with --crop (every 2nd test frame); (converter argv, out)."""
    out = str(tmp_path_factory.mktemp("cropped") / "h36m")
    convert = ["--src", official[0], "--out", out, "--train_subjects", "1", "--test_subjects", "9"]
    convert += ["--workers", "1", "--test_step", str(TEST_STEP), "--crop"]
    prepare(convert)
    return convert, out


def test_a_cropped_cache_gives_sequences_in_the_video_frame(cropped, release):
    """Perfect labels through a --crop conversion: each crop's 2D labels given as the predictions
    come out of --save_sequences' sequences as the full-frame conversion's 2D labels, with the
    video's frame size; a crop cache converted before the frame size was kept is converted again."""
    (convert, out), (_, full) = cropped, release
    entries_file = os.path.join(out, "sequences", "S9", "Eating 2.54138969", ENTRIES)
    stored = load_pickle(entries_file, "converted sequence")
    stored["settings"]["crop"] = True  # as the converter wrote crops before they kept the frame size
    for entry in stored["entries"]:
        del entry["frame_size"]
    with open(entries_file, "wb") as handle:
        pickle.dump(stored, handle)
    prepare(convert)  # converts that video again
    assert "frame_size" in load_pickle(entries_file, "converted sequence")["entries"][0]
    dataset = get_dataset(quiet_opts(*h36m_test(os.path.dirname(out), "--save_sequences", "s.h5")), "val")
    assert all(np.any(e["crop_offset"]) for e in dataset.annotations)  # crops, not the whole frame
    videos = dataset.videos()
    index = np.arange(len(dataset.annotations))
    perfect = np.array([np.asarray(e["joints_3d"])[:, :2] for e in dataset.annotations], np.float32)
    arrays = {"index": index, "pred_2d": perfect, "confidence": np.ones(perfect.shape[:2], np.float32)}
    arrays.update(pred_3d=np.zeros((len(index), 17, 3), np.float32), gt_3d=np.zeros((len(index), 17, 3), np.float32))
    full_2d = cache_2d(load_pickle(cache_path(full, "Val"), "cache"))
    for seq, (_, samples, _, _) in zip(frame_model_sequences(videos, arrays), videos):
        assert (seq.width, seq.height) == ((128, 130) if seq.camera == "54138969" else (128, 128))
        keys = [(e["sequence"], e["camera"], e["frame"]) for e in (dataset.annotations[i] for i in samples)]
        np.testing.assert_allclose(seq.joints_2d, np.stack([full_2d[k] for k in keys]), atol=1e-3)  # px


@pytest.mark.e2e
def test_a_save_sequences_error_is_one_line_before_any_prediction(tmp_path, resnet18_3d_checkpoint):
    write_h36m(tmp_path / "h36m", np.random.default_rng(0), 2, 3, size=64)
    argv = h36m_test(str(tmp_path), "--load_model", resnet18_3d_checkpoint, "--save_sequences", str(tmp_path / "s.h5"))
    proc = main_py(*argv, "--exp_dir", str(tmp_path / "exp"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "ECCV 2018 challenge caches lack" in proc.stderr and "loaded" not in proc.stdout
    assert not os.path.exists(tmp_path / "s.h5")


# --- noise on ground-truth inputs ----------------------------------------------------------------


def truth_inputs(seq, inputs, confidence):
    """``seq`` with the ground truth as its 3D input, marked ``inputs``, every confidence ``confidence``
    (a tag: noise never touches confidences)."""
    return replace(seq, joints_3d=seq.gt_3d, inputs=inputs, confidence=np.full_like(seq.confidence, confidence))


def test_training_windows_get_noise_of_the_stated_size_only_where_the_inputs_are_ground_truth():
    first, second = synthetic_sequences(np.random.default_rng(0), 2, "n", frames=400)
    mixed = [truth_inputs(first, "ground_truth", 1.0), truth_inputs(second, "frame_model", 0.5)]
    model = TemporalModel(27, False, channels=16)
    noise_mm, noise_px = 30.0, 4.0
    torch.manual_seed(0)
    noisy = torch.cat([b["input"] for b in WindowBatches(mixed, model, 64, 0.0, noise_mm, noise_px)])
    torch.manual_seed(0)
    clean = torch.cat([b["input"] for b in WindowBatches(mixed, model, 64, 0.0)])  # the same windows
    noise = (noisy - clean).transpose(1, 2)  # (windows, frames, features)
    marked = clean[:, IN_2D, 0] == 1.0
    assert 0.3 < marked.float().mean() < 0.7
    assert noise[~marked].abs().max() == 0  # a frame model's inputs stay as they are
    px = noise[marked][..., :IN_2D] * first.width / 2
    mm = noise[marked][..., START_3D:].reshape(int(marked.sum()), model.frames, 17, 3) * H36M_BONE_SUM_MM
    assert px.std().item() == pytest.approx(noise_px, rel=0.03) and abs(px.mean().item()) < 0.1
    assert mm[..., 1:, :].std().item() == pytest.approx(noise_mm, rel=0.03)
    assert mm[..., 0, :].abs().max() == 0  # the root stays at the origin
    assert noise[marked][..., IN_2D:START_3D].abs().max() == 0  # confidences untouched


@pytest.mark.e2e
def test_save_sequences_on_a_cropped_cache(cropped, resnet18_3d_checkpoint, tmp_path):
    """The command on a --crop conversion: every frame of each video, the video's frame size, and
    the network's 2D moved from each crop into its frame (the crops' offsets added to preds.h5's)."""
    _, out = cropped
    path, exp = str(tmp_path / "crop.h5"), tmp_path / "exp"
    argv = h36m_test(os.path.dirname(out), "--load_model", resnet18_3d_checkpoint, "--save_sequences", path)
    proc, _ = run_main(*argv, exp_dir=exp, exp_id="crop")
    assert proc.returncode == 0, proc.stderr
    entries = load_pickle(cache_path(out, "Val"), "cache")
    with h5py.File(exp / "crop" / "preds.h5") as preds:
        index, pred_2d = preds["index"][:], preds["pred_2d"][:]
    sequences = {s.name: s for s in read_sequences(path, need_gt=True)}
    eating = sequences["S9_Eating 2.54138969"]
    assert len(eating) == FRAMES // TEST_STEP and (eating.width, eating.height) == (128, 130)
    rows = [i for i in np.argsort(index) if entries[index[i]]["sequence"] == "Eating 2"]
    corners = np.array([entries[index[i]]["crop_offset"] for i in rows], np.float32)[:, None]
    np.testing.assert_allclose(eating.joints_2d, pred_2d[rows] + corners, atol=1e-4)
