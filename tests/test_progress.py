"""The progress display: the phase, the epoch (k/N) and the time left of a tiny run's output, as
lines (--print_iter) and as a bar on a terminal; a `%` in a run or video name is shown as it is."""

import io
import re

import cv2
import numpy as np
import pytest

from helpers import FUSION_3D, TINY_CPU, write_training_data
from hg3d.demo import run_demo
from hg3d.progress import ProgressBar
from hg3d.train import run

TINY = [*TINY_CPU, "--no_pretrained", "--batch_size", "4", "--test_batch_size", "2", *FUSION_3D, "--full_test"]
PHASE_LINE = re.compile(
    r"^human3d/50%done (train|val) epoch (\d)/2 \[(\d+)/(\d+)\] \| \d+:\d\d:\d\d \| ETA (\d+:\d\d:\d\d)(.*)$"
)


class Terminal(io.StringIO):
    """What the bar writes to when stderr is a terminal."""

    def isatty(self):
        return True


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_training_data(tmp_path_factory.mktemp("data"), (8, 2), (8, 4), size=96)


def tiny_run(data, exp_dir, exp_id, *extra):
    run(["--exp_id", exp_id, "--data_dir", data, "--exp_dir", str(exp_dir), *TINY, "--val_intervals", "1", *extra])


@pytest.mark.slow
def test_training_lines_name_the_phase_the_epoch_and_the_time_left(data, tmp_path, capsys):
    tiny_run(data, tmp_path, "50%bar", "--num_epoch", "1")
    assert (tmp_path / "50%bar" / "model_last.pth").exists()  # the bar of a run named with a `%`
    capsys.readouterr()
    tiny_run(data, tmp_path, "50%done", "--num_epoch", "2", "--print_iter", "1")
    lines = [m.groups() for line in capsys.readouterr().out.splitlines() if (m := PHASE_LINE.match(line))]
    train = [g for g in lines if g[0] == "train"]
    val = [g for g in lines if g[0] == "val"]
    assert [(g[1], g[2], g[3]) for g in train] == [(e, str(i), "4") for e in "12" for i in range(1, 5)]
    assert [(g[1], g[2], g[3]) for g in val] == [(e, str(i), "2") for e in "12" for i in range(1, 3)]
    assert all(g[4] == "0:00:00" for g in lines if g[2] == g[3])  # nothing left at the end of a phase
    assert all(re.fullmatch(r" \| hm_loss [\d.e+-]+ \| reg_loss .* \| loss .*", g[5]) for g in train)


def test_the_bar_on_a_terminal_keeps_a_percent_sign():
    terminal = Terminal()
    bar = ProgressBar("human3d/50%d train epoch 3/140", 3, file=terminal)
    bar.status = "hm_loss 0.0325 | 100%"
    for it in range(3):
        bar.advance(it)
    bar.finish()
    last = re.sub(r"\x1b\[\?25[hl]", "", terminal.getvalue()).rstrip().split("\r")[-1]  # without cursor codes
    assert last.startswith("human3d/50%d train epoch 3/140 |")
    assert last.endswith("[3/3] | 0:00:00 | ETA 0:00:00 | hm_loss 0.0325 | 100%")


def test_a_video_named_with_a_percent_sign(resnet18_3d_checkpoint, tmp_path, capsys):
    video = tmp_path / "50%d.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (96, 96))
    for value in (60, 120, 180):
        writer.write(np.full((96, 96, 3), value, np.uint8))
    writer.release()
    args = ["--demo", str(video), "--out_dir", str(tmp_path / "out"), "--load_model", resnet18_3d_checkpoint]
    result = run_demo([*args, "--arch", "msra_18", "--input_h", "64", "--input_w", "64", "--gpus", "-1"])
    assert result.done == 3 and (tmp_path / "out" / "50%d.json").exists()
