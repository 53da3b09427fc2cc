"""Written files: unique temporaries, the mode the umask gives, no writing through a planted
symbolic link, and line files that always end on a whole line."""

import errno
import json
import os
import stat
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from helpers import SRC_DIR
from hg3d import files
from hg3d.checkpoint import save_checkpoint
from hg3d.errors import UserError
from hg3d.files import LineFile, atomic_write, create_temp_beside, write_h5, write_json, write_mat

WRITERS = {
    "json": lambda path: write_json(path, {"a": 1}),
    "h5": lambda path: write_h5(path, {"a": np.zeros(3)}),
    "mat": lambda path: write_mat(path, {"a": np.zeros(3)}),
    "png": lambda path: atomic_write(path, lambda tmp: cv2.imwrite(tmp, np.zeros((4, 4, 3), np.uint8))),
    "pth": lambda path: save_checkpoint(path, torch.nn.Linear(2, 2), 1),
}


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring the previous one after it."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize("ext", sorted(WRITERS))
@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_written_files_get_the_mode_the_umask_gives(tmp_path, umask, ext, mask):
    umask(mask)
    path = str(tmp_path / f"out.{ext}")
    WRITERS[ext](path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask
    assert os.listdir(tmp_path) == [f"out.{ext}"]


def test_temporaries_are_unique_and_carry_the_target_name(tmp_path):
    target = str(tmp_path / "clip_2d.mp4")
    first, second = create_temp_beside(target), create_temp_beside(target)
    assert first != second
    for tmp in (first, second):
        name = os.path.basename(tmp)
        assert name.startswith(".tmp-clip_2d.") and name.endswith(".mp4") and os.path.getsize(tmp) == 0


@pytest.mark.parametrize("ext", ["json", "png"])
def test_a_planted_symlink_is_refused_and_its_target_kept(tmp_path, ext):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / f"out.{ext}"
    link.symlink_to(victim)
    with pytest.raises(UserError, match=rf"^{link} is a symbolic link: hg3d does not write through links"):
        WRITERS[ext](str(link))
    assert victim.read_text() == "precious" and link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == [f"out.{ext}", "victim.txt"]


def test_a_line_file_refuses_a_symlink(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "run.jsonl").symlink_to(victim)
    with pytest.raises(UserError, match="run.jsonl is a symbolic link"):
        LineFile(str(tmp_path / "run.jsonl"))
    assert victim.read_text() == "precious"


def test_line_file_writes_lines_and_appends(tmp_path, umask):
    umask(0o027)
    path = tmp_path / "run.jsonl"
    with LineFile(str(path)) as lines:
        lines.write_line(json.dumps({"frame": 0}))
    with LineFile(str(path), append=True) as lines:
        lines.write_line(json.dumps({"frame": 1}) + "\n")
    assert path.read_text() == '{"frame": 0}\n{"frame": 1}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_full_disk_cuts_the_line_off_and_names_the_disk(tmp_path, monkeypatch):
    """The first half of the line reaches the file, then the disk is full: the file is cut back."""
    path = tmp_path / "run.jsonl"
    lines = LineFile(str(path))
    lines.write_line("first")
    real_write = os.write

    def half_then_full(fd, data):
        if len(data) > 2:
            return real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "write", half_then_full)
    with pytest.raises(UserError) as failure:
        lines.write_line("a" * 100)
    lines.close()
    assert str(failure.value) == (
        f"cannot write {path}: No space left on device (the disk at {files.disk_of(str(path))} is full); "
        "it ends on its last whole line"
    )
    assert path.read_text() == "first\n"


LIMITED_WRITER = """
import os, resource, signal, sys
from hg3d.errors import UserError
from hg3d.files import LineFile
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
lines = LineFile(sys.argv[1])
try:
    for i in range(1000):
        lines.write_line(f"line {i:03d} " + "x" * 37)
except UserError as exc:
    print(exc)
"""


@pytest.mark.e2e
def test_a_file_size_limit_hit_mid_line_leaves_whole_lines(tmp_path):
    """A real short write by the kernel (a 1000-byte file size limit hit inside the 22nd 47-byte line)."""
    path = tmp_path / "run.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED_WRITER, str(path)], cwd=SRC_DIR, capture_output=True, text=True
    )
    assert proc.stdout.strip() == f"cannot write {path}: File too large; it ends on its last whole line", proc.stderr
    assert path.read_text() == "".join(f"line {i:03d} " + "x" * 37 + "\n" for i in range(21))


def test_json_nested_too_deeply_is_one_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(UserError, match=rf"^cannot read demo result {path}: nested too deeply$"):
        files.read_json(str(path), "demo result")
