"""The onnxruntime backend in int8 (static QDQ quantization, calibrated on images): it runs, its
cache is keyed by the calibration set, and its drift from fp32 stays within a stated bound."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch

from helpers import HEADS_3D, SRC_DIR, randomise_batch_norms
from hg3d.checkpoint import save_checkpoint
from hg3d.errors import UserError
from hg3d.inference import Estimator
from hg3d.model import create_model
from hg3d.tools.synthetic import random_scene

pytest.importorskip("onnxruntime")
SIZE = 64


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A ResNet-18 whose batch norms and deconvolutions are far from their initialisation, so that
    its maps have structure for the quantization to keep (fresh heads give near-flat maps)."""
    torch.manual_seed(0)
    model = randomise_batch_norms(create_model("msra_18", HEADS_3D))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.ConvTranspose2d, torch.nn.Conv2d)) and module.weight.shape[-1] > 1:
                module.weight.normal_(0, (2 / module.weight[0].numel()) ** 0.5)
        for head in ("hm", "depth"):
            getattr(model, head).weight.normal_(0, 0.05)
    path = tmp_path_factory.mktemp("int8") / "m18.pth"
    save_checkpoint(str(path), model, epoch=1)
    return str(path)


def scenes(seed, count):
    rng = np.random.default_rng(seed)
    return [random_scene(rng, 96, 80)["image"] for _ in range(count)]


def test_int8_runs_near_fp32_and_is_cached_by_calibration_set(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("HG3D_CACHE", str(tmp_path / "cache"))
    notes = []
    settings = {"input_w": SIZE, "input_h": SIZE, "backend": "onnxruntime", "log": notes.append}
    fp32 = Estimator.from_checkpoint(checkpoint, "msra_18", **settings)
    calibration = scenes(1, 8)
    int8 = Estimator.from_checkpoint(checkpoint, "msra_18", precision="int8", calibration=calibration, **settings)
    assert sum(n.startswith("warning: --precision int8 trades accuracy") for n in notes) == 1
    assert sum("quantizing" in n for n in notes) == 1 and int8.model.path.endswith(".onnx")
    assert int8.model.path != fp32.model.path
    # ONNX Runtime has no int8 transposed convolution: the quantized graph has sub-pixel convolutions
    # (their pixel shuffle is DepthToSpace or, from torch 2.6's exporter, reshapes and a transpose)
    operators = {node.op_type for node in onnx.load(int8.model.path).graph.node}
    assert "ConvTranspose" not in operators and "Conv" in operators
    errors_px, map_errors = [], []
    for image in scenes(2, 6):
        a, b = int8.predict(image)[0], fp32.predict(image)[0]
        errors_px.append(np.linalg.norm(a["joints_2d"] - b["joints_2d"], axis=1))
        inputs = torch.from_numpy(np.stack([whole(image)]))
        got, expected = int8.forward(inputs)["hm"], fp32.forward(inputs)["hm"]
        map_errors.append(float((got - expected).norm() / expected.norm()))
    # Bound: heatmaps within 10 % of fp32's (relative L2 norm), joints within 4 px at the median (a
    # heatmap pixel is 1.5 image px here: a 96 px wide image seen as a 64 px crop, maps at 16 px).
    print(f"int8 vs fp32: heatmaps {max(map_errors):.3f} relative, joints median {np.median(errors_px):.2f} px")
    assert max(map_errors) < 0.1, map_errors
    assert np.median(np.concatenate(errors_px)) <= 4.0, errors_px
    notes.clear()
    Estimator.from_checkpoint(checkpoint, "msra_18", precision="int8", calibration=calibration, **settings)
    assert not any("quantizing" in n or "exporting" in n for n in notes), notes
    other = Estimator.from_checkpoint(checkpoint, "msra_18", precision="int8", calibration=scenes(3, 4), **settings)
    assert other.model.path != int8.model.path and any("quantizing" in n for n in notes)


def whole(image):
    from hg3d.inference import whole_image_crop

    return whole_image_crop(image, SIZE, SIZE)


def test_int8_needs_onnxruntime_and_calibration_images(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("HG3D_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="onnxruntime backend only: add --backend onnxruntime"):
        Estimator.from_checkpoint(checkpoint, "msra_18", precision="int8", calibration=scenes(1, 2))
    with pytest.raises(UserError, match="precision 'fp16' is not one of fp32, int8"):
        Estimator.from_checkpoint(checkpoint, "msra_18", backend="onnxruntime", precision="fp16")
    with pytest.raises(UserError, match="needs calibration crops .*give images to calibrate on"):
        Estimator.from_checkpoint(checkpoint, "msra_18", backend="onnxruntime", precision="int8", log=lambda _: None)


@pytest.mark.e2e
def test_demo_runs_int8_calibrated_on_its_input_or_a_folder(checkpoint, tmp_path):
    """``demo.py --backend onnxruntime --precision int8``: one warning, the poses written; calibrated
    on the input's own images by default, on ``--calibration DIR`` when given (another cache entry)."""
    folder, calibration = tmp_path / "in", tmp_path / "calibration"
    for where, images in ((folder, scenes(4, 3)), (calibration, scenes(5, 2))):
        where.mkdir()
        for i, image in enumerate(images):
            cv2.imwrite(str(where / f"{i}.png"), image)
    common = ["--demo", str(folder), "--load_model", checkpoint, "--arch", "msra_18", "--task", "human3d"]
    common += ["--input_h", "64", "--input_w", "64", "--gpus", "-1", "--detector", "none"]
    common += ["--backend", "onnxruntime", "--precision", "int8", "--out_dir", str(tmp_path / "out")]
    env = {**os.environ, "HG3D_CACHE": str(tmp_path / "cache")}
    for extra in ([], ["--calibration", str(calibration)]):
        proc = subprocess.run(
            [sys.executable, "demo.py", *common, *extra],
            cwd=SRC_DIR,
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("warning: --precision int8 trades accuracy for speed") == 1, proc.stdout
        assert "quantizing" in proc.stdout
        record = json.loads((tmp_path / "out" / "0.json").read_text())
        assert len(record["people"]) == 1 and len(record["people"][0]["joints_2d"]) == 16
    assert len(list((tmp_path / "cache" / "onnx").glob("*-int8-*.onnx"))) == 2
    bad = subprocess.run(
        [sys.executable, "demo.py", *common, "--calibration", str(tmp_path / "none")],
        cwd=SRC_DIR,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert (
        bad.returncode == 2 and bad.stderr.strip().startswith("error: --calibration") and "Traceback" not in bad.stderr
    )
