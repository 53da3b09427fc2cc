import pytest
import torch

from hg3d.errors import UserError
from hg3d.opts import parse_opts


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


@pytest.mark.parametrize("args,match", [
    (["--lr_step", "10,x"], "--lr_step"),
    (["--ratio_3d", "-1"], "--ratio_3d"),
    (["--input_h", "250"], "multiples of 32"),
    (["--input_h", "256", "--output_h", "32"], "input / 4"),
    (["--arch", "msra_17"], "invalid choice"),
    (["--task", "human2d", "--dataset", "h36m"], "--task human3d"),
    (["--flip", "2"], "probability"),
    (["--no_such_flag"], "unrecognized"),
])
def test_bad_flags_are_one_line_user_errors(args, match):
    with pytest.raises(UserError, match=match) as err:
        parse("--gpus", "-1", *args)
    assert "\n" not in str(err.value)
