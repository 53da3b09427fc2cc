"""MPI-INF-3DHP: joint table, prediction mapping and scaling, the official metrics and their pooling,
the test-set reader (valid frames, 1-based images, absent sequences, bad files), end to end."""

import json
import shutil

import h5py
import numpy as np
import pytest

from helpers import TINY_CPU, quiet_opts
from hg3d import commands
from hg3d.datasets import get_dataset
from hg3d.errors import UserError
from hg3d.joints import H36M_JOINTS, H36M_TO_MPI3DHP, MPI3DHP_JOINTS, MPI3DHP_TO_MPII, MPII_JOINTS
from hg3d.metrics import score
from hg3d.metrics.mpi_inf_3dhp import frame_metrics, joint_errors, to_mpi3dhp
from hg3d.options import parse_opts
from hg3d.tools.sample_data import write_mpi_inf_3dhp
from hg3d.train import run

SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
ACTIVITY_NAMES = (
    "Standing/Walking",
    "Exercise",
    "Sitting",
    "Reaching/Crouching",
    "On the Floor",
    "Sports",
    "Miscellaneous",
)
SCENE = {"TS1": "GS", "TS2": "GS", "TS3": "noGS", "TS4": "noGS", "TS5": "Outdoor", "TS6": "Outdoor"}
EVALUATED = (
    "head_top",
    "neck",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
)
# the 15 H36M bones, by 3DHP name
BONES = (
    ("r_ankle", "r_knee"),
    ("r_knee", "r_hip"),
    ("r_hip", "pelvis"),
    ("pelvis", "l_hip"),
    ("l_hip", "l_knee"),
    ("l_knee", "l_ankle"),
    ("pelvis", "spine"),
    ("spine", "neck"),
    ("neck", "head_top"),
    ("r_wrist", "r_elbow"),
    ("r_elbow", "r_shoulder"),
    ("r_shoulder", "neck"),
    ("neck", "l_shoulder"),
    ("l_shoulder", "l_elbow"),
    ("l_elbow", "l_wrist"),
)
J = MPI3DHP_JOINTS.index
M = MPII_JOINTS.index

# The 14 bones (MPII-16 names) whose summed length the paper's Lua evaluation matches to the ground truth's.
PAPER_BONES = (
    ("r_ankle", "r_knee"),
    ("r_knee", "r_hip"),
    ("r_hip", "pelvis"),
    ("l_hip", "l_knee"),
    ("l_hip", "pelvis"),
    ("l_knee", "l_ankle"),
    ("pelvis", "upper_neck"),
    ("upper_neck", "head_top"),
    ("r_shoulder", "upper_neck"),
    ("r_wrist", "r_elbow"),
    ("r_elbow", "r_shoulder"),
    ("l_shoulder", "upper_neck"),
    ("l_shoulder", "l_elbow"),
    ("l_elbow", "l_wrist"),
)
# the 3DHP joint that the paper's preprocessing put in each MPII slot, where the names differ
MPII_SLOT_OF_3DHP = {"thorax": "spine", "upper_neck": "neck"}


def paper_bone_sum(mpii):
    """The summed length of PAPER_BONES of MPII-16 poses (..., 16, 3)."""
    return sum(np.linalg.norm(mpii[..., M(a), :] - mpii[..., M(b), :], axis=-1) for a, b in PAPER_BONES)


MPI3DHP_TEST = ["--task", "human3d", "--dataset", "mpi_inf_3dhp", "--test"]


def data_on_cpu(data_dir):
    return ["--data_dir", str(data_dir), "--gpus", "-1"]


def opts(data_dir, *extra):
    return quiet_opts(*MPI3DHP_TEST, *data_on_cpu(data_dir), "--input_h", "64", "--input_w", "64", *extra)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mpi3dhp")
    write_mpi_inf_3dhp(str(root / "mpi_inf_3dhp"), np.random.default_rng(0), frames=5)
    return root


@pytest.fixture
def copy(root, tmp_path):
    """A private copy of the sample test set, to damage."""
    shutil.copytree(root / "mpi_inf_3dhp", tmp_path / "mpi_inf_3dhp")
    return tmp_path


def set_dir(root):
    return root / "mpi_inf_3dhp" / "mpi_inf_3dhp_test_set"


def read_mat(root, sequence):
    with h5py.File(set_dir(root) / sequence / "annot_data.mat", "r") as handle:
        return {name: np.asarray(handle[name]) for name in handle}


def bone_sum(pose):
    return sum(np.linalg.norm(pose[..., J(a), :] - pose[..., J(b), :], axis=-1) for a, b in BONES)


def mpii_from_3dhp(pose):
    """An MPII-16 pose that the conversion turns back into ``pose``: joints by name (MPII thorax
    <- 3DHP spine, upper_neck <- 3DHP neck)."""
    return np.stack([pose[..., J(MPII_SLOT_OF_3DHP.get(n, n)), :] for n in MPII_JOINTS], -2)


def with_midpoints(pose):
    """3DHP poses whose spine and head are the midpoints the MPII -> H36M conversion makes."""
    pose = np.array(pose, np.float64)
    pose[..., J("spine"), :] = (pose[..., J("pelvis"), :] + pose[..., J("neck"), :]) / 2
    pose[..., J("head"), :] = (pose[..., J("neck"), :] + pose[..., J("head_top"), :]) / 2
    return pose


def test_joint_table():
    h36m_for = {"head_top": "head", "neck": "thorax", "spine": "spine", "head": "neck"}
    for j, name in enumerate(MPI3DHP_JOINTS):
        assert H36M_JOINTS[H36M_TO_MPI3DHP[j]] == h36m_for.get(name, name)
    # the order of the paper's own 3DHP preprocessing (Lua pose-hg-3d, 0-based)
    assert MPI3DHP_TO_MPII.tolist() == [10, 9, 8, 11, 12, 13, 14, 15, 1, 0, 4, 3, 2, 5, 6, 7]
    assert [MPI3DHP_JOINTS[j] for j in range(14)] == list(EVALUATED)


def test_mapping_of_a_hand_made_pose():
    # an MPII-16 pose with unrelated coordinates per joint (crop units)
    mpii = np.array([[0.1 * j, 0.3 * j * j % 1.7, -0.05 * j + 0.02 * (j % 3)] for j in range(16)])
    expected = {n: mpii[M(n)] for n in MPI3DHP_JOINTS if n in MPII_JOINTS}
    expected["neck"] = mpii[M("upper_neck")]
    expected["spine"] = (mpii[M("pelvis")] + mpii[M("upper_neck")]) / 2
    expected["head"] = (mpii[M("upper_neck")] + mpii[M("head_top")]) / 2
    pose = np.stack([expected[n] for n in MPI3DHP_JOINTS])
    # h36m: bones to 4000 mm, rooted at the pelvis
    out = to_mpi3dhp(mpii[None], None, "h36m")[0]
    np.testing.assert_allclose(out, (pose - pose[J("pelvis")]) * 4000 / bone_sum(pose), atol=1e-9)


def paper_chain_by_hand(pred, gt):
    """The Lua ``eval`` of one frame, step by step by joint name: ``pred`` MPII-16 (16, 3) in any
    unit, ``gt`` 3DHP-17 (17, 3) mm -> {MPII name: position in mm}."""
    p = {name: np.array(pred[M(name)], np.float64) for name in MPII_JOINTS}
    g = {name: np.array(gt[J(MPII_SLOT_OF_3DHP.get(name, name))], np.float64) for name in MPII_JOINTS}
    s = 0.2 * (p["upper_neck"] - p["pelvis"])  # 1. one shift for pelvis and both hips
    for name in ("pelvis", "r_hip", "l_hip"):
        p[name] = p[name] + s
    p["thorax"] = (p["pelvis"] + p["upper_neck"]) / 2  # 2. thorax halfway up
    pred_length = sum(np.linalg.norm(p[a] - p[b]) for a, b in PAPER_BONES)
    gt_length = sum(np.linalg.norm(g[a] - g[b]) for a, b in PAPER_BONES)
    k = gt_length / pred_length  # 3. about the pelvis, onto the ground truth's pelvis
    return {name: g["pelvis"] + k * (p[name] - p["pelvis"]) for name in MPII_JOINTS}


def asymmetric_poses(rng, count):
    """MPII-16 crop-unit predictions and 3DHP-17 mm ground truths with no symmetry to hide a
    swapped or mis-weighted joint (the ground truth's pelvis away from the origin)."""
    pred = rng.normal(0, 0.3, (count, 16, 3)) + rng.uniform(-1, 1, (count, 1, 3))
    gt = rng.normal(0, 400, (count, 17, 3)) + rng.uniform(-200, 200, (count, 1, 3))
    return pred, gt


def test_paper_scale_chain_against_a_computation_by_hand():
    pred, gt = asymmetric_poses(np.random.default_rng(11), 6)
    out = to_mpi3dhp(pred, gt, "gt_bones")
    for i in range(len(pred)):
        expected = paper_chain_by_hand(pred[i], gt[i])
        for name, position in expected.items():
            np.testing.assert_allclose(out[i, J(MPII_SLOT_OF_3DHP.get(name, name))], position, atol=1e-6, err_msg=name)
    # the 14 evaluated joints are all MPII joints, pelvis and thorax excepted
    assert {MPI3DHP_JOINTS[j] for j in range(14)} == {
        MPII_SLOT_OF_3DHP.get(n, n) for n in MPII_JOINTS if n not in ("pelvis", "thorax")
    }


def test_paper_scale_figures_through_the_dataset(root):
    dataset = get_dataset(opts(root, "--mpi_scale", "gt_bones"), "val")
    n = len(dataset)
    pred = mpii_from_3dhp(dataset.gt_3d) / 800 + np.random.default_rng(2).normal(0, 0.05, (n, 16, 3))
    result = {"index": np.arange(n), "pred_2d": np.zeros((n, 16, 2)), "pck_dist": np.zeros((n, 10)), "pred_3d": pred}
    summary, arrays = score(dataset, result)
    errors = []
    for i in range(n):
        by_hand = paper_chain_by_hand(pred[i], dataset.gt_3d[i])
        errors.append(
            [
                np.linalg.norm(by_hand[name] - dataset.gt_3d[i, J(MPII_SLOT_OF_3DHP.get(name, name))])
                for name in MPII_JOINTS
                if name not in ("pelvis", "thorax")
            ]
        )
    pck, auc, mpjpe = independent_figures(errors)
    assert 5 < pck < 95
    np.testing.assert_allclose([summary["pck"], summary["auc"], summary["mpjpe"]], [pck, auc, mpjpe], rtol=1e-5)
    np.testing.assert_array_equal(arrays["pred_3d_mpii"], pred.astype(np.float32))


def test_ground_truth_through_both_scale_modes_scores_zero(root):
    dataset = get_dataset(opts(root), "val")
    gt = with_midpoints(dataset.gt_3d)
    gt = gt - gt[:, J("pelvis") : J("pelvis") + 1]
    crop_scale = np.linspace(500, 2000, len(gt))[:, None, None]  # any per-frame crop scale
    # h36m mode: exact when the ground truth's bones sum to 4000 mm
    gt_4000 = gt * (4000 / bone_sum(gt))[:, None, None]
    pred = mpii_from_3dhp(gt_4000) / crop_scale
    np.testing.assert_allclose(to_mpi3dhp(pred, gt, "h36m"), gt_4000, atol=1e-6)
    # gt_bones mode: exact when pelvis and hips sit where the shift of 0.2 x (neck - pelvis)
    # takes them; the thorax (3DHP spine) is the midpoint of pelvis and neck in ``with_midpoints``
    mpii = mpii_from_3dhp(gt)
    neck = mpii[:, M("upper_neck")]
    pelvis = (mpii[:, M("pelvis")] - 0.2 * neck) / 0.8  # p + 0.2 (neck - p) = the ground truth's
    unshifted = mpii.copy()
    unshifted[:, M("pelvis")] = pelvis
    for hip in ("r_hip", "l_hip"):
        unshifted[:, M(hip)] = mpii[:, M(hip)] - 0.2 * (neck - pelvis)
    np.testing.assert_allclose(to_mpi3dhp(unshifted / crop_scale, gt, "gt_bones"), gt, atol=1e-6)
    # without undoing the shift, the hips move: the shift is applied
    assert np.abs(to_mpi3dhp(mpii, gt, "gt_bones") - gt)[:, J("r_hip")].max() > 1


def test_metric_functions_with_ground_truth_as_prediction():
    gt = np.random.default_rng(0).normal(0, 400, (7, 17, 3))
    figures = frame_metrics(joint_errors(gt, gt))
    np.testing.assert_allclose(figures["pck"], 100)
    np.testing.assert_allclose(figures["mpjpe"], 0)
    np.testing.assert_allclose(figures["auc"], 100 * 30 / 31)  # the 0 mm threshold counts no joint
    assert round(float(figures["auc"][0]), 2) == 96.77


def test_metric_thresholds_by_hand():
    errors = np.zeros((1, 14))
    errors[0, :4] = [149.9, 150.0, 4.9, 5.0]  # strict: 150 fails PCK, 5.0 fails the 5 mm threshold
    errors[0, 4:] = 1000
    figures = frame_metrics(errors)
    np.testing.assert_allclose(figures["pck"], 100 * 3 / 14)
    # 149.9 passes thresholds 150 (1 of 31); 150 none; 4.9 passes 5..150 (30); 5.0 passes 10..150 (29)
    np.testing.assert_allclose(figures["auc"], 100 * (1 + 0 + 30 + 29) / (31 * 14))
    np.testing.assert_allclose(figures["mpjpe"], (149.9 + 150 + 4.9 + 5 + 10 * 1000) / 14)


def test_valid_frames_and_one_based_image_names(root):
    dataset = get_dataset(opts(root), "val")
    rows = {s: np.flatnonzero(read_mat(root, s)["valid_frame"][:, 0] == 1) for s in SEQUENCES}
    assert rows["TS1"].tolist() == [1, 2, 3, 4] and rows["TS2"].tolist() == [0, 2, 3, 4]
    assert len(dataset) == sum(len(r) for r in rows.values()) == 24
    paths = [dataset.image_path(i) for i in range(len(dataset))]
    expected = [str(set_dir(root) / s / "imageSequence" / f"img_{r + 1:06d}.jpg") for s in SEQUENCES for r in rows[s]]
    assert paths == expected
    assert dataset[0]["input"].shape == (3, 64, 64)


def test_crop_box_from_annot2(root):
    dataset = get_dataset(opts(root), "val")
    annot2 = read_mat(root, "TS5")["annot2"][:, 0]
    index = [dataset.image_path(i).endswith("TS5/imageSequence/img_000002.jpg") for i in range(len(dataset))].index(
        True
    )
    uv = annot2[1]  # row 1 (an outdoor frame: 320 x 180)
    item = dataset[index]
    np.testing.assert_allclose(item["center"], (uv.min(0) + uv.max(0)) / 2, rtol=1e-6)
    side = (uv.max(0) - uv.min(0)).max() * 1.2
    np.testing.assert_allclose(item["scale"], [side, side], rtol=1e-5)
    # the heatmap targets sit at the annotated joints (MPII order), within a map cell
    from hg3d.geometry import affine_transform, get_affine_transform

    trans = get_affine_transform(item["center"], item["scale"], 0, (16, 16))
    np.testing.assert_allclose(item["pts_crop"], affine_transform(uv[MPI3DHP_TO_MPII], trans), atol=1)


def independent_figures(errors):
    """PCK, AUC and MPJPE pooled over all joints of all given frames, with plain loops."""
    flat = [e for frame in errors for e in frame]
    pck = 100 * sum(e < 150 for e in flat) / len(flat)
    auc = 100 * np.mean([sum(e < t for e in flat) / len(flat) for t in range(0, 151, 5)])
    return pck, auc, sum(flat) / len(flat)


def test_metrics_and_pooling_against_an_independent_computation(root):
    dataset = get_dataset(opts(root, "--mpi_scale", "h36m"), "val")
    n = len(dataset)
    rng = np.random.default_rng(5)
    gt_mpii = mpii_from_3dhp(dataset.gt_3d)
    pred = gt_mpii / 900 + rng.normal(0, 0.08, gt_mpii.shape)  # near the truth: PCK neither 0 nor 100
    order = rng.permutation(n)  # predictions arrive in any order
    result = {"index": order, "pred_2d": np.zeros((n, 16, 2)), "pck_dist": np.zeros((n, 10)), "pred_3d": pred[order]}
    summary, arrays = score(dataset, result)
    # the ground truth, read here from the files: univ_annot3 minus the pelvis of the valid frames
    frames = []
    for s in SEQUENCES:
        mat = read_mat(root, s)
        for row in np.flatnonzero(mat["valid_frame"][:, 0] == 1):
            univ = mat["univ_annot3"][row, 0]
            frames.append((s, row + 1, int(mat["activity_annotation"][row, 0]), univ - univ[14]))
    frames = [frames[i] for i in order]
    np.testing.assert_allclose(arrays["gt_3d"], np.stack([f[3] for f in frames]), atol=1e-3)
    assert [s.decode() for s in arrays["sequence"]] == [f[0] for f in frames]
    assert arrays["frame"].tolist() == [f[1] for f in frames]
    assert arrays["activity"].tolist() == [f[2] for f in frames]
    errors = [
        [np.linalg.norm(arrays["pred_3d"][i][j].astype(np.float64) - frames[i][3][j]) for j in range(14)]
        for i in range(n)
    ]
    pck, auc, mpjpe = independent_figures(errors)
    assert 5 < pck < 95
    np.testing.assert_allclose([summary["pck"], summary["auc"], summary["mpjpe"]], [pck, auc, mpjpe], rtol=1e-5)
    groups = {
        "per_activity": [ACTIVITY_NAMES[f[2] - 1] for f in frames],
        "per_sequence": [f[0] for f in frames],
        "per_scene": [SCENE[f[0]] for f in frames],
    }
    for table, labels in groups.items():
        assert set(summary[table]) == set(labels), table
        for label in set(labels):
            members = [errors[i] for i in range(n) if labels[i] == label]
            got = summary[table][label]
            np.testing.assert_allclose(
                [got["pck"], got["auc"], got["mpjpe"]],
                independent_figures(members),
                rtol=1e-5,
                err_msg=f"{table} {label}",
            )
            assert got["num_samples"] == len(members)
    assert summary["num_samples"] == n and summary["scale"] == "h36m"


def test_ground_truth_as_prediction_through_the_dataset(root):
    dataset = get_dataset(opts(root, "--mpi_scale", "h36m"), "val")
    gt = with_midpoints(dataset.gt_3d)
    gt = gt - gt[:, 14:15]
    # the dataset's own ground truth, replaced by bone-sum 4000 poses whose midpoints are exact
    dataset.gt_3d = gt * (4000 / bone_sum(gt))[:, None, None]
    n = len(dataset)
    summary, _ = score(
        dataset,
        {
            "index": np.arange(n),
            "pred_2d": np.zeros((n, 16, 2)),
            "pck_dist": np.zeros((n, 10)),
            "pred_3d": mpii_from_3dhp(dataset.gt_3d) / 1000,
        },
    )
    assert summary["pck"] == pytest.approx(100) and summary["mpjpe"] == pytest.approx(0, abs=1e-6)
    assert summary["auc"] == pytest.approx(100 * 30 / 31)
    for table in ("per_activity", "per_sequence", "per_scene"):
        assert all(g["pck"] == pytest.approx(100) for g in summary[table].values())


def test_absent_sequences_are_reported_and_left_out(copy, capsys):
    shutil.rmtree(copy / "mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS3")
    shutil.rmtree(copy / "mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS6")
    dataset = get_dataset(opts(copy), "val")
    out = capsys.readouterr().out
    assert "MPI-INF-3DHP sequences TS3, TS6 are absent" in out and "evaluating TS1, TS2, TS4, TS5 only" in out
    assert dataset.sequences == ["TS1", "TS2", "TS4", "TS5"] and len(dataset) == 16
    for name in SEQUENCES:
        shutil.rmtree(copy / "mpi_inf_3dhp/mpi_inf_3dhp_test_set" / name, ignore_errors=True)
    with pytest.raises(
        UserError,
        match=r"no MPI-INF-3DHP test sequence \(TS1 ... TS6\) in .*test_set "
        r"\(if the zip unpacked into a nested",
    ):
        get_dataset(opts(copy), "val")


def test_missing_test_set_and_training_are_one_line_errors(tmp_path):
    with pytest.raises(
        UserError,
        match=r"MPI-INF-3DHP test set not found: expected "
        r".*mpi_inf_3dhp/mpi_inf_3dhp_test_set",
    ):
        get_dataset(opts(tmp_path), "val")
    with pytest.raises(UserError, match="mpi_inf_3dhp is a test set: add --test"):
        parse_opts(["--task", "human3d", "--dataset", "3dhp"], log=lambda _: None)
    with pytest.raises(UserError, match="--mpi_scale"):
        opts(tmp_path, "--mpi_scale", "metric")


def rewrite(path, **changes):
    """Rewrite an annot_data.mat with some variables replaced (None removes one)."""
    with h5py.File(path, "r") as handle:
        data = {name: np.asarray(handle[name]) for name in handle}
    data.update(changes)
    with h5py.File(path, "w") as handle:
        for name, array in data.items():
            if isinstance(array, str):
                handle.create_group(name)  # what a MATLAB struct becomes
            elif array is not None:
                handle[name] = array


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda p: p.unlink(), r"MPI-INF-3DHP annotation file .*TS2/annot_data.mat is missing"),
        (
            lambda p: p.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200)),
            r"cannot read MPI-INF-3DHP annotation file .*TS2/annot_data.mat \(expected MATLAB v7.3 / HDF5 with numeric",
        ),
        (lambda p: rewrite(p, valid_frame=None), r"TS2/annot_data.mat lacks valid_frame"),
        (lambda p: rewrite(p, annot2="group"), r"TS2/annot_data.mat: annot2 is not a numeric array"),
        (
            lambda p: rewrite(p, activity_annotation=np.full((5, 1), 9.0)),
            r"TS2/annot_data.mat: activity_annotation outside 1..7 in valid frames",
        ),
        (
            lambda p: rewrite(p, univ_annot3=np.zeros((5, 1, 16, 3))),
            r"TS2/annot_data.mat: univ_annot3 has shape \(5, 1, 16, 3\), expected \(5, 1, 17, 3\) for 5 frames",
        ),
        (
            lambda p: rewrite(p, annot2=np.zeros((4, 1, 17, 2))),
            r"TS2/annot_data.mat: annot2 has shape \(4, 1, 17, 2\), expected \(5, 1, 17, 2\)",
        ),
        (
            lambda p: (p.parent / "imageSequence/img_000001.jpg").unlink(),
            r"image .*TS2/imageSequence/img_000001.jpg \(MPI-INF-3DHP TS2 frame 1\) is missing",
        ),
    ],
)
def test_bad_files_are_one_line_errors(copy, damage, match):
    damage(copy / "mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS2/annot_data.mat")
    with pytest.raises(UserError, match=match):
        get_dataset(opts(copy), "val")


def test_image_of_an_invalid_frame_is_not_needed(copy):
    (copy / "mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS1/imageSequence/img_000001.jpg").unlink()  # row 0: invalid
    assert len(get_dataset(opts(copy), "val")) == 24


def test_bad_file_from_the_command_line(copy, capsys, resnet18_3d_checkpoint):
    (copy / "mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS4/annot_data.mat").write_text("not a mat file")
    code = commands.train(
        [*MPI3DHP_TEST, "--arch", "msra_18", "--load_model", resnet18_3d_checkpoint, *data_on_cpu(copy)]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "TS4/annot_data.mat" in err and "Traceback" not in err


def test_sample_data_layout(root):
    path = set_dir(root) / "TS1" / "annot_data.mat"
    head = path.read_bytes()[:128]
    assert head.startswith(b"MATLAB 7.3 MAT-file") and head[124:128] == b"\x00\x02IM"
    with h5py.File(path, "r") as handle:
        assert handle.userblock_size == 512 and handle["univ_annot3"].shape == (5, 1, 17, 3)
    import cv2

    sizes = {s: cv2.imread(str(set_dir(root) / s / "imageSequence/img_000001.jpg")).shape[:2] for s in SEQUENCES}
    assert sizes["TS1"] == sizes["TS4"] == (256, 256) and sizes["TS5"] == sizes["TS6"] == (180, 320)
    mat = read_mat(root, "TS1")
    univ, annot3 = mat["univ_annot3"][:, 0], mat["annot3"][:, 0]
    assert np.abs((univ - univ[:, 14:15]) - (annot3 - annot3[:, 14:15])).max() > 10  # they differ


@pytest.mark.parametrize("scale", ["gt_bones", "h36m"])
def test_main_test_end_to_end(root, resnet18_3d_checkpoint, tmp_path, capsys, scale):
    run(
        [*MPI3DHP_TEST, *TINY_CPU, "--load_model", resnet18_3d_checkpoint, "--data_dir", str(root)]
        + ["--exp_dir", str(tmp_path), "--exp_id", "t", "--mpi_scale", scale]
    )
    out = capsys.readouterr().out
    assert f"MPI-INF-3DHP test (6 sequences, univ_annot3, 14 joints, PCK at 150 mm, scale {scale})" in out
    for label in ("GS", "noGS", "Outdoor", "All", "Sitting", "TS6"):
        assert f"\n{label} " in out, label
    results = json.loads((tmp_path / "t" / "results.json").read_text())
    assert results["scale"] == scale and results["sequences"] == list(SEQUENCES)
    assert results["num_samples"] == 24 and results["dataset"] == "mpi_inf_3dhp"
    for key in ("pck", "auc", "mpjpe"):
        assert np.isfinite(results[key])
        for table in ("per_activity", "per_sequence", "per_scene"):
            assert all(key in figures and "num_samples" in figures for figures in results[table].values())
    assert set(results["per_scene"]) == {"GS", "noGS", "Outdoor"}
    assert set(results["per_activity"]) <= set(ACTIVITY_NAMES)
    with h5py.File(tmp_path / "t" / "preds.h5", "r") as handle:
        preds = {name: np.asarray(handle[name]) for name in handle}
    for name in ("pred_3d", "gt_3d"):
        assert preds[name].shape == (24, 17, 3)
        np.testing.assert_allclose(preds[name][:, 14], 0, atol=1e-3)
    assert preds["pred_2d"].shape == (24, 16, 2)
    # gt_3d: univ_annot3 minus the pelvis of the named frames
    for i in (0, 23):
        mat = read_mat(root, preds["sequence"][i].decode())
        univ = mat["univ_annot3"][preds["frame"][i] - 1, 0]
        np.testing.assert_allclose(preds["gt_3d"][i], univ - univ[14], atol=1e-3)
        assert preds["activity"][i] == mat["activity_annotation"][preds["frame"][i] - 1, 0]
    if scale == "h36m":
        np.testing.assert_allclose(bone_sum(preds["pred_3d"].astype(np.float64)), 4000, rtol=1e-4)
    else:
        paper_sum = [paper_bone_sum(mpii_from_3dhp(preds[name].astype(np.float64))) for name in ("pred_3d", "gt_3d")]
        np.testing.assert_allclose(*paper_sum, rtol=1e-4)
    assert preds["pred_3d_mpii"].shape == (24, 16, 3)


def test_sample_data_is_deterministic(tmp_path):
    import filecmp

    for out in ("a", "b"):
        write_mpi_inf_3dhp(str(tmp_path / out), np.random.default_rng(7), frames=2)
    for name in ("TS1/annot_data.mat", "TS6/annot_data.mat", "TS5/imageSequence/img_000002.jpg"):
        assert filecmp.cmp(
            tmp_path / "a/mpi_inf_3dhp_test_set" / name, tmp_path / "b/mpi_inf_3dhp_test_set" / name, shallow=False
        ), name
