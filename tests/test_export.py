import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
import torch

from conftest import REPO_DIR
from hg3d.checkpoint import load_weights
from hg3d.model import create_model


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exported_model_matches_pytorch(fmt, resnet18_3d_checkpoint, tmp_path):
    out = tmp_path / f"model.{'onnx' if fmt == 'onnx' else 'pt'}"
    proc = subprocess.run([sys.executable, "scripts/export.py", "--load_model", resnet18_3d_checkpoint,
                           "--arch", "msra_18", "--format", fmt, "--out", str(out), "--input_h", "128",
                           "--input_w", "96", "--gpus", "-1"], cwd=REPO_DIR, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    model = create_model("msra_18", {"hm": 16, "depth": 16})
    load_weights(model, resnet18_3d_checkpoint, log=lambda _: None)
    model.eval()
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
        np.testing.assert_allclose(got[head], expected[head].numpy(), atol=1e-4, rtol=0)


def test_export_of_wrong_checkpoint_is_one_line(resnet18_3d_checkpoint, tmp_path):
    proc = subprocess.run([sys.executable, "scripts/export.py", "--load_model", resnet18_3d_checkpoint,
                           "--arch", "msra_50", "--out", str(tmp_path / "m.onnx"), "--gpus", "-1"],
                          cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "fits --arch msra_18" in lines[0]
    assert not (tmp_path / "m.onnx").exists()
