"""Released models by name (hg3d.weights, hg3d-fetch): download into the hub cache, strict check,
SHA-256 record, the offline line, and Google Drive through gdown. Nothing reaches the internet: the
downloads come from a server on 127.0.0.1 (HG3D_WEIGHTS_URL) or a stand-in for gdown's download."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from helpers import HEADS_3D, SRC_DIR, quiet_opts
from hg3d import commands, weights
from hg3d.checkpoint import save_checkpoint
from hg3d.commands import run_command
from hg3d.demo.cli import parse_demo_opts
from hg3d.errors import UserError
from hg3d.model import create_model

REAL_DOWNLOAD = torch.hub.download_url_to_file  # before conftest's no_downloads cuts the network
TINY = weights.Release("drive-id-of-tiny", "msra_18", "human3d", "a ResNet-18 test checkpoint")
# A real process of an hg3d command with the test release "tiny" added to the registry.
COMMAND_WITH_TINY = """
import sys
from hg3d import commands, weights
weights.RELEASES["tiny"] = weights.Release("drive-id-of-tiny", "msra_18", "human3d", "a test checkpoint")
sys.exit(getattr(commands, sys.argv[1])(sys.argv[2:]))
"""


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """The release "tiny" (ResNet-18 human3d) in the registry, an empty HG3D_HOME (no models/ copy),
    and torch.hub's real downloader (for the local server)."""
    monkeypatch.setitem(weights.RELEASES, "tiny", TINY)
    monkeypatch.delenv("HG3D_WEIGHTS_URL")  # Google Drive, unless a test sets a mirror
    monkeypatch.setenv("HG3D_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", REAL_DOWNLOAD)


@pytest.fixture
def mirror(tiny, local_server, monkeypatch, resnet18_3d_checkpoint):
    """The local server as HG3D_WEIGHTS_URL, serving tiny.pth (a ResNet-18 human3d checkpoint)."""
    shutil.copy(resnet18_3d_checkpoint, local_server.root / "tiny.pth")
    monkeypatch.setenv("HG3D_WEIGHTS_URL", local_server.url + "/")
    return local_server


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def cache_files():
    return sorted(os.listdir(weights.cache_dir())) if os.path.isdir(weights.cache_dir()) else []


def run_with_tiny(command, *args, env):
    return subprocess.run(
        [sys.executable, "-c", COMMAND_WITH_TINY, command, *args],
        env={**os.environ, "PYTHONPATH": SRC_DIR, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line_error(capsys, entry, argv):
    """Run ``entry`` as a command: its exit status must be 2 and its stderr end with one ``error:``
    line (after a download's progress bar)."""
    assert run_command(entry, argv) == 2
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.splitlines()[-1].startswith("error: "), err
    return err.splitlines()[-1]


def test_the_released_models_are_the_original_resnet_50s():
    assert weights.RELEASES["fusion_3d_var"] == weights.Release(
        "1_2CCb_qsA1egT5c2s0ABuW3rQCDOLvPq", "msra_50", "human3d", weights.RELEASES["fusion_3d_var"].about
    )
    assert weights.RELEASES["fusion_3d"][:3] == ("13d3AqzA85TSO7o1F8aq_ptnAkJ7LSp9-", "msra_50", "human3d")
    assert weights.RELEASES["mpii"][:3] == ("1WqW1-_gCyGTB80m9MK_KUoD0dtElEQzv", "msra_50", "human2d")
    assert weights.DEMO_MODEL == "fusion_3d_var"


@pytest.mark.e2e
def test_the_first_demo_downloads_and_caches_and_the_second_runs_offline(mirror, tmp_path, resnet18_3d_checkpoint):
    image = tmp_path / "person.jpg"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (96, 64, 3), dtype=np.uint8))
    env = {key: os.environ[key] for key in ("TORCH_HOME", "HG3D_HOME", "HG3D_WEIGHTS_URL")}
    # no --arch or --task: the release says msra_18 human3d
    args = ["--load_model", "tiny", "--demo", str(image), "--detector", "none", "--gpus", "-1"]
    args += ["--input_h", "64", "--input_w", "64", "--out_dir", str(tmp_path / "out")]
    first = run_with_tiny("demo", *args, env=env)
    assert first.returncode == 0, first.stderr
    path = weights.cached_path("tiny")
    assert f"downloading tiny (a test checkpoint) from {mirror.url}/tiny.pth into {path}" in first.stdout
    assert sha256(path) == sha256(resnet18_3d_checkpoint)
    assert open(path + ".sha256").read() == f"{sha256(path)}  tiny.pth\n"
    assert cache_files() == ["tiny.pth", "tiny.pth.sha256"]
    assert json.loads((tmp_path / "out" / "person.json").read_text())["checkpoint"] == path

    mirror.stop()
    os.remove(tmp_path / "out" / "person.json")
    second = run_with_tiny("demo", *args, env=env)
    assert second.returncode == 0, second.stderr
    assert "downloading" not in second.stdout
    assert json.loads((tmp_path / "out" / "person.json").read_text())["checkpoint"] == path


def test_a_copy_in_models_comes_first(tiny, tmp_path):
    local = tmp_path / "home" / "models" / "tiny.pth"
    local.parent.mkdir(parents=True)
    local.write_bytes(b"placed by hand")
    assert weights.checkpoint_file("tiny") == str(local) and cache_files() == []


def test_a_truncated_download_is_refused_and_nothing_is_cached(mirror, capsys):
    served = mirror.root / "tiny.pth"
    served.write_bytes(served.read_bytes()[: served.stat().st_size // 2])
    err = one_line_error(capsys, weights.run_fetch, ["tiny", "--detector", "none"])
    assert f"the download of {mirror.url}/tiny.pth is not the tiny checkpoint, deleted it" in err
    assert err.endswith("deleted it: cannot read it: not a PyTorch checkpoint, or truncated (RuntimeError)")
    assert cache_files() == []


def test_a_checkpoint_of_another_network_is_refused_and_nothing_is_cached(mirror, tmp_path):
    torch.manual_seed(0)
    save_checkpoint(str(mirror.root / "tiny.pth"), create_model("msra_18", {"hm": 16}), 1)  # human2d
    with pytest.raises(UserError, match="is not the tiny checkpoint.*it fits --arch msra_18 --task human2d"):
        weights.checkpoint_file("tiny", log=lambda _: None)
    assert cache_files() == []


def test_offline_is_one_line_naming_the_url_and_the_way_out(mirror, capsys, tmp_path):
    mirror.stop()
    err = one_line_error(capsys, weights.run_fetch, ["tiny", "--detector", "none"])
    assert f"cannot download tiny from {mirror.url}/tiny.pth (ConnectionRefusedError: " in err
    assert f"download it by hand into {tmp_path / 'home' / 'models' / 'tiny.pth'}, or set HG3D_WEIGHTS_URL" in err
    assert cache_files() == []


def test_a_changed_cached_file_fails_its_sha256(mirror, capsys):
    path = weights.checkpoint_file("tiny", log=lambda _: None)
    assert weights.checkpoint_file("tiny") == path  # unchanged: used
    with open(path, "r+b") as handle:  # one byte changed, the size kept
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 1]))
    args = ["--load_model", "tiny", "--test", "--dataset", "h36m", "--gpus", "-1"]
    err = one_line_error(capsys, lambda argv: quiet_opts(*argv), args)
    assert f"{path} has changed since it was downloaded (SHA-256 " in err
    assert "delete both files to download it again" in err


def test_google_drive_goes_through_gdown_at_its_download_function(tiny, monkeypatch, resnet18_3d_checkpoint):
    import gdown

    calls = []

    def drive(id, output, quiet):
        calls.append((id, quiet))
        shutil.copy(resnet18_3d_checkpoint, output)
        return output

    monkeypatch.setattr(gdown, "download", drive)
    notes = []
    path = weights.checkpoint_file("tiny", log=notes.append)
    assert calls == [("drive-id-of-tiny", False)] and sha256(path) == sha256(resnet18_3d_checkpoint)
    assert notes[0].endswith(f"from https://drive.google.com/uc?id=drive-id-of-tiny into {path}")
    assert cache_files() == ["tiny.pth", "tiny.pth.sha256"]


def test_a_failed_drive_download_leaves_nothing(tiny, monkeypatch, capsys):
    import gdown
    from gdown.exceptions import FileURLRetrievalError

    def drive(id, output, quiet):
        open(output + "part", "wb").write(b"partial")  # what gdown leaves while it downloads
        raise FileURLRetrievalError("Too many users have viewed or downloaded this file recently.")

    monkeypatch.setattr(gdown, "download", drive)
    err = one_line_error(capsys, weights.run_fetch, ["tiny", "--detector", "none"])
    assert "cannot download tiny from https://drive.google.com/uc?id=drive-id-of-tiny (FileURLRetrievalError" in err
    assert cache_files() == []


def test_the_demo_runs_fusion_3d_var_as_msra_50_human3d_and_mpii_in_2d(monkeypatch, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("fusion_3d_var", "mpii"):
        (models / f"{name}.pth").write_bytes(b"placed by hand")
    monkeypatch.setenv("HG3D_HOME", str(tmp_path))
    opt = parse_demo_opts(["--demo", str(tmp_path), "--gpus", "-1"])
    assert (opt.arch, opt.task, opt.heads) == ("msra_50", "human3d", HEADS_3D)
    # the demo keeps the name until it builds the model (its inputs are checked first)
    assert opt.load_model == "fusion_3d_var" and weights.checkpoint_path(opt.load_model) == str(
        models / "fusion_3d_var.pth"
    )
    opt = parse_demo_opts(["--demo", str(tmp_path), "--gpus", "-1", "--load_model", "mpii"])
    assert (opt.arch, opt.task, opt.heads, weights.checkpoint_path(opt.load_model)) == (
        "msra_50",
        "human2d",
        {"hm": 16},
        str(models / "mpii.pth"),
    )


def test_training_keeps_the_given_task_when_seeding_from_a_release(monkeypatch, tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mpii.pth").write_bytes(b"placed by hand")
    monkeypatch.setenv("HG3D_HOME", str(tmp_path))
    seeded = quiet_opts("--load_model", "mpii", "--task", "human3d", "--dataset", "fusion_3d", "--gpus", "-1")
    assert (seeded.arch, seeded.task, seeded.load_model) == ("msra_50", "human3d", str(tmp_path / "models/mpii.pth"))
    assert quiet_opts("--load_model", "mpii", "--gpus", "-1").task == "human2d"
    assert quiet_opts("--gpus", "-1").arch == "msra_50" and quiet_opts("--gpus", "-1").task == "human2d"


@pytest.mark.e2e
def test_fetch_lists_the_cache(mirror, tmp_path):
    weights.checkpoint_file("tiny", log=lambda _: None)
    env = {key: os.environ[key] for key in ("TORCH_HOME", "HG3D_HOME")}
    listed = run_with_tiny("fetch", "--list", env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    size = os.path.getsize(weights.cached_path("tiny")) / 1e6
    assert lines[0] == f"hub cache: {os.environ['TORCH_HOME']}/hub (set TORCH_HOME to use another folder)"
    assert f"tiny: {weights.cached_path('tiny')} ({size:.1f} MB, SHA-256 recorded)" in lines
    assert "fusion_3d_var: not fetched (hg3d-fetch fusion_3d_var)" in lines
    assert "detector ssdlite: not fetched (hg3d-fetch --detector ssdlite)" in lines


def test_fetch_gets_what_the_demo_uses_and_prints_where_each_file_is(mirror, monkeypatch, capsys):
    """No names: the demo's model (here the test release stands in for fusion_3d_var) and the
    detector --detector auto picks on this machine (the CPU's: ssdlite)."""
    from hg3d.demo import detection

    monkeypatch.setitem(weights.RELEASES, "fusion_3d_var", TINY)
    os.rename(mirror.root / "tiny.pth", mirror.root / "fusion_3d_var.pth")
    torch.save(detection.random_detector_state("ssdlite"), mirror.root / "ssdlite.pth")
    monkeypatch.setattr(detection, "weights_url", lambda name: f"{mirror.url}/{name}.pth")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run_command(weights.run_fetch, []) == 0
    out = capsys.readouterr().out.splitlines()
    model, detector = (
        weights.cached_path("fusion_3d_var"),
        os.path.join(torch.hub.get_dir(), "checkpoints", "ssdlite.pth"),
    )
    assert out[-2:] == [
        f"fusion_3d_var: {model} ({os.path.getsize(model) / 1e6:.1f} MB)",
        f"ssdlite: {detector} ({os.path.getsize(detector) / 1e6:.1f} MB)",
    ]


def test_fetch_without_the_detector_weights_is_one_line(mirror, local_server, monkeypatch, capsys):
    from hg3d.demo import detection

    local_server.stop()
    monkeypatch.setattr(detection, "weights_url", lambda name: f"{local_server.url}/ssdlite_test-00000000.pth")
    err = one_line_error(capsys, weights.run_fetch, ["--detector", "ssdlite"])
    path = os.path.join(torch.hub.get_dir(), "checkpoints", "ssdlite_test-00000000.pth")
    assert f"cannot download the ssdlite detector weights from {local_server.url}/ssdlite_test-00000000.pth" in err
    assert f"(ConnectionRefusedError: [Errno 111] Connection refused): put that file at {path} by hand" in err


def test_fetch_refuses_an_unknown_name(capsys):
    err = one_line_error(capsys, weights.run_fetch, ["fusion3d"])
    assert "no released model is called fusion3d: the names are fusion_3d_var, fusion_3d, mpii" in err


def test_the_demo_reports_a_wrong_input_before_fetching_the_model(tmp_path, capsys):
    """A mistyped --demo path on a first run costs no download: the input is checked first."""
    missing = tmp_path / "no_such_photo.jpg"
    assert commands.demo(["--demo", str(missing), "--gpus", "-1", "--out_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "download" not in err
    assert not os.path.exists(weights.cached_path("fusion_3d_var"))
