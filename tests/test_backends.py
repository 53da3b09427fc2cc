"""--backend onnxruntime: the torch model's joints, and the export cached by checkpoint content and input size
in a folder that is the user's own, each export checked against its record before it runs."""

import json
import os
import shutil
import stat
import sys

import numpy as np
import pytest
import torch

import hg3d.deploy.onnx_runtime
from hg3d.checkpoint import save_checkpoint
from hg3d.demo.build import make_estimator
from hg3d.demo.cli import parse_demo_opts
from hg3d.deploy.onnx_runtime import OnnxRuntimeModel, cache_dir, cached_export_path, record_path
from hg3d.errors import UserError
from hg3d.files import sha256_of
from hg3d.inference import Estimator
from hg3d.model import create_model
from hg3d.tools.synthetic import random_scene
from test_export import loud_checkpoint  # noqa: F401  (a fixture: outputs of order 1)

SIZE = 64


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hg3d_cache"))


@pytest.fixture
def exports(shared_cache, monkeypatch):
    """The cache folder of this module's tests, and a list that grows by one per export."""
    monkeypatch.setenv("HG3D_CACHE", shared_cache)
    done = []
    export = hg3d.deploy.onnx_runtime.export_model
    monkeypatch.setattr(hg3d.deploy.onnx_runtime, "export_model", lambda *args: done.append(args[2]) or export(*args))
    return done


def onnx_model(checkpoint, log=print):
    return OnnxRuntimeModel.from_checkpoint(checkpoint, "msra_18", "human3d", SIZE, SIZE, log=log)


def key(checkpoint, arch="msra_18", task="human3d", input_w=SIZE, input_h=SIZE):
    return cached_export_path(sha256_of(checkpoint), arch, task, input_w, input_h)


@pytest.mark.slow
@pytest.mark.parametrize("flip_test", [True, False])
def test_onnxruntime_gives_the_torch_joints(flip_test, loud_checkpoint, exports):  # noqa: F811
    same = {"arch": "msra_18", "input_w": SIZE, "input_h": SIZE, "flip_test": flip_test}
    by_onnx = Estimator.from_checkpoint(loud_checkpoint, backend="onnxruntime", log=lambda _: None, **same)
    assert isinstance(by_onnx.model, OnnxRuntimeModel)
    by_torch = Estimator.from_checkpoint(loud_checkpoint, **same)
    crops = torch.randn(3, 3, SIZE, SIZE)
    with torch.no_grad():
        want, got = by_torch.forward(crops), by_onnx.forward(crops)
    for head in ("hm", "depth"):
        assert want[head].std() > 0.1, f"{head} outputs too small to compare"
        # relative to the output's size: a zero, constant or rescaled output fails
        np.testing.assert_allclose(got[head], want[head], rtol=1e-3, atol=1e-4 * want[head].abs().max().item())
    scene = random_scene(np.random.default_rng(3), 200, 160)
    boxes = [scene["box"]] if flip_test else None  # a person box (batch 2), the whole image (batch 1)
    for person, expected in zip(by_onnx.predict(scene["image"], boxes), by_torch.predict(scene["image"], boxes)):
        np.testing.assert_allclose(person["joints_2d"], expected["joints_2d"], atol=1e-3)
        np.testing.assert_allclose(person["joints_3d_mm"], expected["joints_3d_mm"], atol=1e-2)


def test_export_happens_once_per_checkpoint_content_and_size(loud_checkpoint, exports, tmp_path):  # noqa: F811
    path = key(loud_checkpoint)
    onnx_model(loud_checkpoint)
    stamp = os.stat(path).st_mtime_ns
    before = len(exports)
    copy = str(tmp_path / "renamed.pth")
    shutil.copy(loud_checkpoint, copy)
    assert onnx_model(copy).path == path  # keyed by content, not by name
    assert len(exports) == before and os.stat(path).st_mtime_ns == stamp
    folder = os.listdir(os.path.dirname(path))
    assert all(name.endswith((".onnx", ".json")) and "tmp" not in name for name in folder)  # an export, its record
    others = [key(loud_checkpoint, input_w=SIZE + 32), key(loud_checkpoint, input_h=SIZE + 32)]
    others += [key(loud_checkpoint, arch="msra_50"), key(loud_checkpoint, task="human2d")]
    torch.manual_seed(1)
    save_checkpoint(copy, create_model("msra_18", {"hm": 16, "depth": 16}), epoch=1)
    assert len({path, key(copy), *others}) == 6


@pytest.mark.slow
def test_a_damaged_cache_file_is_exported_again(resnet18_3d_checkpoint, exports):
    path = key(resnet18_3d_checkpoint)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"not an onnx file")
    notices = []
    backend = onnx_model(resnet18_3d_checkpoint, log=notices.append)
    assert exports == [path] and len(notices) == 1 and "exporting" in notices[0], notices
    assert backend(torch.zeros(1, 3, SIZE, SIZE))[0]["hm"].shape == (1, 16, SIZE // 4, SIZE // 4)


def test_the_demo_flag_runs_the_network_in_onnxruntime(resnet18_3d_checkpoint, exports, tmp_path):
    argv = ["--demo", str(tmp_path), "--load_model", resnet18_3d_checkpoint, "--out_dir", str(tmp_path)]
    argv += ["--arch", "msra_18", "--gpus", "-1", "--input_h", str(SIZE), "--input_w", str(SIZE)]
    by_onnx = make_estimator(parse_demo_opts([*argv, "--backend", "onnxruntime"]), log=lambda _: None)
    assert isinstance(by_onnx.model, OnnxRuntimeModel)
    image = random_scene(np.random.default_rng(4), 120, 100)["image"]
    by_torch = make_estimator(parse_demo_opts(argv)).predict(image)
    np.testing.assert_allclose(by_onnx.predict(image)[0]["joints_2d"], by_torch[0]["joints_2d"], atol=1e-3)


def test_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HG3D_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == str(tmp_path / "mine")
    monkeypatch.delenv("HG3D_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == str(tmp_path / ".cache" / "hg3d")


def test_without_onnxruntime_is_a_one_line_error(resnet18_3d_checkpoint, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(UserError, match=r"needs the onnxruntime package: pip install 'hg3d\[export\]'"):
        onnx_model(resnet18_3d_checkpoint)


def test_a_cached_export_skips_the_torch_model(loud_checkpoint, exports, monkeypatch):  # noqa: F811
    onnx_model(loud_checkpoint)  # cached by now, or exported here
    monkeypatch.setattr("hg3d.checkpoint.create_model", lambda *args: pytest.fail("built the torch model"))
    assert onnx_model(loud_checkpoint).heads == ["hm", "depth"]


def test_checkpoint_errors_are_the_torch_backends(resnet18_3d_checkpoint, tmp_path, exports):
    with pytest.raises(UserError, match="does not exist: check --load_model"):
        onnx_model(str(tmp_path / "missing.pth"))
    with pytest.raises(UserError, match="fits --arch msra_18"):
        OnnxRuntimeModel.from_checkpoint(resnet18_3d_checkpoint, "msra_50", "human3d", SIZE, SIZE)
    assert not os.path.exists(key(resnet18_3d_checkpoint, arch="msra_50"))


def test_a_planted_model_is_exported_over(loud_checkpoint, resnet18_3d_checkpoint, exports, tmp_path):  # noqa: F811
    """Another network's valid ONNX under the expected name (its record left as it was) is not run."""
    path = key(loud_checkpoint)
    onnx_model(loud_checkpoint, log=lambda _: None)
    other = onnx_model(resnet18_3d_checkpoint, log=lambda _: None).path
    shutil.copy(other, path)
    notices = []
    backend = onnx_model(loud_checkpoint, log=notices.append)
    assert exports[-1] == path and "its record differs" in notices[0]
    crops = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        want = Estimator.from_checkpoint(loud_checkpoint, "msra_18", input_w=SIZE, input_h=SIZE).forward(crops)["hm"]
    np.testing.assert_allclose(backend(crops)[0]["hm"], want, rtol=1e-3, atol=1e-4 * want.abs().max().item())


def test_another_version_of_torch_exports_again(resnet18_3d_checkpoint, exports, monkeypatch):
    path = key(resnet18_3d_checkpoint)
    onnx_model(resnet18_3d_checkpoint, log=lambda _: None)
    assert onnx_model(resnet18_3d_checkpoint, log=lambda _: None).path == path and path not in exports[1:]
    made = hg3d.deploy.onnx_runtime.package_versions()
    monkeypatch.setattr(hg3d.deploy.onnx_runtime, "package_versions", lambda: {**made, "torch": "0.0.1"})
    before = len(exports)
    onnx_model(resnet18_3d_checkpoint, log=lambda _: None)
    assert exports[before:] == [path]
    with open(record_path(path)) as handle:
        record = json.load(handle)
    assert record["versions"]["torch"] == "0.0.1" and record["onnx_sha256"] == sha256_of(path)
    assert record["checkpoint_sha256"] == sha256_of(resnet18_3d_checkpoint) and record["input_h"] == SIZE


@pytest.mark.parametrize("mode", [0o770, 0o707])
def test_a_cache_folder_others_can_write_is_refused(mode, resnet18_3d_checkpoint, monkeypatch, tmp_path):
    monkeypatch.setenv("HG3D_CACHE", str(tmp_path))
    folder = tmp_path / "onnx"
    folder.mkdir()
    folder.chmod(mode)
    with pytest.raises(UserError, match=f"is writable by others \\(mode {mode:o}\\).*remove it"):
        onnx_model(resnet18_3d_checkpoint)
    folder.chmod(0o700)
    assert onnx_model(resnet18_3d_checkpoint, log=lambda _: None).path.startswith(str(folder))


def test_a_new_cache_folder_is_private(resnet18_3d_checkpoint, exports, monkeypatch, tmp_path):
    monkeypatch.setenv("HG3D_CACHE", str(tmp_path / "new"))
    old = os.umask(0o002)  # a umask that would leave a folder group-writable
    try:
        onnx_model(resnet18_3d_checkpoint, log=lambda _: None)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "onnx").st_mode) == 0o700
