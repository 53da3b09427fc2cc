import os
import re
import subprocess
import sys

import pytest
import torch

from helpers import SRC_DIR
from hg3d.datasets import DATASETS
from hg3d.demo.cli import parse_demo_opts
from hg3d.distributed import local_gpu
from hg3d.errors import UserError
from hg3d.train_options import build_parser, parse_opts


def parse(*args):
    notes = []
    return parse_opts(list(args), log=notes.append), notes


def test_defaults_follow_the_original():
    opt, _ = parse("--gpus", "-1")
    assert (opt.task, opt.dataset, opt.arch, opt.batch_size, opt.lr) == ("human2d", "mpii", "msra_50", 32, 1e-3)
    assert opt.lr_step == [90, 120] and opt.num_epoch == 140
    assert (opt.input_h, opt.output_h, opt.hm_gauss) == (256, 64, 2)
    assert opt.heads == {"hm": 16} and opt.metric == "acc" and opt.device == torch.device("cpu")
    assert opt.data_dir.endswith("data") and opt.save_dir.endswith("exp/default")


def test_3d_task_heads_and_alias():
    opt, _ = parse("--task", "human3d", "--dataset", "3dpw", "--gpus", "-1", "--lr_step", "45")
    assert opt.heads == {"hm": 16, "depth": 16} and opt.metric == "mpjpe"
    assert opt.dataset == "threedpw" and opt.lr_step == [45]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_cuda_request_without_cuda_falls_back_with_notice():
    opt, notes = parse("--gpus", "0")
    assert opt.device.type == "cpu" and len(notes) == 1 and "not available" in notes[0]


@pytest.mark.parametrize(
    "args,match",
    [
        (["--lr_step", "10,x"], "--lr_step"),
        (["--ratio_3d", "-1"], "--ratio_3d"),
        (["--input_h", "250"], "multiples of 32"),
        (["--input_h", "256", "--output_h", "32"], "input / 4"),
        (["--arch", "msra_17"], "invalid choice"),
        (["--task", "human2d", "--dataset", "h36m"], "--task human3d"),
        (["--flip", "2"], "probability"),
        (["--no_such_flag"], "unrecognized"),
    ],
)
def test_bad_flags_are_one_line_user_errors(args, match):
    with pytest.raises(UserError, match=match) as err:
        parse("--gpus", "-1", *args)
    assert "\n" not in str(err.value)


@pytest.fixture
def two_gpus(monkeypatch):
    """torch.cuda as on a machine with 2 GPUs (nothing is run on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_several_gpus_in_one_process_are_refused_with_the_torchrun_command(two_gpus, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert parse("--gpus", "1")[0].device == torch.device("cuda", 1)
    with pytest.raises(UserError) as err:
        parse("--exp_id", "two", "--gpus", "0,1", "--lr", "1e-4")
    message = str(err.value)
    assert "\n" not in message and message.startswith("--gpus 0,1: one process uses one GPU")
    assert message.endswith(
        "torchrun --nproc_per_node 2 "
        + os.path.relpath(os.path.join(SRC_DIR, "main.py"))
        + " --exp_id two --lr 1e-4 --gpus 0,1"
    )


@pytest.mark.parametrize("gpus,local_rank,expected", [("0,1", 0, 0), ("1,0", 0, 1), ("1,0", 1, 0), ("0", 1, 1)])
def test_under_torchrun_each_process_takes_its_gpu(two_gpus, monkeypatch, gpus, local_rank, expected):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", str(local_rank))
    opt, _ = parse("--gpus", gpus)
    assert local_gpu(opt.gpus) == expected


def test_under_torchrun_gpu_ids_must_match_the_processes(two_gpus, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(UserError, match="--gpus 0,1 lists 2 GPUs for 3 processes"):
        local_gpu(parse("--gpus", "0,1")[0].gpus)
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(UserError, match="local rank 2 has no GPU 2"):
        local_gpu([0])


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_registered_dataset_is_a_choice_with_its_aliases_and_checks(name):
    spec = DATASETS[name]
    task = ["--task", "human3d" if spec.is_3d else "human2d"]
    test = ["--test"] if spec.test_only else []
    for given in (name, *spec.aliases):
        assert parse("--gpus", "-1", *task, *test, "--dataset", given)[0].dataset == name
    if spec.is_3d:
        with pytest.raises(UserError, match=f"--dataset {name} is a 3D dataset: add --task human3d"):
            parse("--gpus", "-1", *test, "--dataset", name)
    if spec.test_only:
        with pytest.raises(UserError, match=f"--dataset {name} is a test set: add --test"):
            parse("--gpus", "-1", *task, "--dataset", name)
    with pytest.raises(UserError, match="invalid choice"):
        parse("--gpus", "-1", "--dataset", name + "x")


NETWORK_FLAGS = ("--arch", "--task", "--load_model", "--input_h", "--input_w")
MODEL_FLAGS = (*NETWORK_FLAGS, "--gpus", "--flip_test", "--no_flip_test")
TRAINING_FLAGS = (
    "--lr",
    "--weight_var",
    "--mpi_scale",
    "--ratio_3d",
    "--exp_id",
    "--dataset",
    "--data_dir",
    "--num_epoch",
    "--resume",
    "--overwrite",
    "--num_workers",
    "--output_h",
    "--hm_gauss",
)
# The demo's and export's --help as their commands print it, then which training modules got imported.
HELP_OF_COMMANDS = """
import sys
from hg3d import commands
for command in (commands.demo, commands.export):
    try:
        command(["--help"])
    except SystemExit:
        pass
    print("@@", [m for m in ("hg3d.train", "hg3d.trainer", "hg3d.logger", "hg3d.losses") if m in sys.modules])
"""


def flags_in(help_text):
    return set(re.findall(r"--\w+", help_text))


@pytest.mark.e2e
def test_demo_and_export_offer_the_model_options_only_and_load_no_training_code():
    proc = subprocess.run(
        [sys.executable, "-c", HELP_OF_COMMANDS],
        env={**os.environ, "PYTHONPATH": SRC_DIR},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    demo, export, _ = proc.stdout.split("@@")
    assert set(MODEL_FLAGS) <= flags_in(demo) and not set(TRAINING_FLAGS) & flags_in(demo)
    # the export holds the plain network on the CPU: no device, no flip test
    assert flags_in(export) == {*NETWORK_FLAGS, "--format", "--out", "--help"}, export
    assert "\nusage: hg3d-export [-h]" in export and "export.py" not in export
    assert "--demo" in flags_in(demo) and "--batch_size" in flags_in(demo)
    assert proc.stdout.count("@@ []") == 2, proc.stdout  # neither imported hg3d.train or the trainer
    assert set(MODEL_FLAGS) | set(TRAINING_FLAGS) <= flags_in(build_parser().format_help())


def test_the_demo_refuses_training_flags_and_keeps_its_defaults(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="unrecognized arguments: --lr 0.1"):
        parse_demo_opts(["--demo", str(tmp_path), "--gpus", "-1", "--lr", "0.1"])
    monkeypatch.setenv("HG3D_HOME", str(tmp_path))  # the default model is there, not downloaded
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "fusion_3d_var.pth").write_bytes(b"")
    opt = parse_demo_opts(["--demo", str(tmp_path), "--gpus", "-1"])
    assert (opt.task, opt.arch, opt.batch_size, opt.flip_test) == ("human3d", "msra_50", 8, True)
    assert opt.heads == {"hm": 16, "depth": 16} and (opt.input_h, opt.input_w) == (256, 256)
    assert opt.load_model == "fusion_3d_var"  # the release's name: its file is found when the model is built
