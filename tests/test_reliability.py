"""Nothing a user trained is lost: finished runs refused, path flags, failed saves, stale temp
files, kill -9 at any moment + --resume ending exactly as an uninterrupted run (weights, best
model, log.txt and TensorBoard scalars)."""

import errno
import glob
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import FUSION_3D, TINY_CPU, main_py, write_training_data
from hg3d import checkpoint
from hg3d.checkpoint import read_checkpoint, read_training_state
from hg3d.errors import UserError
from hg3d.tools.sample_data import write_mpii
from hg3d.train import run

pytestmark = pytest.mark.slow

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
TINY = [
    *TINY_CPU,
    "--no_pretrained",
    "--batch_size",
    "4",
    "--test_batch_size",
    "8",
    "--print_iter",
    "100",
    *FUSION_3D,
    "--weight_3d",
    "0.1",
    "--weight_var",
    "0.01",
    "--lr_step",
    "2",
    "--val_intervals",
    "1",
    "--full_test",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_training_data(tmp_path_factory.mktemp("data"), (8, 2), (8, 4), size=96)


def train(data, exp_dir, *extra, epochs=1):
    return run(
        ["--exp_id", "run", "--data_dir", data, "--exp_dir", str(exp_dir), *TINY, "--num_epoch", str(epochs), *extra]
    )


def assert_one_line(proc, *needles):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def snapshot(folder):
    return {p: open(p, "rb").read() for p in glob.glob(os.path.join(folder, "**"), recursive=True) if os.path.isfile(p)}


@pytest.mark.e2e
def test_finished_run_is_refused_then_overwrite_and_resume(data, tmp_path, capsys):
    train(data, tmp_path, epochs=1)
    run_dir = str(tmp_path / "run")
    before = snapshot(run_dir)
    with pytest.raises(
        UserError,
        match=r"run holds a trained run \(model_last.pth \(epoch 1\), "
        r"model_best.pth \(epoch 1\)\): add --resume to continue it, "
        r"pick another --exp_id, or add --overwrite to replace it",
    ):
        train(data, tmp_path, epochs=3)
    assert snapshot(run_dir) == before  # nothing touched, not even the logs
    proc = main_py("--exp_id", "run", "--data_dir", data, "--exp_dir", str(tmp_path), *TINY)
    assert_one_line(proc, "holds a trained run", "--overwrite")
    assert snapshot(run_dir) == before

    train(data, tmp_path, "--resume", epochs=2)  # --resume continues
    assert read_checkpoint(os.path.join(run_dir, "model_last.pth"))[1] == 2

    train(data, tmp_path, "--overwrite", "--save_all_models", epochs=1)  # --overwrite starts anew
    assert "notice: --overwrite: deleting 2 checkpoint(s)" in capsys.readouterr().out
    assert read_checkpoint(os.path.join(run_dir, "model_last.pth"))[1] == 1
    log = open(os.path.join(run_dir, "log.txt")).read()
    assert "epoch 1 |" in log and "epoch 2 |" not in log  # the old run's log went with it
    assert len(glob.glob(os.path.join(run_dir, "tensorboard", "events*"))) == 1
    with pytest.raises(
        UserError,
        match=r"\(model_last.pth \(epoch 1\), model_1.pth \(epoch 1\), "
        r"model_best.pth \(epoch 1\)\)",
    ):
        train(data, tmp_path, epochs=1)
    with pytest.raises(UserError, match="--resume continues a run, --overwrite replaces it"):
        train(data, tmp_path, "--resume", "--overwrite")


def test_overwrite_can_start_from_a_checkpoint_of_the_run_it_replaces(data, tmp_path, capsys):
    """--load_model <run>/model_last.pth with --overwrite: the file is read before the run is cleared."""
    train(data, tmp_path, epochs=1)
    last = tmp_path / "run" / "model_last.pth"
    old_weights = read_checkpoint(str(last))[0]
    train(data, tmp_path, "--overwrite", "--load_model", str(last), "--lr", "1e-9", epochs=1)
    out = capsys.readouterr().out
    assert f"loaded {last} (epoch 1)" in out and "notice: --overwrite: deleting 2 checkpoint(s)" in out
    new_weights = read_checkpoint(str(last))[0]
    # lr 1e-9: one epoch from the loaded weights stays beside them (BatchNorm statistics move)
    conv = "conv1.weight"
    assert torch.allclose(new_weights[conv], old_weights[conv], atol=1e-6)
    log = (tmp_path / "run" / "log.txt").read_text()
    assert log.count("epoch 1 |") == 1  # the old run's log went with it


def test_overwrite_that_cannot_start_leaves_the_old_run_byte_identical(data, tmp_path):
    train(data, tmp_path, "--save_all_models", epochs=1)
    run_dir = str(tmp_path / "run")
    before = snapshot(run_dir)
    assert {"model_last.pth", "model_best.pth", "model_1.pth", "log.txt"} <= {os.path.basename(p) for p in before}
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad in (["--data_dir", str(empty)], ["--data_dir", data, "--load_model", str(empty / "none.pth")]):
        with pytest.raises(UserError, match="not found|does not exist"):
            run(["--exp_id", "run", "--exp_dir", str(tmp_path), *TINY, "--num_epoch", "1", "--overwrite", *bad])
        assert snapshot(run_dir) == before, bad


def test_a_folder_with_logs_only_is_reused(data, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.txt").write_text("2026-01-01-00-00: stopped: loss became nan at epoch 1\n")
    train(data, tmp_path, epochs=1)
    log = (tmp_path / "run" / "log.txt").read_text()
    assert log.startswith("2026-01-01-00-00: stopped") and "epoch 1 |" in log


@pytest.mark.e2e
def test_unusable_paths_are_named(data, tmp_path, resnet18_3d_checkpoint):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert_one_line(
        main_py("--exp_dir", str(a_file), "--data_dir", data, *TINY), f"--exp_dir {a_file} is a file, not a folder"
    )
    assert_one_line(
        main_py("--exp_dir", str(a_file / "sub"), "--data_dir", data, *TINY),
        f"--exp_dir {a_file / 'sub'} cannot be created",
    )
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "run").write_text("x")
    assert_one_line(
        main_py("--exp_dir", str(tmp_path / "exp"), "--exp_id", "run", "--data_dir", data, *TINY),
        f"--exp_id {tmp_path / 'exp' / 'run'} is a file",
    )
    assert_one_line(
        main_py("--data_dir", str(a_file), "--exp_dir", str(tmp_path), *TINY),
        f"--data_dir {a_file} is a file, not a folder",
    )
    assert_one_line(
        main_py("--data_dir", str(tmp_path / "nowhere"), "--exp_dir", str(tmp_path), *TINY),
        f"--data_dir {tmp_path / 'nowhere'} does not exist",
    )
    images = tmp_path / "images"
    write_mpii(images, np.random.default_rng(0), 1, 0, size=96)
    assert_one_line(
        main_py(
            "--demo",
            str(images / "images"),
            "--load_model",
            resnet18_3d_checkpoint,
            "--arch",
            "msra_18",
            "--gpus",
            "-1",
            "--out_dir",
            str(a_file),
            script="demo.py",
        ),
        f"--out_dir {a_file} is a file, not a folder",
    )
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert_one_line(
            main_py("--exp_dir", str(locked), "--data_dir", data, *TINY), f"--exp_dir {locked} is not writable"
        )


def full_disk(path, data):
    with open(path, "wb") as handle:
        handle.write(bytes(data)[: len(data) // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_during_a_save_keeps_the_last_checkpoint(data, tmp_path, monkeypatch):
    train(data, tmp_path, epochs=1)
    last = tmp_path / "run" / "model_last.pth"
    before = last.read_bytes()
    monkeypatch.setattr(checkpoint, "write_bytes", full_disk)
    with pytest.raises(UserError) as failure:
        train(data, tmp_path, "--resume", epochs=2)
    message = str(failure.value)
    assert "\n" not in message and message.startswith(f"cannot write {tmp_path / 'run'}")
    assert (
        "No space left on device; the previous file is unchanged; training stopped in epoch 2 "
        "(--resume continues from model_last.pth once the problem is fixed)" in message
    )
    assert last.read_bytes() == before and read_checkpoint(str(last))[1] == 1
    assert not glob.glob(str(tmp_path / "run" / ".tmp-*"))


def test_stale_temp_files_are_removed_on_start(data, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    stale = tmp_path / "run" / ".tmp-abc123.pth"
    stale.write_bytes(b"half a checkpoint")
    (tmp_path / "run" / "notes.tmp").write_text("mine")
    train(data, tmp_path, epochs=1)
    assert not stale.exists() and (tmp_path / "run" / "notes.tmp").exists()
    assert f"notice: removed {stale}, left by an interrupted save" in capsys.readouterr().out


def read_scalars(folder):
    """{(tag, step): value} as TensorBoard shows them: event files in the order they were begun, a
    SessionLog START at step s discarding the steps >= s written before it. A step written twice
    (a resumed run's repeated epoch not discarded) fails."""
    from tensorboardX.proto.event_pb2 import Event, SessionLog

    files = []
    for path in glob.glob(os.path.join(folder, "events*")):
        raw, events = open(path, "rb").read(), []
        while len(raw) >= 12:
            (length,) = struct.unpack("<Q", raw[:8])
            events.append(Event.FromString(raw[12 : 12 + length]))
            raw = raw[16 + length :]
        files.append(events)
    scalars = {}
    for events in sorted(files, key=lambda events: events[0].wall_time):
        for event in events:
            if event.session_log.status == SessionLog.START:
                scalars = {key: v for key, v in scalars.items() if key[1] < event.step}
            for value in event.summary.value:
                assert (value.tag, event.step) not in scalars, f"{value.tag} step {event.step} logged twice"
                scalars[(value.tag, event.step)] = value.simple_value
    return scalars


def log_lines(run_dir):
    """log.txt without what differs between any two runs: time stamps and epoch durations."""
    return [
        re.sub(r" \| time [\d.e+-]+", "", line.split(": ", 1)[1])
        for line in open(os.path.join(run_dir, "log.txt")).read().splitlines()
    ]


def scalars_but_time(folder):
    return {key: value for key, value in read_scalars(folder).items() if key[0] != "train/time"}


def worker(exp_dir, kill, *extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run(
        [
            sys.executable,
            os.path.join(TESTS_DIR, "kill_worker.py"),
            *kill,
            "--exp_id",
            "run",
            "--exp_dir",
            str(exp_dir),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.e2e
def test_kill_9_at_any_moment_then_resume_equals_an_uninterrupted_run(data, tmp_path):
    args = ["--data_dir", data, *TINY, "--num_epoch", "3", "--save_all_models"]
    straight = worker(tmp_path / "straight", ("step", "0", "never"), *args)
    assert straight.returncode == 0, straight.stderr
    run_dir = tmp_path / "killed" / "run"
    kills = [  # (what to watch, n-th call, when), each run resuming the previous one
        ("step", "6", "before"),  # in epoch 2 (4 steps an epoch), after epoch 1 was saved
        ("evaluate", "1", "after"),  # epoch 2 validated, nothing logged or saved yet
        ("write", "1", "during"),  # epoch 2 logged; killed half-way through its first save
        ("write", "1", "after"),  # epoch 2: one file saved, model_last.pth not yet
        ("write", "2", "after"),  # epoch 2 or 3 fully saved: killed before the next epoch
    ]
    for i, kill in enumerate(kills):
        proc = worker(tmp_path / "killed", kill, *args, *(["--resume"] if i else []))
        assert proc.returncode == -9, (kill, proc.stderr)
        if i == 0:  # logs survive a kill: epoch 1 is in log.txt and in TensorBoard
            assert log_lines(str(run_dir)) == log_lines(str(tmp_path / "straight" / "run"))[:1]
            assert ("train/loss", 1) in read_scalars(str(run_dir / "tensorboard"))
        if kill[2] == "during":
            assert glob.glob(str(run_dir / ".tmp-*")), "the kill was not during a save"
    assert read_checkpoint(str(run_dir / "model_last.pth"))[1] < 3
    final = worker(tmp_path / "killed", ("step", "0", "never"), *args, "--resume")
    assert final.returncode == 0, final.stderr
    assert not glob.glob(str(run_dir / ".tmp-*"))

    for name in ("model_last.pth", "model_best.pth", "model_1.pth", "model_2.pth", "model_3.pth"):
        a_state, a_epoch, a_opt = read_checkpoint(str(tmp_path / "straight" / "run" / name))
        b_state, b_epoch, b_opt = read_checkpoint(str(run_dir / name))
        assert a_epoch == b_epoch, name
        for key in a_state:
            assert torch.equal(a_state[key], b_state[key]), (name, key)
        assert str(a_opt) == str(b_opt), name
    assert (
        read_training_state(str(run_dir / "model_last.pth"))["best"]
        == read_training_state(str(tmp_path / "straight" / "run" / "model_last.pth"))["best"]
    )
    assert log_lines(str(run_dir)) == log_lines(str(tmp_path / "straight" / "run"))
    assert len(log_lines(str(run_dir))) == 3 and all(
        re.match(rf"epoch {e} \|", line) for e, line in enumerate(log_lines(str(run_dir)), 1)
    )
    assert scalars_but_time(str(run_dir / "tensorboard")) == scalars_but_time(
        str(tmp_path / "straight" / "run" / "tensorboard")
    )
