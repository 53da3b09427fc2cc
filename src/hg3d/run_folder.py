"""A training run's folder (``<exp_dir>/<exp_id>/``): its lock, the checkpoints already in it,
and making it ready for a new or resumed run."""

import contextlib
import fcntl
import glob
import os
import shutil
import socket
import time

from .checkpoint import checkpoint_epoch
from .errors import UserError
from .files import TEMP_PREFIX, readable_dir, writable_dir

LOCK_NAME = ".lock"
# What a training run writes through a temporary file (files.atomic_write) in its folder: the
# checkpoints and log.txt when --resume drops the epochs a killed run logged after its last save.
OWN_TEMPORARY_SUFFIXES = (".pth", ".txt")


def check_paths(opt):
    """--data_dir readable, --exp_dir and the run's folder writable (one-line errors naming them)."""
    readable_dir(opt.data_dir, "--data_dir")
    writable_dir(opt.exp_dir, "--exp_dir")
    writable_dir(opt.save_dir, "--exp_id")


@contextlib.contextmanager
def locked(folder):
    """Hold an exclusive lock on ``folder`` (``fcntl.flock`` on its ``.lock``) for the ``with``
    block: a second training run in the folder is refused in one line naming the holder, so no
    run deletes or overwrites the files of another. The system releases the lock when the holder
    ends, killed or not; the file names the holder (pid, host, start) while it is held."""
    path = os.path.join(folder, LOCK_NAME)
    try:  # O_NOFOLLOW: a link planted under the lock's name is not followed (and truncated)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise UserError(
            f"cannot open the lock {path} ({exc.strerror or exc}): remove it, or pick another --exp_id"
        ) from None
    with os.fdopen(fd, "r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().strip() or "a process that is starting"
            raise UserError(
                f"{folder} is in use by another training run ({holder}): wait for it to end, or pick another --exp_id"
            ) from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)  # the folder is free: nobody to name


def trained_checkpoints(opt):
    """The checkpoints already in the run's folder (model_last.pth first); refused with a one-line
    error unless --resume or --overwrite says what to do with them."""
    checkpoints = sorted(
        glob.glob(os.path.join(glob.escape(opt.save_dir), "model_*.pth")),
        key=lambda p: (os.path.basename(p) != "model_last.pth", p),
    )
    if checkpoints and not (opt.resume or opt.overwrite):
        shown = [f"{os.path.basename(p)} (epoch {checkpoint_epoch(p)})" for p in checkpoints[:3]]
        more = f" and {len(checkpoints) - 3} more" if len(checkpoints) > 3 else ""
        raise UserError(
            f"{opt.save_dir} holds a trained run ({', '.join(shown)}{more}): add --resume "
            f"to continue it, pick another --exp_id, or add --overwrite to replace it"
        )
    return checkpoints


def clear_run_dir(opt, checkpoints):
    """Make the run's folder (locked) ready for writing, once everything the run needs has loaded.

    --overwrite deletes the old checkpoints, log.txt and TensorBoard events (opt.txt is appended
    to); the temporary files of a training save that a kill interrupted are removed, and nobody
    else's. A folder with only logs (a run that never saved) is reused as it is.
    """
    if opt.overwrite and checkpoints:
        print(f"notice: --overwrite: deleting {len(checkpoints)} checkpoint(s) and the logs in {opt.save_dir}")
        for path in checkpoints:
            os.remove(path)
        shutil.rmtree(os.path.join(opt.save_dir, "tensorboard"), ignore_errors=True)
        if os.path.exists(os.path.join(opt.save_dir, "log.txt")):
            os.remove(os.path.join(opt.save_dir, "log.txt"))
    for suffix in OWN_TEMPORARY_SUFFIXES:
        for path in glob.glob(os.path.join(glob.escape(opt.save_dir), f"{TEMP_PREFIX}*{suffix}")):
            os.remove(path)
            print(f"notice: removed {path}, left by an interrupted save")
