"""Trainer: AMP overflow vs a non-finite loss, host-device syncs per step, what --test computes."""

import numpy as np
import pytest
import torch

from helpers import FIXTURE_DATA, FUSION_3D, TINY_CPU
from hg3d.datasets import get_dataset
from hg3d.evaluate import build_loader
from hg3d.losses import PoseLoss
from hg3d.metrics.core import pck_distances, pck_distances_to_points
from hg3d.model import create_model
from hg3d.options import parse_opts
from hg3d.trainer import Trainer, TrainingDiverged

ARGS = [
    *TINY_CPU,
    *FUSION_3D,
    "--weight_3d",
    "0.1",
    "--batch_size",
    "2",
    "--data_dir",
    FIXTURE_DATA,
]


def trainer_and_loader(*extra, train=True):
    opt = parse_opts([*ARGS, *extra], log=lambda _: None)
    torch.manual_seed(0)
    model = create_model(opt.arch, opt.heads)
    trainer = Trainer(opt, model, torch.optim.SGD(model.parameters(), 1e-3))
    return trainer, build_loader(opt, get_dataset(opt, "train" if train else "val"), train=train)


def test_overflowing_scaled_gradients_skip_the_step_but_do_not_stop_the_run():
    """A real GradScaler (on the CPU) with a scale that makes every gradient overflow, as fp16
    gradients do: it skips the steps; the loss is finite, so the epoch completes."""
    trainer, loader = trainer_and_loader("--print_iter", "1")
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=float("inf"))
    before = [p.detach().clone() for p in trainer.model.parameters()]
    stats = trainer.train_epoch(loader, 1)
    assert np.isfinite(stats["loss"])
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))  # steps skipped


@pytest.mark.parametrize("print_iter", ["1", "100"])
def test_a_non_finite_loss_stops_at_the_first_bad_iteration(monkeypatch, print_iter):
    trainer, loader = trainer_and_loader("--print_iter", print_iter)
    original, calls = PoseLoss.forward, []

    def poisoned(self, output, batch):
        loss, stats = original(self, output, batch)
        calls.append(1)
        return (loss * float("inf") if len(calls) == 3 else loss), stats

    monkeypatch.setattr(PoseLoss, "forward", poisoned)
    with pytest.raises(TrainingDiverged, match="the loss became inf at epoch 4, iteration 3;"):
        trainer.train_epoch(loader, 4)


def count_syncs(monkeypatch):
    """Count Tensor.item and Tensor.tolist calls (each one waits for the device)."""
    counts = {"n": 0}
    for name in ("item", "tolist"):
        method = getattr(torch.Tensor, name)

        def counted(self, *args, _method=method, **kwargs):
            counts["n"] += 1
            return _method(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts


def test_training_syncs_with_the_device_only_when_it_reports(monkeypatch):
    trainer, loader = trainer_and_loader("--print_iter", "4")
    batches = list(loader)  # the DataLoader's own .item()/.tolist() calls happen here
    assert len(batches) == 8  # 16 samples, batch 2
    counts = count_syncs(monkeypatch)
    trainer.train_epoch(batches, 1)
    # 2 reports (iterations 4 and 8) x (finiteness + loss sums) + the epoch's means
    assert counts["n"] == 5


def test_test_copies_inputs_once_and_computes_no_loss(monkeypatch):
    trainer, loader = trainer_and_loader("--full_test", train=False)
    copies = []
    original_to = torch.Tensor.to

    def spy(self, *args, **kwargs):
        copies.append(tuple(self.shape))
        return original_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", spy)
    monkeypatch.setattr(PoseLoss, "forward", lambda *a: pytest.fail("a loss was computed"))
    result = trainer.predict(loader, "test")
    assert result["loss"] == {} and len(result["index"]) == 20
    assert copies.count((1, 3, 64, 64)) == 20  # each input once
    assert all(len(shape) < 4 for shape in copies if shape != (1, 3, 64, 64))  # no targets either


def test_validation_with_loss_reports_it():
    trainer, loader = trainer_and_loader("--full_test", train=False)
    result = trainer.predict(loader, "val", with_loss=True)
    assert set(result["loss"]) == {"hm_loss", "reg_loss", "loss"} and result["loss"]["loss"] > 0


@pytest.mark.parametrize("dataset,extra", [("mpii", ["--task", "human2d"]), ("fusion_3d", ["--full_test"])])
def test_pck_from_label_coordinates_matches_pck_from_targets(dataset, extra):
    """The PCK monitor against pts_crop equals the original's, against the drawn targets' argmax,
    for every joint whose Gaussian peak lies in the map."""
    opt = parse_opts([*ARGS, "--dataset", dataset, *extra], log=lambda _: None)
    items = list(get_dataset(opt, "val"))
    targets = torch.as_tensor(np.stack([it["target"] for it in items]))
    points = torch.as_tensor(np.stack([it["pts_crop"] for it in items]))
    heatmaps = torch.rand(targets.shape, generator=torch.Generator().manual_seed(0))
    from_targets = pck_distances(heatmaps, targets)
    from_points = pck_distances_to_points(heatmaps, points)
    assert np.isfinite(from_points).sum() >= 0.9 * np.isfinite(from_targets).sum() > 0
    both = np.isfinite(from_points)
    np.testing.assert_array_equal(from_points[both], from_targets[both])
