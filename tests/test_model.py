import os
import urllib.error

import pytest
import torch
from torchvision.models import ResNet18_Weights, mobilenet_v3_large, resnet18, resnet34

from helpers import FIXTURE_DATA, FUSION_3D, TINY_CPU, golden, run_main
from hg3d import commands
from hg3d.archs import heads_for
from hg3d.checkpoint import load_model
from hg3d.errors import UserError
from hg3d.model import create_model, imagenet_weights_file, parse_arch
from hg3d.train_options import parse_opts

KEY_FILES = [
    ("msra_50", {"hm": 16, "depth": 16}, "keys_msra50_hm_depth.txt"),
    ("msra_50", {"hm": 16}, "keys_msra50_hm.txt"),
    ("msra_18", {"hm": 16, "depth": 16}, "keys_msra18_hm_depth.txt"),
]


def test_heads_for_each_task():
    """One map per MPII-16 joint; human3d adds the depth maps. The options use the same table."""
    assert heads_for("human2d") == {"hm": 16} and heads_for("human3d") == {"hm": 16, "depth": 16}
    for task in ("human2d", "human3d"):
        extra = ["--dataset", "h36m"] if task == "human3d" else []
        assert parse_opts(["--task", task, "--gpus", "-1", *extra], log=lambda _: None).heads == heads_for(task)
    with pytest.raises(UserError, match="task 'human4d' is neither human2d nor human3d"):
        heads_for("human4d")


def read_keys(name):
    """The golden key list as [(name, shape tuple)]; '-' is a scalar."""
    keys = []
    for line in open(golden(name)).read().splitlines():
        key, shape = line.split()
        keys.append((key, () if shape == "-" else tuple(int(x) for x in shape.split("x"))))
    return keys


@pytest.mark.parametrize("arch,heads,key_file", KEY_FILES)
def test_state_dict_names_shapes_and_order(arch, heads, key_file):
    model = create_model(arch, heads)
    got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert got == read_keys(key_file)


@pytest.mark.parametrize("arch,heads,key_file", KEY_FILES)
def test_checkpoint_built_from_golden_keys_loads_strictly(arch, heads, key_file):
    state = {k: torch.randn(shape) if shape else torch.tensor(7) for k, shape in read_keys(key_file)}
    model = create_model(arch, heads)
    model.load_state_dict(state, strict=True)
    assert torch.equal(model.state_dict()["hm.weight"], state["hm.weight"])


def test_forward_shapes_and_head_init():
    torch.manual_seed(0)
    model = create_model("msra_18", {"hm": 16, "depth": 16}).eval()
    out = model(torch.randn(2, 3, 128, 96))
    assert isinstance(out, list) and len(out) == 1
    assert out[0]["hm"].shape == (2, 16, 32, 24) and out[0]["depth"].shape == (2, 16, 32, 24)
    assert model.hm.bias.abs().max() == 0 and model.hm.weight.std() < 0.002
    assert model.deconv_layers[1].momentum == 0.1 and model.bn1.momentum == 0.1


def test_unknown_arch_is_a_user_error():
    with pytest.raises(UserError, match="msra_18"):
        parse_arch("resnet_50")


@pytest.fixture
def torch_home(monkeypatch, tmp_path):
    """An empty hub cache (TORCH_HOME) with the network cut: a download attempt raises URLError."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    attempts = []

    def no_network(url, dst, *args, **kwargs):
        attempts.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return attempts


def write_cached(state, depth=18):
    path = imagenet_weights_file(f"msra_{depth}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(state, path)
    return path


def test_imagenet_weights_come_from_the_cached_file(torch_home, tmp_path):
    reference = resnet18()
    path = write_cached(reference.state_dict())
    assert path == str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    notes = []
    model = create_model("msra_18", {"hm": 16}, imagenet=True, log=notes.append)
    assert torch.equal(model.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    assert torch.equal(model.bn1.running_var, reference.bn1.running_var)
    assert torch_home == [] and notes == [f"loaded ImageNet weights for the backbone from {path}"]


def test_imagenet_weights_are_downloaded_into_the_hub_cache(monkeypatch, torch_home):
    reference = resnet18()
    monkeypatch.setattr(
        torch.hub, "download_url_to_file", lambda url, dst, *args, **kwargs: torch.save(reference.state_dict(), dst)
    )
    model = create_model("msra_18", {"hm": 16}, imagenet=True, log=lambda _: None)
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert os.path.isfile(imagenet_weights_file("msra_18"))


def test_imagenet_weights_neither_cached_nor_downloadable_is_a_one_line_error(torch_home):
    with pytest.raises(UserError) as error:
        create_model("msra_18", {"hm": 16}, imagenet=True, log=lambda _: None)
    message = str(error.value)
    assert torch_home == [ResNet18_Weights.IMAGENET1K_V1.url]
    assert "\n" not in message and "resnet18-f37072fd.pth" in message
    assert os.path.dirname(imagenet_weights_file("msra_18")) in message and "--no_pretrained" in message


def test_imagenet_file_of_another_resnet_is_refused(torch_home):
    write_cached(resnet34().state_dict())
    with pytest.raises(UserError, match="does not hold the ImageNet weights of a ResNet-18"):
        create_model("msra_18", {"hm": 16}, imagenet=True, log=lambda _: None)


def test_training_without_imagenet_weights_stops_unless_no_pretrained(torch_home, tmp_path, capsys):
    args = [
        "--exp_id",
        "x",
        "--exp_dir",
        str(tmp_path),
        "--data_dir",
        FIXTURE_DATA,
        *TINY_CPU,
        "--batch_size",
        "4",
        "--num_epoch",
        "0",
    ]
    assert commands.train(args) == 2
    error = capsys.readouterr().err
    lines = [line for line in error.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "resnet18-f37072fd.pth" in lines[0] and "Traceback" not in error, error
    assert commands.train([*args, "--no_pretrained"]) == 0


def test_mobilenet_forward_shapes_and_head():
    """Stride 32 in the backbone, three x2 deconvolutions of 128 filters: maps at a quarter of the input."""
    torch.manual_seed(0)
    model = create_model("mobilenet_v3", {"hm": 16, "depth": 16}).eval()
    inputs = torch.randn(2, 3, 128, 96)
    assert model.backbone(inputs).shape == (2, 960, 4, 3)
    out = model(inputs)
    assert out[0]["hm"].shape == (2, 16, 32, 24) and out[0]["depth"].shape == (2, 16, 32, 24)
    assert model.deconv_layers[0].out_channels == 128 and model.hm.in_channels == 128
    assert model.hm.bias.abs().max() == 0 and model.hm.weight.std() < 0.002


def test_mobilenet_imagenet_weights_come_from_the_cached_file(torch_home):
    reference = mobilenet_v3_large()
    path = imagenet_weights_file("mobilenet_v3")
    assert os.path.basename(path) == "mobilenet_v3_large-8738ca79.pth"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(reference.state_dict(), path)
    model = create_model("mobilenet_v3", {"hm": 16}, imagenet=True, log=lambda _: None)
    assert torch.equal(model.features[7].block[0][0].weight, reference.features[7].block[0][0].weight)
    os.remove(path)
    with pytest.raises(UserError, match="MobileNetV3-Large backbone are not cached.*--no_pretrained"):
        create_model("mobilenet_v3", {"hm": 16}, imagenet=True, log=lambda _: None)


@pytest.mark.e2e
def test_mobilenet_trains_and_its_checkpoint_loads_strictly_as_its_arch_only(tmp_path, resnet18_3d_checkpoint):
    """A real training run (``hg3d-train --arch mobilenet_v3``, the 3D recipe with its losses), then
    its checkpoint back: strictly as mobilenet_v3, and a one-line error naming the arch it fits
    when loaded as a ResNet (and a ResNet's checkpoint loaded as mobilenet_v3)."""
    tiny = [*TINY_CPU, "--arch", "mobilenet_v3", "--no_pretrained", "--batch_size", "4", "--num_epoch", "1"]
    losses = ["--weight_3d", "0.1", "--weight_var", "0.01"]
    proc, _ = run_main("--data_dir", FIXTURE_DATA, *FUSION_3D, *tiny, *losses, exp_dir=tmp_path, exp_id="m")
    assert proc.returncode == 0, proc.stderr
    path = str(tmp_path / "m" / "model_last.pth")
    model = load_model(path, "mobilenet_v3", "human3d")
    untrained = create_model("mobilenet_v3", {"hm": 16, "depth": 16})
    assert not torch.equal(model.deconv_layers[0].weight, untrained.deconv_layers[0].weight)
    with pytest.raises(UserError) as error:
        load_model(path, "msra_18", "human3d")
    assert "\n" not in str(error.value) and "it fits --arch mobilenet_v3 --task human3d" in str(error.value)
    with pytest.raises(UserError, match="it fits --arch msra_18 --task human3d"):
        load_model(resnet18_3d_checkpoint, "mobilenet_v3", "human3d")
