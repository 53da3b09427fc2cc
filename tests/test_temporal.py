"""The temporal model: the sequence format, the network's causality, padding and two ways of
running, the flip of the data pipeline, the motion metrics, and (e2e) that a short CPU training on
the synthetic sequences makes the frame model's 3D both steadier and more accurate."""

import dataclasses
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from figures import assert_every_figure_has_its_protocol
from helpers import REPO_DIR, mirror_partner
from hg3d.checkpoint import save_checkpoint
from hg3d.errors import UserError
from hg3d.joints import H36M_JOINTS, MPII_JOINTS
from hg3d.metrics.temporal import acceleration_error, score_sequences, velocity_error
from hg3d.sequences import Sequence, read_sequences, write_sequences
from hg3d.temporal import TemporalLoss, TemporalModel, WindowBatches, flip_features, frame_features
from hg3d.tools.synthetic_motion import synthetic_sequence, synthetic_sequences


@pytest.fixture(scope="module")
def sequences():
    return synthetic_sequences(np.random.default_rng(0), 3, "t", frames=60)


def trained_like(frames, causal):
    """A model with random weights everywhere (the correction layer included), in eval mode."""
    torch.manual_seed(1)
    model = TemporalModel(frames, causal, channels=16)
    torch.nn.init.normal_(model.shrink.weight, std=0.1)
    torch.nn.init.normal_(model.blend_raw, std=0.05)
    return model.eval()


# --- the format ----------------------------------------------------------------------------------


def test_sequences_round_trip_through_the_file(tmp_path, sequences):
    path = str(tmp_path / "s.h5")
    sequences = [
        dataclasses.replace(sequences[0], frame_step=2, inputs="ground_truth"),
        dataclasses.replace(sequences[1], gt_3d=None, subject=None),  # optional
        sequences[2],
    ]
    write_sequences(path, sequences)
    back = read_sequences(path)
    assert [s.name for s in back] == [s.name for s in sequences]
    for a, b in zip(sequences, back, strict=True):
        for key in ("joints_2d", "confidence", "joints_3d"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        assert (a.gt_3d is None) == (b.gt_3d is None)
        attributes = ("fps", "width", "height", "subject", "action", "camera", "frame_step", "inputs")
        assert [getattr(a, k) for k in attributes] == [getattr(b, k) for k in attributes]
    assert back[0].inputs_are_truth and not back[1].inputs_are_truth and back[0].frame_step == 2
    with pytest.raises(UserError, match=r"sequence 't_001' lacks gt_3d"):
        read_sequences(path, need_gt=True)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: f["t_000"].__delitem__("confidence"), r"sequence 't_000' lacks confidence"),
        (lambda f: f["t_000"].attrs.__delitem__("fps"), r"sequence 't_000' lacks fps"),
        (
            lambda f: (
                f["t_000"].__delitem__("joints_3d"),
                f["t_000"].create_dataset("joints_3d", data=np.zeros((60, 16, 3))),
            ),
            r"'joints_3d' has shape \(60, 16, 3\), expected \(60, 17, 3\)",
        ),
        (lambda f: f.create_dataset("loose", data=np.zeros(3)), r"sequence 'loose': expected one group per sequence"),
        (
            lambda f: f["t_000"].attrs.__setitem__("inputs", "guessed"),
            r"attribute 'inputs' is 'guessed', expected one of frame_model, ground_truth",
        ),
    ],
)
def test_a_bad_sequence_file_is_one_line_naming_what_is_wrong(tmp_path, sequences, damage, message):
    path = str(tmp_path / "s.h5")
    write_sequences(path, sequences)
    with h5py.File(path, "a") as handle:
        damage(handle)
    with pytest.raises(UserError, match=message):
        read_sequences(path, "--val_sequences")


def test_a_missing_or_foreign_file_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"--sequences .*none.h5 does not exist \(write one with hg3d-sample-data"):
        read_sequences(str(tmp_path / "none.h5"))
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(UserError, match=r"is not a readable HDF5 file"):
        read_sequences(str(tmp_path / "text.h5"))


def test_synthetic_motion_is_deterministic_smooth_and_noisy_like_a_frame_model():
    a, b = (synthetic_sequence(np.random.default_rng(5), "x", frames=100) for _ in range(2))
    c = synthetic_sequence(np.random.default_rng(6), "x", frames=100)
    np.testing.assert_array_equal(a.joints_3d, b.joints_3d)
    assert not np.allclose(a.joints_3d, c.joints_3d)
    truth_accel = np.linalg.norm(np.diff(a.gt_3d, 2, axis=0), axis=-1).mean()
    input_accel = acceleration_error(a.joints_3d, a.gt_3d).mean()
    assert truth_accel < 2 < 20 < input_accel  # the motion is smooth; the per-frame estimates are not
    error = np.abs(a.joints_3d - a.gt_3d)[:, 1:].mean((0, 1))
    assert error[2] > 2 * error[0]  # depth errs most
    np.testing.assert_array_equal(a.joints_3d[:, 0], 0)  # root-relative


# --- the network ---------------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [True, False])
def test_a_causal_output_never_depends_on_later_frames(sequences, causal):
    model = trained_like(27, causal)
    features = frame_features(sequences[0])
    t = 30
    changed = features.copy()
    changed[t + 1 :] += np.random.default_rng(0).normal(0, 0.5, changed[t + 1 :].shape).astype(np.float32)
    before, after = model.predict_sequence(features), model.predict_sequence(changed)
    if causal:
        np.testing.assert_array_equal(before[: t + 1], after[: t + 1])
    else:
        assert not np.allclose(before[t - 5 : t + 1], after[t - 5 : t + 1])  # it looks ahead
    assert not np.allclose(before[t + 1 :], after[t + 1 :])


@pytest.mark.parametrize("frames, causal", [(27, False), (81, True)])
def test_training_windows_give_what_the_whole_sequence_run_gives(sequences, frames, causal):
    """One output per window (strided, training) equals the dense run (dilated, testing), the
    edges padded by repeating the first and last frames."""
    model = trained_like(frames, causal)
    features = frame_features(sequences[0])
    dense = model.predict_sequence(features)
    past, future = model.past, frames - 1 - model.past
    last_frame = len(features) - 1  # 59: shorter than a window of 81, padded on one side or both
    first = features[np.clip(np.arange(-past, future + 1), 0, last_frame)]
    last = features[np.clip(np.arange(last_frame - past, last_frame + future + 1), 0, last_frame)]
    with torch.no_grad():
        for window, frame in ((first, 0), (last, -1)):  # the edges: windows padded by repetition
            np.testing.assert_allclose(
                model(torch.from_numpy(window).T[None])[0, 0].numpy(), dense[frame], rtol=1e-5, atol=1e-3
            )
        padded = torch.from_numpy(model.pad(features))
        windows = torch.stack([padded[t : t + frames] for t in range(len(features))]).transpose(1, 2)
        np.testing.assert_allclose(model(windows)[:, 0].numpy(), dense, rtol=1e-5, atol=1e-3)


def test_an_untrained_model_reproduces_a_perfect_input(sequences):
    seq = sequences[0]
    perfect = Sequence(**{**seq.__dict__, "joints_3d": seq.gt_3d})
    pred = TemporalModel(81, False, channels=16).predict_sequence(frame_features(perfect))
    np.testing.assert_allclose(pred, seq.gt_3d, atol=1e-3)
    summary, _ = score_sequences([perfect], {perfect.name: pred})
    assert summary["mpjpe"] < 1e-3 and summary["accel_error"] < 1e-3


def test_the_flip_of_the_features_is_the_features_of_the_mirrored_sequence(sequences):
    """Mirroring the image (x -> width - x, left and right joints swapped, 3D x negated), checked
    against joint names, not the flip tables."""
    seq = sequences[0]
    mpii = [mirror_partner(MPII_JOINTS, j) for j in range(len(MPII_JOINTS))]
    h36m = [mirror_partner(H36M_JOINTS, j) for j in range(len(H36M_JOINTS))]
    joints_2d = seq.joints_2d[:, mpii].copy()
    joints_2d[..., 0] = seq.width - joints_2d[..., 0]
    joints_3d = seq.joints_3d[:, h36m] * [-1, 1, 1]
    mirrored = Sequence(
        **{**seq.__dict__, "joints_2d": joints_2d, "confidence": seq.confidence[:, mpii], "joints_3d": joints_3d}
    )
    np.testing.assert_allclose(
        flip_features(torch.from_numpy(frame_features(seq))).numpy(), frame_features(mirrored), atol=1e-6
    )
    model = TemporalModel(27, False, channels=16)
    torch.manual_seed(0)
    flipped = next(iter(WindowBatches([seq], model, 16, flip=1.0)))
    torch.manual_seed(0)
    plain = next(iter(WindowBatches([seq], model, 16, flip=0.0)))
    np.testing.assert_allclose(flipped["target"].numpy(), plain["target"].numpy()[:, h36m] * [-1, 1, 1], atol=1e-4)


def test_a_batch_holds_pairs_of_consecutive_frames_and_the_loss_weighs_their_velocity(sequences):
    model = TemporalModel(27, False, channels=16)
    batch = next(iter(WindowBatches(sequences, model, 8, flip=0.0)))
    assert batch["input"].shape == (8, 99, 27)
    np.testing.assert_array_equal(batch["input"][0::2, :, 1:], batch["input"][1::2, :, :-1])  # shifted by one
    target = batch["target"]
    shifted = target + torch.tensor([5.0, 0, 0])
    loss, stats = TemporalLoss(10.0)(shifted, batch)
    assert stats["mpjpe"] == pytest.approx(5.0) and stats["velocity"] == pytest.approx(0.0, abs=1e-4)
    jitter = target.clone()
    jitter[1::2] += torch.tensor([3.0, 0, 0])
    loss, stats = TemporalLoss(10.0)(jitter, batch)
    assert stats["velocity"] == pytest.approx(3.0, abs=1e-4) and loss == pytest.approx(1.5 + 30.0, abs=1e-3)


# --- the metrics ---------------------------------------------------------------------------------


def test_motion_errors_are_zero_for_the_truth_and_measure_jitter_in_mm_per_frame(sequences):
    gt = sequences[0].gt_3d.astype(np.float64)
    assert velocity_error(gt, gt).max() == 0 and acceleration_error(gt, gt).max() == 0
    summary, _ = score_sequences(sequences, {s.name: s.gt_3d for s in sequences})
    for name in ("mpjpe", "n_mpjpe", "pa_mpjpe", "mpjve", "accel_error"):
        assert summary[name] == pytest.approx(0, abs=1e-3)
        assert summary[f"{name}_input"] > 5
    offset = gt + [0, 0, 7.0]  # a constant error: no motion error
    assert velocity_error(offset, gt) == pytest.approx(0) and acceleration_error(offset, gt) == pytest.approx(0)
    jitter = gt.copy()
    jitter[1::2] += [4.0, 0, 0]  # every other frame 4 mm off: velocity error 4, acceleration 8
    np.testing.assert_allclose(velocity_error(jitter, gt), 4.0)
    np.testing.assert_allclose(acceleration_error(jitter, gt), 8.0)


def test_per_action_tables_pool_the_frames_of_each_action(sequences):
    preds = {s.name: s.joints_3d for s in sequences}
    summary, arrays = score_sequences(sequences, preds)
    assert set(summary["per_action"]) == {s.action for s in sequences}
    slow = [s for s in sequences if s.action == "Slow"]
    alone, _ = score_sequences(slow, preds)
    assert summary["per_action"]["Slow"]["mpjpe"] == pytest.approx(alone["mpjpe"])
    assert summary["mpjpe"] == pytest.approx(summary["mpjpe_input"])
    assert arrays["t_000/pred_3d"].shape == (60, 17, 3)


# --- the commands --------------------------------------------------------------------------------


def command_env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.path.join(REPO_DIR, "src")}


def script(name, *args, cwd):
    """``python <name> *args`` (src/main.py, scripts/make_sample_data.py) with one thread per process."""
    return subprocess.run(
        [sys.executable, os.path.join(REPO_DIR, name), *args],
        capture_output=True,
        text=True,
        env=command_env(),
        cwd=cwd,
        timeout=600,
    )


def sample_data(*args, cwd):
    return script("scripts/make_sample_data.py", *args, cwd=cwd)


@pytest.mark.e2e
def test_bad_temporal_flags_and_checkpoints_are_one_line(tmp_path, resnet18_3d_checkpoint):
    write_sequences(str(tmp_path / "s.h5"), synthetic_sequences(np.random.default_rng(0), 1, "s", frames=40))
    temporal27 = str(tmp_path / "t27.pth")
    model = TemporalModel(27, False, channels=256)
    save_checkpoint(temporal27, model, epoch=1, temporal=model.record)
    common = ["--task", "temporal", "--gpus", "-1", "--exp_dir", str(tmp_path / "exp")]
    cases = [
        ([], "--task temporal needs --sequences FILE"),
        (["--sequences", "s.h5"], "--task temporal training needs --val_sequences FILE"),
        (["--sequences", "s.h5", "--val_sequences", "s.h5", "--batch_size", "7"], "give an even number, not 7"),
        (["--sequences", "s.h5", "--test", "--load_model", resnet18_3d_checkpoint], "is not a temporal model"),
        (["--sequences", "missing.h5", "--val_sequences", "s.h5"], "missing.h5 does not exist"),
        (
            ["--sequences", "s.h5", "--val_sequences", "s.h5", "--load_model", temporal27, "--frames", "81"],
            "is another temporal model (--frames 27 there, 81 here)",
        ),
    ]
    for args, message in cases:
        args = [str(tmp_path / a) if a.endswith(".h5") else a for a in args]
        proc = script("src/main.py", *common, *args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and proc.stderr.count("\n") == 1, (args, proc.stderr)


@pytest.mark.e2e
@pytest.mark.slow
def test_a_short_cpu_training_halves_the_jitter_and_lowers_the_error(tmp_path):
    """hg3d-sample-data --sequences, then hg3d-train --task temporal (train, resume, --test) as a
    user runs them: on held-out sequences the acceleration error is at most half the frame
    model's, and the MPJPE below it."""
    proc = sample_data("--out", str(tmp_path / "data"), "--sequences", "--sequence_frames", "200", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = tmp_path / "data" / "sequences"
    again = sample_data("--out", str(tmp_path / "again"), "--sequences", "--sequence_frames", "200", cwd=tmp_path)
    assert again.returncode == 0
    assert (data / "test.h5").read_bytes() != b"" and _same_arrays(
        data / "test.h5", tmp_path / "again/sequences/test.h5"
    )
    exp = ["--exp_dir", str(tmp_path / "exp"), "--gpus", "-1"]
    train = ["--task", "temporal", "--exp_id", "run", "--sequences", str(data / "train.h5")]
    train += ["--val_sequences", str(data / "val.h5"), "--channels", "64", "--batch_size", "64", "--print_iter", "100"]
    proc = script("src/main.py", *exp, *train, "--num_epoch", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = script("src/main.py", *exp, *train, "--num_epoch", "2", "--resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "epoch 2 |" in proc.stdout and "epoch 1 |" not in proc.stdout
    checkpoint = str(tmp_path / "exp" / "run" / "model_last.pth")
    test = ["--task", "temporal", "--test", "--exp_id", "test", "--sequences", str(data / "test.h5")]
    proc = script("src/main.py", *exp, *test, "--load_model", checkpoint, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "exp" / "test" / "results.json").read_text())
    assert results["accel_error"] <= 0.5 * results["accel_error_input"], results
    assert results["mpjpe"] < results["mpjpe_input"], results
    assert set(results["per_action"]) == {"Slow", "Brisk"}
    assert_every_figure_has_its_protocol(results)
    with h5py.File(tmp_path / "exp" / "test" / "preds.h5") as preds:
        assert preds["test_000/pred_3d"].shape == (200, 17, 3)
        assert len([k for k in preds if "pred_3d" in preds[k]]) == 4


def _same_arrays(a, b):
    with h5py.File(a) as fa, h5py.File(b) as fb:
        return all(np.array_equal(fa[g][k], fb[g][k]) for g in fa for k in fa[g])
