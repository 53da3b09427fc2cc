import os
import subprocess
import sys
import warnings

import numpy as np
import onnxruntime
import pytest
import torch

from helpers import FIXTURE_DATA, REPO_DIR, TINY_CPU, main_py
from hg3d.checkpoint import load_model, save_checkpoint
from hg3d.deploy import BACKENDS
from hg3d.deploy.export import export_checkpoint
from hg3d.errors import UserError
from hg3d.inference import Estimator
from hg3d.model import create_model


@pytest.fixture(scope="module")
def loud_checkpoint(tmp_path_factory):
    """A ResNet-18 3D checkpoint whose outputs are of order 1: the deconvolutions and heads are
    re-drawn with He init (the released init, N(0, 0.001), gives outputs of ~1e-6, which any
    exporter, even one returning zeros, would match to an absolute tolerance)."""
    torch.manual_seed(0)
    model = create_model("msra_18", {"hm": 16, "depth": 16})
    for module in model.modules():
        if isinstance(module, (torch.nn.ConvTranspose2d, torch.nn.Conv2d)) and module.kernel_size != (7, 7):
            torch.nn.init.kaiming_normal_(module.weight)
    path = tmp_path_factory.mktemp("loud") / "msra18_3d_loud.pth"
    save_checkpoint(str(path), model, epoch=1)
    return str(path)


def torch_deprecates_tracing():
    """Whether this torch warns that ``torch.jit.trace`` is deprecated (recent releases do)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.jit.trace(torch.nn.Linear(2, 2), torch.zeros(1, 2))
    return any(issubclass(w.category, FutureWarning) and "deprecated" in str(w.message) for w in caught)


@pytest.mark.e2e
@pytest.mark.filterwarnings("ignore::FutureWarning:torch.jit")  # torch.jit.load's own, below
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exported_model_matches_pytorch(fmt, loud_checkpoint, tmp_path):
    out = tmp_path / f"model.{'onnx' if fmt == 'onnx' else 'pt'}"
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/export.py",
            "--load_model",
            loud_checkpoint,
            "--arch",
            "msra_18",
            "--format",
            fmt,
            "--out",
            str(out),
            "--input_h",
            "128",
            "--input_w",
            "96",
        ],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    if fmt == "torchscript" and torch_deprecates_tracing():  # one notice in place of torch's warnings
        assert lines[0].startswith("notice: torch") and "deprecates TorchScript" in lines[0]
        lines = lines[1:]
    assert lines[0] == f"wrote {out} ({fmt}; input (N, 3, 128, 96), outputs hm, depth)"
    if fmt == "torchscript":
        assert "Warning" not in proc.stderr, proc.stderr
    assert "CUDA" not in proc.stdout + proc.stderr  # the export runs on the CPU and says nothing of a GPU
    model = load_model(loud_checkpoint, "msra_18", "human3d")
    x = torch.randn(3, 3, 128, 96)  # another batch size than the export example
    with torch.no_grad():
        expected = model(x)[0]
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(out))
        assert [o.name for o in session.get_outputs()] == ["hm", "depth"]
        got = dict(zip(["hm", "depth"], session.run(None, {"input": x.numpy()})))
    else:
        with torch.no_grad():
            got = dict(zip(["hm", "depth"], (t.numpy() for t in torch.jit.load(str(out))(x))))
    for head in ("hm", "depth"):
        want = expected[head].numpy()
        assert want.std() > 0.1, f"{head} outputs too small to compare"
        # relative to the output's size: a zero, constant or rescaled output fails
        np.testing.assert_allclose(got[head], want, rtol=1e-3, atol=1e-4 * np.abs(want).max())


@pytest.mark.e2e
def test_export_of_wrong_checkpoint_is_one_line(resnet18_3d_checkpoint, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/export.py",
            "--load_model",
            resnet18_3d_checkpoint,
            "--arch",
            "msra_50",
            "--out",
            str(tmp_path / "m.onnx"),
        ],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "fits --arch msra_18" in lines[0]
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.e2e
def test_every_way_to_run_a_checkpoint_loads_it_through_load_model(resnet18_3d_checkpoint, tmp_path, monkeypatch):
    """A ResNet-18 checkpoint given as ResNet-34: the Python API (torch and ONNX Runtime), export
    and ``--test`` all refuse it with load_model's one line, and write nothing."""
    monkeypatch.setenv("HG3D_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError) as by_loader:
        load_model(resnet18_3d_checkpoint, "msra_34", "human3d")
    line = str(by_loader.value)
    assert "fits --arch msra_18 --task human3d" in line
    for backend in BACKENDS:
        with pytest.raises(UserError) as by_api:
            Estimator.from_checkpoint(resnet18_3d_checkpoint, "msra_34", backend=backend, log=lambda _: None)
        assert str(by_api.value) == line, backend
    with pytest.raises(UserError) as by_export:
        export_checkpoint(resnet18_3d_checkpoint, "msra_34", "human3d", "onnx", str(tmp_path / "m.onnx"), 64, 64)
    assert str(by_export.value) == line
    args = [*TINY_CPU, "--arch", "msra_34", "--task", "human3d", "--dataset", "h36m", "--test"]
    args += ["--load_model", resnet18_3d_checkpoint, "--data_dir", FIXTURE_DATA, "--exp_dir", str(tmp_path)]
    proc = main_py(*args)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {line}", proc.stderr
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "default" / "results.json").exists()
    assert not os.listdir(tmp_path / "cache" / "onnx")
