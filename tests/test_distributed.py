"""DistributedDataParallel with torchrun: 2 CPU processes (gloo backend) on this machine."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import FIXTURE_DATA, FUSION_3D, SRC_DIR, TINY_CPU
from hg3d.datasets import get_dataset
from hg3d.model import create_model
from hg3d.train_options import parse_opts
from hg3d.trainer import Trainer

pytestmark = pytest.mark.e2e

# Human2D on the fixture's 8 MPII training images, no augmentation: every item is deterministic.
ARGS = [
    *TINY_CPU,
    "--batch_size",
    "2",
    "--lr",
    "1e-3",
    "--scale",
    "0",
    "--rotate",
    "0",
    "--flip",
    "0",
    "--data_dir",
    FIXTURE_DATA,
    "--no_pretrained",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(script, *args, cwd=SRC_DIR, processes=2):
    env = dict(os.environ, PYTHONPATH=SRC_DIR, OMP_NUM_THREADS="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(processes),
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(free_port()),
            script,
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ddp_matches_single_process_over_the_global_batch(tmp_path):
    worker = os.path.join(os.path.dirname(__file__), "distributed_worker.py")
    proc = torchrun(worker, str(tmp_path), *ARGS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for name, value in ranks[0]["params"].items():  # DDP keeps the replicas identical
        assert torch.equal(value, ranks[1]["params"][name]), name

    # Single process, same global batches: rank r's part of step k is its sampler's k-th chunk.
    # As in DDP, each part is normalised with its own batch statistics and the gradients of the
    # parts' mean losses are averaged. Plain SGD on both sides: Adam's sign-like first steps would
    # amplify float summation noise on near-zero gradients into whole learning-rate steps.
    # The reference runs in float64, so that what is left is DDP's own float32 rounding. That is
    # large against the step for weights that feed a batch norm (their gradient is a sum of terms
    # that nearly cancel): a float32 reference differed from float64 by 6.8 % of the two steps'
    # largest change of deconv_layers.3.weight (3.4e-6 of 5.0e-5), DDP by 0.17 %, and no parameter
    # of DDP by more than 0.9 % of its change. So each parameter must match within 3 % of its own
    # largest change plus float32 resolution of its value; a real divergence (a shard's gradient
    # missing or counted twice, other batches) moves parameters by about their whole change.
    opt = parse_opts(ARGS, log=lambda _: None)
    dataset = get_dataset(opt, "train")
    shards = []
    for rank in (0, 1):
        sampler = torch.utils.data.distributed.DistributedSampler(
            dataset, num_replicas=2, rank=rank, shuffle=True, seed=opt.seed, drop_last=True
        )
        sampler.set_epoch(1)
        shards.append(list(sampler))
    torch.manual_seed(0)
    model = create_model(opt.arch, opt.heads).double()
    initial = {name: value.detach().clone() for name, value in model.named_parameters()}
    trainer = Trainer(opt, model, torch.optim.SGD(model.parameters(), 0.05))
    model.train()
    steps = len(shards[0]) // opt.batch_size
    assert steps == len(ranks[0]["losses"]) == 2
    for step in range(steps):
        losses = []
        for shard in shards:
            items = [dataset[i] for i in shard[step * 2 : (step + 1) * 2]]
            batch = {k: torch.as_tensor(np.stack([it[k] for it in items])) for k in items[0]}
            batch = {k: v.double() if v.is_floating_point() else v for k, v in batch.items()}
            losses.append(trainer.loss(trainer.forward(batch["input"]), batch)[0])
        trainer.optimizer.zero_grad()
        (sum(losses) / 2).backward()
        trainer.optimizer.step()
        ddp_loss = (ranks[0]["losses"][step] + ranks[1]["losses"][step]) / 2
        assert abs(ddp_loss - (sum(losses) / 2).item()) <= 1e-5 * abs(ddp_loss) + 1e-7
    float32_resolution = 2 * torch.finfo(torch.float32).eps
    for name, value in model.named_parameters():
        change = (value.detach() - initial[name]).abs().max().item()
        torch.testing.assert_close(
            ranks[0]["params"][name].double(), value.detach(), rtol=float32_resolution, atol=0.03 * change, msg=name
        )


def test_torchrun_main_trains_and_only_rank_0_writes(tmp_path):
    proc = torchrun(
        "main.py",
        "--exp_id",
        "ddp",
        "--exp_dir",
        str(tmp_path),
        "--num_epoch",
        "1",
        *FUSION_3D,
        "--weight_3d",
        "0.1",
        "--full_test",
        *ARGS,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("epoch 1 |") == 1  # one log line, from rank 0
    assert "20 samples" in proc.stdout  # validation gathered from both ranks: all 20 fixture frames
    out = tmp_path / "ddp"
    assert sorted(os.listdir(out)) == [".lock", "log.txt", "model_best.pth", "model_last.pth", "opt.txt", "tensorboard"]
    assert (out / "log.txt").read_text().count("epoch 1 |") == 1
    # 3 ranks for 20 samples: DistributedSampler pads to 21, and the repeated sample must be dropped
    test = torchrun(
        "main.py",
        "--exp_id",
        "ddp_test",
        "--exp_dir",
        str(tmp_path),
        "--test",
        "--full_test",
        "--task",
        "human3d",
        "--dataset",
        "fusion_3d",
        "--load_model",
        str(out / "model_last.pth"),
        *ARGS,
        processes=3,
    )
    assert test.returncode == 0, test.stderr[-3000:]
    results = json.loads((tmp_path / "ddp_test" / "results.json").read_text())
    assert results["num_samples"] == 20 and np.isfinite(results["mpjpe"])
