"""Every dataset class through the one scoring interface (``dataset.benchmark``, ``dataset.labels``,
``hg3d.metrics.score``) with perfect predictions: ground truth in, no error out."""

import json
import subprocess
import sys

import numpy as np
import pytest

from figures import assert_every_figure_has_its_protocol
from helpers import SRC_DIR
from hg3d import metrics
from hg3d.datasets import get_dataset
from hg3d.datasets.base import PoseDataset
from hg3d.joints import H36M_TO_MPII, MPI3DHP_TO_MPII, MPII_JOINTS
from hg3d.tools.sample_data import write_3dpw, write_h36m, write_mpi_inf_3dhp, write_mpii
from hg3d.train_options import parse_opts

DATASETS = ("mpii", "h36m", "threedpw", "mpi_inf_3dhp")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("benchmarks")
    write_mpii(str(root / "mpii"), np.random.default_rng(0), 1, 8, size=96)
    write_h36m(str(root / "h36m"), np.random.default_rng(1), 1, 12, size=96)
    write_3dpw(str(root / "3dpw"), np.random.default_rng(2))
    write_mpi_inf_3dhp(str(root / "mpi_inf_3dhp"), np.random.default_rng(3), frames=3)
    return root


def dataset_of(name, root, flags=("--test", "--full_test")):
    task = "human2d" if name == "mpii" else "human3d"
    argv = ["--task", task, "--dataset", name, "--data_dir", str(root), "--gpus", "-1", *flags]
    return get_dataset(parse_opts([*argv, "--input_h", "64", "--input_w", "64"], log=lambda _: None), "val")


def unshifted(mpii):
    """MPII-16 poses that the paper's 3DHP chain (pelvis and hips + 0.2 (upper_neck - pelvis))
    takes back to ``mpii``."""
    pelvis, neck = MPII_JOINTS.index("pelvis"), MPII_JOINTS.index("upper_neck")
    out = mpii.copy()
    out[:, pelvis] = (mpii[:, pelvis] - 0.2 * mpii[:, neck]) / 0.8
    shift = 0.2 * (mpii[:, neck] - out[:, pelvis])
    for hip in ("r_hip", "l_hip"):
        out[:, MPII_JOINTS.index(hip)] = mpii[:, MPII_JOINTS.index(hip)] - shift
    return out


def perfect_predictions(name, dataset, root):
    """What a perfect network predicts for every sample, from the items and the dataset's files
    (not from ``labels``), in a shuffled order: 3D poses in crop units (any scale)."""
    items = [dataset[i] for i in range(len(dataset))]
    order = np.random.default_rng(5).permutation(len(items))
    index = np.array([it["index"] for it in items])[order]
    predictions = {"index": index, "pred_2d": np.zeros((len(index), 16, 2)), "pck_dist": np.zeros((len(index), 10))}
    if name == "mpii":
        annotations = json.loads((root / "mpii/annot/valid.json").read_text())
        predictions["pred_2d"] = np.array([annotations[i]["joints"] for i in index], np.float64)
    elif name == "mpi_inf_3dhp":
        predictions["pred_3d"] = unshifted(dataset.gt_3d[index][:, MPI3DHP_TO_MPII]) / 700.0
    else:
        gt_3d = np.stack([it["gt_3d"] for it in items])[order].astype(np.float64)
        predictions["pred_3d"] = gt_3d[:, H36M_TO_MPII] / 1000.0
    return predictions


def test_every_dataset_class_is_scored_through_one_interface(root):
    covered = set()
    for name in DATASETS:
        dataset = dataset_of(name, root)
        covered.add(type(dataset))
        summary, arrays = metrics.score(dataset, perfect_predictions(name, dataset, root))
        n = len(dataset)
        assert summary["num_samples"] == n and summary["acc"] == 1.0, name
        assert all(len(values) == n for values in arrays.values()), name
        benchmark = metrics.benchmark_of(dataset)
        assert isinstance(benchmark.report(summary), str) and isinstance(benchmark.mat_files(arrays), dict)
        assert_every_figure_has_its_protocol(summary)
        if name == "mpii":
            assert summary["pckh"] == 1.0 and set(benchmark.mat_files(arrays)) == {"preds.mat"}
        elif name == "h36m":
            assert summary["num_3d"] == n and summary["mpjpe"] < 0.01 and summary["pa_mpjpe"] < 0.01
        elif name == "threedpw":
            assert summary["pa_mpjpe_12"] < 1e-3 and summary["split"] == "test"
        else:
            assert summary["pck"] == pytest.approx(100) and summary["mpjpe"] < 1e-3
    assert covered == set(PoseDataset.__subclasses__())


@pytest.mark.parametrize(
    "name, flags, split, step",
    [
        ("h36m", ["--test"], "val", 10),  # every 10th cache entry unless --full_test
        ("h36m", ["--test", "--full_test"], "val", 1),
        ("threedpw", [], "validation", 10),  # validation while training: every 10th person-frame
        ("threedpw", ["--test"], "test", 1),
        ("mpi_inf_3dhp", ["--test"], "test", 1),
    ],
)
def test_protocols_name_the_split_and_frame_step_evaluated(root, name, flags, split, step):
    dataset = dataset_of(name, root, flags)
    n = len(dataset)
    index = np.array([dataset[i]["index"] for i in range(n)])
    rng = np.random.default_rng(0)
    predictions = {"index": index, "pred_2d": np.zeros((n, 16, 2)), "pck_dist": np.zeros((n, 10))}
    predictions["pred_3d"] = rng.normal(0, 0.3, (n, 16, 3))
    summary, _ = metrics.score(dataset, predictions)
    assert_every_figure_has_its_protocol(summary)
    assert {(e["split"], e["frame_step"]) for e in summary["protocols"].values()} == {(split, step)}


def test_figures_of_both_3dhp_scale_modes_name_their_scale_rule(root):
    scales = {}
    for mode in ("gt_bones", "h36m"):
        dataset = dataset_of("mpi_inf_3dhp", root, ("--test", "--mpi_scale", mode))
        summary, _ = metrics.score(dataset, perfect_predictions("mpi_inf_3dhp", dataset, root))
        scales[mode] = {name: e["scale"] for name, e in summary["protocols"].items() if name != "acc"}
    assert scales == {
        "gt_bones": dict.fromkeys(("pck", "auc", "mpjpe", "mpjpe_14"), "gt_bones"),
        "h36m": dict.fromkeys(("pck", "auc", "mpjpe", "mpjpe_14"), "bone_sum_4000"),
    }


@pytest.mark.e2e
def test_metrics_import_no_dataset():
    code = "import sys, hg3d.metrics; print(sorted(m for m in sys.modules if m.startswith('hg3d.datasets')))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=SRC_DIR, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
