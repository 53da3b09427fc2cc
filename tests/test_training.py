"""Training: fusion sampling, each loss term, LR schedule, resume, best model, NaN, bad input."""

import numpy as np
import pytest
import torch

from helpers import FIXTURE_DATA, FUSION_3D, TINY_CPU, main_py, quiet_opts, write_training_data
from hg3d.checkpoint import read_checkpoint, read_training_state, save_checkpoint
from hg3d.datasets import get_dataset
from hg3d.errors import UserError
from hg3d.losses import PoseLoss
from hg3d.model import create_model
from hg3d.tools.sample_data import write_mpii
from hg3d.train import run
from hg3d.trainer import is_better, learning_rate

TINY = [*TINY_CPU, "--batch_size", "4", "--test_batch_size", "8", "--print_iter", "100", "--no_pretrained"]


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    return write_training_data(tmp_path_factory.mktemp("data"), (12, 4), (12, 10), size=128)


@pytest.mark.parametrize("ratio,expected_3d", [(0, 0), (0.5, 4), (1, 8), (5, 8)])
def test_fusion_subset_follows_ratio_3d(ratio, expected_3d):
    # the fixture has 8 H36M train and 8 MPII train samples
    opt = quiet_opts(
        "--task",
        "human3d",
        "--dataset",
        "fusion_3d",
        "--ratio_3d",
        str(ratio),
        "--data_dir",
        FIXTURE_DATA,
        "--gpus",
        "-1",
    )
    dataset = get_dataset(opt, "train")
    assert dataset.num_3d == expected_3d and len(dataset) == expected_3d + 8
    if expected_3d == 4:
        first = set(dataset.subset_3d)
        dataset.set_epoch(1)
        draws = {tuple(sorted(dataset.subset_3d))}
        for epoch in range(2, 8):
            dataset.set_epoch(epoch)
            draws.add(tuple(sorted(dataset.subset_3d)))
        assert len(draws) > 1 and len(first) == 4  # a fresh subset per epoch
    items = [dataset[i] for i in range(len(dataset))]
    assert all(it["reg_mask"].sum() == 0 for it in items[expected_3d:])  # MPII part: 2D only
    assert all(np.abs(it["gt_3d"]).sum() > 0 for it in items[:expected_3d])


def _fusion_batch():
    opt = quiet_opts(*FUSION_3D, "--data_dir", FIXTURE_DATA, "--gpus", "-1", "--input_h", "128", "--input_w", "128")
    dataset = get_dataset(opt, "train")
    np.random.seed(0)
    items = [dataset[i] for i in (0, 1, 2, 8, 9, 10)]  # 3 H36M + 3 MPII samples
    return {k: torch.as_tensor(np.stack([it[k] for it in items])) for k in items[0]}


@pytest.mark.parametrize("term,weights", [("hm_loss", (0, 0)), ("reg_loss", (1, 0)), ("var_loss", (0, 1))])
def test_one_step_on_a_term_reduces_it(term, weights):
    batch = _fusion_batch()
    torch.manual_seed(0)
    model = create_model("msra_18", {"hm": 16, "depth": 16})
    criterion = PoseLoss(weight_3d=weights[0], weight_var=weights[1])
    _, before = criterion(model(batch["input"])[0], batch)
    before[term].backward()
    # A gradient step sized to lower the term by ~10% to first order: it only does so if the
    # gradient really points downhill for that term.
    grad_sq = sum((p.grad**2).sum() for p in model.parameters() if p.grad is not None)
    lr = 0.1 * before[term].item() / grad_sq.item()
    torch.optim.SGD(model.parameters(), lr).step()
    with torch.no_grad():
        _, after = criterion(model(batch["input"])[0], batch)
    assert after[term].item() < before[term].item()


def test_lr_schedule():
    opt = quiet_opts("--lr", "1e-3", "--lr_step", "90,120", "--gpus", "-1")
    assert learning_rate(opt, 0) == learning_rate(opt, 89) == 1e-3
    assert learning_rate(opt, 90) == pytest.approx(1e-4) and learning_rate(opt, 119) == pytest.approx(1e-4)
    assert learning_rate(opt, 120) == pytest.approx(1e-5) and learning_rate(opt, 140) == pytest.approx(1e-5)


def test_best_model_direction():
    assert is_better("mpjpe", 50.0, 60.0) and not is_better("mpjpe", 70.0, 60.0)
    assert is_better("acc", 0.8, 0.7) and not is_better("acc", 0.6, 0.7)
    assert is_better("mpjpe", 100.0, None)


def _train(sample_root, exp_dir, exp_id, *extra):
    return run(
        [
            "--exp_id",
            exp_id,
            *FUSION_3D,
            "--weight_3d",
            "0.1",
            "--weight_var",
            "0.01",
            "--lr_step",
            "1",
            "--val_intervals",
            "1",
            "--data_dir",
            sample_root,
            "--exp_dir",
            str(exp_dir),
            *TINY,
            *extra,
        ]
    )


@pytest.mark.slow
def test_resume_repeats_an_uninterrupted_run(sample_root, tmp_path):
    _train(sample_root, tmp_path, "straight", "--num_epoch", "2")
    _train(sample_root, tmp_path, "resumed", "--num_epoch", "1")
    _train(sample_root, tmp_path, "resumed", "--num_epoch", "2", "--resume")
    a_state, a_epoch, a_opt = read_checkpoint(str(tmp_path / "straight" / "model_last.pth"))
    b_state, b_epoch, b_opt = read_checkpoint(str(tmp_path / "resumed" / "model_last.pth"))
    assert a_epoch == b_epoch == 2
    for key in a_state:
        torch.testing.assert_close(a_state[key], b_state[key], rtol=1e-5, atol=1e-6, msg=key)
    assert a_opt["param_groups"][0]["lr"] == b_opt["param_groups"][0]["lr"] == pytest.approx(1e-4)
    for key, a_param in a_opt["state"].items():  # Adam moments and step counts
        for name, value in a_param.items():
            torch.testing.assert_close(value, b_opt["state"][key][name], rtol=1e-5, atol=1e-8)
    a_best, b_best = (
        read_training_state(str(tmp_path / run / "model_last.pth"))["best"] for run in ("straight", "resumed")
    )
    assert a_best == pytest.approx(b_best, rel=1e-5)
    assert (
        read_checkpoint(str(tmp_path / "resumed" / "model_best.pth"))[1]
        == read_checkpoint(str(tmp_path / "straight" / "model_best.pth"))[1]
    )
    assert (tmp_path / "straight" / "model_best.pth").exists()
    log = (tmp_path / "straight" / "log.txt").read_text()
    assert "epoch 2" in log and "mpjpe" in log
    assert (tmp_path / "straight" / "opt.txt").exists() and any((tmp_path / "straight" / "tensorboard").iterdir())


@pytest.mark.slow
def test_save_all_models_and_2d_checkpoint_seeds_3d(sample_root, tmp_path, capsys):
    run(
        [
            "--exp_id",
            "mpii",
            "--data_dir",
            sample_root,
            "--exp_dir",
            str(tmp_path),
            "--num_epoch",
            "2",
            "--save_all_models",
            "--amp",
            *TINY,
        ]
    )
    assert "notice: --amp needs CUDA" in capsys.readouterr().out
    for name in ("model_1.pth", "model_2.pth", "model_last.pth", "model_best.pth"):
        assert (tmp_path / "mpii" / name).exists(), name
    _train(sample_root, tmp_path, "fusion", "--num_epoch", "1", "--load_model", str(tmp_path / "mpii" / "model_2.pth"))
    out = capsys.readouterr().out
    assert "layers left at init: depth (2 tensors); layers of the checkpoint not used: none" in out


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_last_checkpoint(sample_root, tmp_path, monkeypatch):
    _train(sample_root, tmp_path, "nan", "--num_epoch", "1")
    last = tmp_path / "nan" / "model_last.pth"
    before = last.read_bytes()
    original = PoseLoss.forward

    def poisoned(self, output, batch):
        loss, stats = original(self, output, batch)
        return loss * float("nan"), stats

    monkeypatch.setattr(PoseLoss, "forward", poisoned)
    with pytest.raises(UserError, match="loss became nan at epoch 2"):
        _train(sample_root, tmp_path, "nan", "--num_epoch", "2", "--resume")
    assert last.read_bytes() == before


def _assert_one_line(proc, needle):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(lines) == 1 and needle in lines[0], proc.stderr


@pytest.mark.e2e
def test_bad_training_input(sample_root, tmp_path):
    _assert_one_line(
        main_py("--resume", "--exp_dir", str(tmp_path), "--data_dir", sample_root, *TINY), "nothing to resume"
    )
    broken = tmp_path / "broken"
    (broken / "mpii" / "annot").mkdir(parents=True)
    (broken / "mpii" / "images").mkdir()
    (broken / "mpii" / "annot" / "train.json").write_text("{not json")
    _assert_one_line(
        main_py("--data_dir", str(broken), "--exp_dir", str(tmp_path), *TINY), "cannot read MPII annotation file"
    )
    (broken / "mpii" / "annot" / "train.json").write_text('[{"image": "a.jpg"}]')
    _assert_one_line(
        main_py("--data_dir", str(broken), "--exp_dir", str(tmp_path), *TINY),
        "entry 0 lacks center, scale, joints, joints_vis",
    )
    mpii_only = tmp_path / "noimg"
    write_mpii(mpii_only / "mpii", np.random.default_rng(0), 4, 1, size=96)
    (mpii_only / "mpii" / "images" / "train_000002.jpg").unlink()
    _assert_one_line(
        main_py(
            "--data_dir", str(mpii_only), "--exp_dir", str(tmp_path), *TINY, "--num_epoch", "1", "--val_intervals", "5"
        ),
        "train_000002.jpg (MPII train sample 2) is missing",
    )
    _assert_one_line(main_py("--ratio_3d", "-2", *TINY), "--ratio_3d")
    _assert_one_line(main_py("--lr_step", "90,1e2", *TINY), "--lr_step must be a comma-separated list of integers")
    other_arch = str(tmp_path / "msra34.pth")
    save_checkpoint(other_arch, create_model("msra_34", {"hm": 16}), 1)
    _assert_one_line(
        main_py(
            *FUSION_3D,
            "--load_model",
            other_arch,
            "--data_dir",
            sample_root,
            "--exp_dir",
            str(tmp_path),
            *TINY,
        ),
        "fits --arch msra_34 --task human2d",
    )
