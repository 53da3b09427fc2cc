import os

import pytest
import torch

from conftest import golden
from hg3d.errors import UserError
from hg3d.model import create_model, imagenet_weights_file, parse_arch

KEY_FILES = [("msra_50", {"hm": 16, "depth": 16}, "keys_msra50_hm_depth.txt"),
             ("msra_50", {"hm": 16}, "keys_msra50_hm.txt"),
             ("msra_18", {"hm": 16, "depth": 16}, "keys_msra18_hm_depth.txt")]


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


def test_imagenet_missing_gives_notice_not_failure(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    notes = []
    create_model("msra_18", {"hm": 16}, imagenet=True, log=notes.append)
    assert len(notes) == 1 and "random init" in notes[0]


def test_imagenet_weights_are_loaded_when_present(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    path = imagenet_weights_file(18)
    os.makedirs(os.path.dirname(path))
    from torchvision.models import resnet18
    reference = resnet18()
    torch.save(reference.state_dict(), path)
    model = create_model("msra_18", {"hm": 16}, imagenet=True, log=lambda _: None)
    assert torch.equal(model.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
