"""The run folder's lock, with real processes: a second training run in a folder that a run holds
is refused in one line naming the folder and the holder, and a start removes only what our own
interrupted saves left (not the temporaries of another program writing there)."""

import os
import signal
import subprocess
import sys

import pytest

from helpers import FUSION_3D, TINY_CPU, main_py, write_training_data
from hg3d.errors import UserError
from hg3d.run_folder import locked

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
TINY = [*TINY_CPU, "--no_pretrained", "--batch_size", "4", "--test_batch_size", "8", "--print_iter", "100"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_training_data(tmp_path_factory.mktemp("data"), (8, 2), (8, 4), size=96)


@pytest.mark.e2e
def test_a_second_run_is_refused_while_the_first_holds_the_folder(data, tmp_path):
    args = ["--exp_id", "run", "--exp_dir", str(tmp_path), "--data_dir", data, *TINY, *FUSION_3D, "--num_epoch", "1"]
    run_dir = tmp_path / "run"
    # The first run stops itself (SIGSTOP) at its first optimizer step: it holds the folder then.
    first = subprocess.Popen(
        [sys.executable, os.path.join(TESTS_DIR, "kill_worker.py"), "step", "1", "stop", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, status = os.waitpid(first.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), first.stderr.read()
        theirs = run_dir / ".tmp-k3j2h1.json"  # another program's file being written
        theirs.write_text("{")
        ours = run_dir / ".tmp-9xq7w2.pth"  # as a kill during a save leaves it
        ours.write_bytes(b"half a checkpoint")

        second = main_py(*args)
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert second.returncode == 2 and len(lines) == 1, second.stderr
        assert lines[0].startswith(f"error: {run_dir} is in use by another training run (pid {first.pid} on ")
        assert theirs.exists() and ours.exists()
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert (run_dir / ".lock").read_text() == ""  # free again: it names nobody

    third = main_py(*args, "--resume", "--num_epoch", "2")
    assert third.returncode == 0, third.stderr
    assert theirs.exists() and not ours.exists()
    assert f"notice: removed {ours}, left by an interrupted save" in third.stdout


def test_a_held_folder_is_refused_and_released_when_its_holder_fails(tmp_path):
    with pytest.raises(UserError, match="boom"), locked(str(tmp_path)):
        refused = rf"{tmp_path} is in use by another training run \(pid {os.getpid()} on "
        with pytest.raises(UserError, match=refused), locked(str(tmp_path)):
            pass
        raise UserError("boom")
    with locked(str(tmp_path)):
        assert (tmp_path / ".lock").read_text().startswith(f"pid {os.getpid()} on ")


def test_a_link_planted_as_the_lock_is_not_followed(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / ".lock").symlink_to(target)
    with pytest.raises(UserError, match=r"cannot open the lock .*\.lock"), locked(str(tmp_path)):
        pass
    assert target.read_text() == "keep me"
