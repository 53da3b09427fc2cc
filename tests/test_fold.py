"""deploy.fold: batch norms folded into the convolutions for the torch backend, with the same maps.

Tolerance: a folded layer computes ``(w * s) * x + b'`` where the network computed ``s * (w * x) + b``;
in float32 each layer differs by a few units of rounding (relative 1e-7), and 20 to 50 layers
compound that, so the maps are compared to 1e-4 of their largest magnitude: far above the rounding,
far below any change that folding a batch norm wrongly (another channel axis, a missing shift) makes.
"""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from helpers import randomise_batch_norms
from hg3d.checkpoint import load_model, save_checkpoint
from hg3d.deploy.fold import fold_batch_norms, subpixel_deconvolution, subpixel_deconvolutions
from hg3d.inference import Estimator
from hg3d.model import create_model
from hg3d.tools.synthetic import random_scene

HEADS = {"hm": 16, "depth": 16}
RELATIVE_TOLERANCE = 1e-4


def model_of(arch, trained_statistics):
    torch.manual_seed(0)
    model = create_model(arch, HEADS)
    if trained_statistics:
        randomise_batch_norms(model)
        with torch.no_grad():  # the heads' N(0, 0.001) init would hide the deconvolutions in the maps
            for conv in model.modules():
                if isinstance(conv, nn.ConvTranspose2d):
                    conv.weight.normal_(0, 0.05)
    return model.eval()


def assert_same_maps(folded, reference, inputs):
    with torch.no_grad():
        got, expected = folded(inputs)[-1], reference(inputs)[-1]
    for head in HEADS:
        scale = expected[head].abs().max()
        assert scale > 0
        torch.testing.assert_close(got[head], expected[head], rtol=0, atol=float(scale) * RELATIVE_TOLERANCE)


@pytest.mark.parametrize(
    "arch, trained_statistics, batch_norms",
    [("msra_18", False, 23), ("msra_18", True, 23), ("mobilenet_v3", True, 49)],
    ids=["resnet18-fresh", "resnet18-random-statistics", "mobilenet-random-statistics"],
)
def test_folded_network_gives_the_same_maps_without_batch_norms(arch, trained_statistics, batch_norms):
    reference = model_of(arch, trained_statistics)
    folded = fold_batch_norms(copy.deepcopy(reference))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in reference.modules()) == batch_norms
    inputs = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    assert_same_maps(folded, reference, inputs)
    assert_same_maps(folded.to(memory_format=torch.channels_last), reference, inputs)


def test_folding_a_transposed_convolution_scales_its_output_channels():
    """ConvTranspose2d weights are (in, out, kh, kw): folding along the first axis would scale
    input channels (in != out here, so a wrong axis fails to broadcast or gives other maps)."""
    torch.manual_seed(0)
    reference = nn.Sequential(nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    randomise_batch_norms(reference).eval()
    folded = fold_batch_norms(copy.deepcopy(reference))
    assert isinstance(folded[1], nn.Identity)
    inputs = torch.randn(2, 6, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(folded(inputs), reference(inputs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", [(5, 5), (4, 7)])
def test_a_subpixel_convolution_is_the_transposed_convolution(size):
    """Kernel 4, stride 2, padding 1 (in != out, with a bias): the 3x3 convolution to four phases and
    the pixel shuffle give the transposed convolution's output, for even and odd input sizes."""
    torch.manual_seed(0)
    deconv = nn.ConvTranspose2d(6, 5, 4, stride=2, padding=1)
    inputs = torch.randn(2, 6, *size)
    with torch.no_grad():
        torch.testing.assert_close(subpixel_deconvolution(deconv)(inputs), deconv(inputs), rtol=1e-5, atol=1e-6)


def test_subpixel_network_gives_the_same_maps_without_transposed_convolutions():
    """The network as int8 on ONNX Runtime exports it: batch norms folded, then every deconvolution
    rewritten; the maps are the network's."""
    reference = model_of("msra_18", trained_statistics=True)
    rewritten = subpixel_deconvolutions(fold_batch_norms(copy.deepcopy(reference)))
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in rewritten.modules())
    assert sum(isinstance(m, nn.PixelShuffle) for m in rewritten.modules()) == 3
    assert_same_maps(rewritten, reference, torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)))


def test_estimator_runs_the_folded_network_and_the_checkpoint_stays_as_it_was(tmp_path):
    path = str(tmp_path / "m18.pth")
    save_checkpoint(path, model_of("msra_18", trained_statistics=True), epoch=1)
    before = open(path, "rb").read()
    folded = Estimator.from_checkpoint(path, "msra_18", input_w=64, input_h=64)
    unfolded = Estimator(load_model(path, "msra_18", "human3d"), 64, 64)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.model.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in unfolded.model.modules())
    image = random_scene(np.random.default_rng(5), 120, 100)["image"]
    got, expected = folded.predict(image)[0], unfolded.predict(image)[0]
    np.testing.assert_allclose(got["joints_2d"], expected["joints_2d"], atol=1e-3)
    np.testing.assert_allclose(got["joints_3d_mm"], expected["joints_3d_mm"], rtol=1e-3, atol=1e-2)
    assert open(path, "rb").read() == before
