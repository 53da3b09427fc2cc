import errno
import os

import pytest
import torch

from hg3d import checkpoint
from hg3d.checkpoint import guess_arch, load_weights, read_checkpoint, save_checkpoint
from hg3d.errors import UserError
from hg3d.model import create_model

HEADS_3D = {"hm": 16, "depth": 16}


@pytest.fixture
def model18():
    torch.manual_seed(0)
    return create_model("msra_18", HEADS_3D)


def test_roundtrip_with_optimizer(tmp_path, model18):
    optimizer = torch.optim.Adam(model18.parameters(), 1e-3)
    model18(torch.randn(2, 3, 64, 64))[0]["hm"].mean().backward()
    optimizer.step()
    path = str(tmp_path / "m.pth")
    save_checkpoint(path, model18, 7, optimizer=optimizer.state_dict())
    other = create_model("msra_18", HEADS_3D)
    epoch, opt_state = load_weights(other, path, log=lambda _: None)
    assert epoch == 7 and opt_state["state"]
    for (k, a), b in zip(model18.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), k
    assert list(os.listdir(tmp_path)) == ["m.pth"]  # no temp file left behind


@pytest.mark.parametrize("layout", ["bare", "module_prefix", "legacy_format"])
def test_accepted_file_layouts(tmp_path, model18, layout):
    state = model18.state_dict()
    path = str(tmp_path / "m.pth")
    if layout == "bare":
        torch.save(state, path)
    elif layout == "module_prefix":  # DataParallel checkpoints
        torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    else:  # the pre-zip serialization of PyTorch 0.4, as the released checkpoints use
        torch.save({"epoch": 3, "state_dict": state}, path, _use_new_zipfile_serialization=False)
    other = create_model("msra_18", HEADS_3D)
    load_weights(other, path, log=lambda _: None)
    assert torch.equal(other.state_dict()["depth.weight"], state["depth.weight"])


def test_wrong_arch_names_difference_and_fitting_arch(tmp_path, model18):
    path = str(tmp_path / "m18.pth")
    save_checkpoint(path, model18, 1)
    with pytest.raises(UserError) as err:
        load_weights(create_model("msra_34", HEADS_3D), path)
    message = str(err.value)
    assert path in message and "missing" in message and "--arch msra_18 --task human3d" in message
    assert "\n" not in message


def test_2d_checkpoint_in_3d_model_strict_and_partial(tmp_path):
    path = str(tmp_path / "mpii.pth")
    save_checkpoint(path, create_model("msra_18", {"hm": 16}), 140)
    with pytest.raises(UserError, match="--task human2d"):
        load_weights(create_model("msra_18", HEADS_3D), path)
    notes = []
    model = create_model("msra_18", HEADS_3D)
    fresh_depth = model.depth.weight.clone()
    load_weights(model, path, strict=False, log=notes.append)
    assert "depth (2 tensors)" in notes[0] and torch.equal(model.depth.weight, fresh_depth)


@pytest.mark.parametrize(
    "content,match",
    [
        (b"not a checkpoint at all", "not a PyTorch checkpoint"),
        (None, "does not exist"),
    ],
)
def test_unreadable_files(tmp_path, content, match):
    path = tmp_path / "bad.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=match):
        read_checkpoint(str(path))


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


def test_checkpoint_with_code_is_refused(tmp_path):
    path = str(tmp_path / "evil.pth")
    torch.save({"state_dict": {"x": _Payload()}}, path)
    with pytest.raises(UserError, match="refusing"):
        read_checkpoint(path)


def test_truncated_checkpoint(tmp_path, model18):
    path = tmp_path / "m.pth"
    save_checkpoint(str(path), model18, 1)
    path.write_bytes(path.read_bytes()[:4096])
    with pytest.raises(UserError, match="cannot read checkpoint"):
        read_checkpoint(str(path))


def full_disk(path, data):
    """A writer that runs out of space half-way through the file."""
    with open(path, "wb") as handle:
        handle.write(bytes(data)[: len(data) // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_failed_save_keeps_previous_file(tmp_path, model18, monkeypatch):
    path = str(tmp_path / "model_last.pth")
    save_checkpoint(path, model18, 1)
    before = open(path, "rb").read()
    monkeypatch.setattr(checkpoint, "write_bytes", full_disk)
    with pytest.raises(
        UserError,
        match=r"^cannot write .*model_last.pth: No space left on device; "
        r"the previous file is unchanged$",
    ):
        save_checkpoint(path, model18, 2)
    assert open(path, "rb").read() == before and os.listdir(tmp_path) == ["model_last.pth"]
    assert read_checkpoint(path)[1] == 1
    with pytest.raises(UserError, match="nothing was written"):
        save_checkpoint(str(tmp_path / "new.pth"), model18, 2)
    assert os.listdir(tmp_path) == ["model_last.pth"]


def test_guess_arch_for_each_depth():
    for depth in (18, 34, 50):
        state = create_model(f"msra_{depth}", {"hm": 16}).state_dict()
        assert guess_arch(state) == f"--arch msra_{depth} --task human2d"
    assert guess_arch({"fc.weight": torch.zeros(1)}) is None
