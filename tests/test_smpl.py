"""The SMPL body model and the literature's 3DPW 14-joint protocol (hg3d.smpl).

A synthetic but well-formed SMPL model (6890 vertices, 24 joints, 10 shape and 207 pose blend
shapes, a sparse joint regressor, skinning weights, SMPL's kinematic tree) is written in the
official files' pickle form, once with chumpy objects and the SciPy module names of Python 2 days.
The reference mesh is this file's own NumPy linear blend skinning, written from the SMPL paper's
equations, not smplx's.
"""

import contextlib
import json
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
from scipy.spatial.transform import Rotation

import hg3d.evaluate
import hg3d.train
from figures import assert_every_figure_has_its_protocol
from helpers import TINY_CPU
from hg3d import smpl
from hg3d.datasets import get_dataset
from hg3d.errors import UserError
from hg3d.metrics.threedpw import pelvis_relative_j14, pose_errors
from hg3d.options import parse_opts
from hg3d.tools.sample_data import write_3dpw

V, J = 6890, 24
# SMPL's kinematic tree: the parent of each joint (the official files store the root's as 2**32 - 1)
PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]  # as the papers list it


def synthetic_model(rng, height=1.0):
    """The fields of an official SMPL model file, with random but plausible values."""
    v_template = rng.normal(0, 0.25, (V, 3)) * [0.5, height, 0.3]
    regressor = np.zeros((J, V))
    for joint in range(J):  # each joint: a weighted mean of 12 vertices
        regressor[joint, rng.choice(V, 12, replace=False)] = rng.dirichlet(np.ones(12))
    weights = np.zeros((V, J))
    for vertex in range(V):  # each vertex skinned to 3 joints
        weights[vertex, rng.choice(J, 3, replace=False)] = rng.dirichlet(np.ones(3))
    return {
        "v_template": v_template,
        "shapedirs": rng.normal(0, 0.02, (V, 3, 10)),
        "posedirs": rng.normal(0, 0.01, (V, 3, 9 * (J - 1))),
        "J_regressor": scipy.sparse.csc_matrix(regressor),
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1] + PARENTS[1:], list(range(J))], np.int64),
        "f": rng.integers(0, V, (13776, 3)).astype(np.uint32),
        "J": regressor @ v_template,
        "bs_type": "lrotmin",
        "bs_style": "lbs",
    }


@contextlib.contextmanager
def fake_chumpy():
    """A module ``chumpy.ch`` with a class ``Ch`` that pickles as chumpy's does (its dict, the
    array in ``x``), and ``chumpy.reordering.Select``; gone again afterwards."""
    chumpy, ch, reordering = (types.ModuleType(n) for n in ("chumpy", "chumpy.ch", "chumpy.reordering"))

    class Ch:
        def __init__(self, x):
            self.x, self._dirty_vars, self._itr, self._depends_on_deps = x, set(), None, {}

    class Select(Ch):
        pass

    for cls, module in ((Ch, ch), (Select, reordering)):
        cls.__module__, cls.__qualname__ = module.__name__, cls.__name__
        setattr(module, cls.__name__, cls)
    modules = {"chumpy": chumpy, "chumpy.ch": ch, "chumpy.reordering": reordering}
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield ch.Ch, reordering.Select
    finally:
        for name, module in saved.items():
            sys.modules.pop(name) if module is None else sys.modules.__setitem__(name, module)


def official_pickle(model, chumpy_keys=(), protocol=2, old_scipy_names=False):
    """``model`` pickled as the official files are: chosen arrays wrapped in chumpy ``Ch``; SciPy's
    module named ``scipy.sparse.csc`` (its name before SciPy 1.8) when asked."""
    with fake_chumpy() as (ch, _):
        data = {key: ch(value) if key in chumpy_keys else value for key, value in model.items()}
        raw = pickle.dumps(data, protocol=protocol)
    assert b"chumpy.ch" in raw or not chumpy_keys
    return raw.replace(b"scipy.sparse._csc\n", b"scipy.sparse.csc\n") if old_scipy_names else raw


def numpy_lbs(model, pose, betas):
    """SMPL's mesh (Loper et al. 2015, eqs. 1-10), one pose (72,) and shape (10,), in plain NumPy."""
    v_shaped = model["v_template"] + model["shapedirs"] @ betas
    joints = model["J_regressor"].toarray() @ v_shaped
    rotations = Rotation.from_rotvec(pose.reshape(J, 3)).as_matrix()
    v_posed = v_shaped + model["posedirs"] @ (rotations[1:] - np.eye(3)).ravel()
    world = np.zeros((J, 4, 4))
    for k in range(J):
        local = np.eye(4)
        local[:3, :3] = rotations[k]
        local[:3, 3] = joints[k] - (joints[PARENTS[k]] if k else 0)
        world[k] = world[PARENTS[k]] @ local if k else local
    skinning = world.copy()
    skinning[:, :3, 3] -= np.einsum("kij,kj->ki", world[:, :3, :3], joints)  # rest joints to the origin
    per_vertex = np.einsum("vk,kij->vij", model["weights"], skinning)
    return np.einsum("vij,vj->vi", per_vertex[:, :3, :3], v_posed) + per_vertex[:, :3, 3]


def random_poses(rng, n):
    poses = rng.normal(0, 0.3, (n, 72))
    poses[:, :3] = Rotation.random(n, random_state=rng.integers(1 << 30)).as_rotvec()
    return poses


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """SMPL_MALE.pkl under ``<dir>/smpl`` (chumpy arrays, old SciPy names), SMPL_FEMALE.pkl directly
    in ``<dir>`` (plain arrays): the two layouts smplx reads. Also the H36M regressor."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("smpl")
    (root / "smpl").mkdir()
    male, female = synthetic_model(rng, height=1.1), synthetic_model(rng, height=0.9)
    (root / "smpl" / "SMPL_MALE.pkl").write_bytes(
        official_pickle(male, chumpy_keys=("shapedirs", "v_template"), old_scipy_names=True)
    )
    (root / "SMPL_FEMALE.pkl").write_bytes(official_pickle(female))
    regressor = np.zeros((17, V))
    for joint in range(17):
        regressor[joint, rng.choice(V, 8, replace=False)] = rng.dirichlet(np.ones(8))
    np.save(root / "J_regressor_h36m.npy", regressor)
    return {
        "dir": str(root),
        "male": male,
        "female": female,
        "regressor": regressor,
        "regressor_path": str(root / "J_regressor_h36m.npy"),
    }


def reference_h36m(models, poses, betas, genders, cam_rotations):
    """The protocol's joints by hand: the world-frame mesh, then the camera rotation applied to the
    whole mesh (not to the global orientation), regressed to H36M-17, in mm."""
    out = []
    for pose, shape, gender, rotation in zip(poses, betas, genders, cam_rotations):
        vertices = numpy_lbs(models[gender], pose, shape[:10]) @ rotation.T
        out.append(models["regressor"] @ vertices * 1000)
    return np.array(out)


def reference_j14(models, *params):
    """``reference_h36m`` minus the pelvis, the 14 joints."""
    h36m = reference_h36m(models, *params)
    return h36m[:, J14] - h36m[:, :1]


@pytest.mark.parametrize("protocol", [0, 2])
def test_chumpy_objects_and_sparse_matrices_become_arrays(tmp_path, protocol):
    array, sparse = np.arange(12.0).reshape(4, 3), scipy.sparse.random(5, 7, density=0.3, format="csc", random_state=0)
    path = tmp_path / "model.pkl"
    path.write_bytes(
        official_pickle({"a": array, "s": sparse, "t": "lbs"}, ("a",), protocol=protocol, old_scipy_names=True)
    )
    assert b"chumpy.ch" in path.read_bytes() and "chumpy" not in sys.modules  # chumpy is never needed
    loaded = smpl.read_model_pickle(str(path))
    assert isinstance(loaded["a"], np.ndarray) and isinstance(loaded["s"], np.ndarray) and loaded["t"] == "lbs"
    np.testing.assert_array_equal(loaded["a"], array)
    np.testing.assert_array_equal(loaded["s"], sparse.toarray())


def test_other_chumpy_objects_and_code_are_refused_with_how_to_convert(tmp_path):
    path = tmp_path / "model.pkl"
    with fake_chumpy() as (ch, select):
        path.write_bytes(pickle.dumps({"shapedirs": select(np.zeros(3))}, protocol=2))
        empty = ch(None)
        del empty.x
        (tmp_path / "empty.pkl").write_bytes(pickle.dumps({"shapedirs": empty}, protocol=2))
    with pytest.raises(UserError, match=r"model.pkl: it holds a chumpy Select, not an array: convert it"):
        smpl.read_model_pickle(str(path))
    with pytest.raises(UserError, match=r"empty.pkl: a chumpy object holds no array \(convert it"):
        smpl.read_model_pickle(str(tmp_path / "empty.pkl"))

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path.write_bytes(pickle.dumps({"f": Evil()}, protocol=2))
    with pytest.raises(UserError, match=r"it refers to __builtin__.print, which a data file never needs"):
        smpl.read_model_pickle(str(path))


def test_zero_pose_mesh_is_template_plus_shape_and_posed_mesh_is_lbs(models):
    model = smpl.load_smpl(models["dir"], "female")
    rng = np.random.default_rng(1)
    betas, poses = rng.normal(0, 1, (3, 10)), random_poses(rng, 3)
    female = models["female"]
    zero = smpl.smpl_vertices(model, np.zeros((3, 72)), betas)
    np.testing.assert_allclose(
        zero, female["v_template"] + np.einsum("vcb,nb->nvc", female["shapedirs"], betas), atol=2e-6
    )
    posed = smpl.smpl_vertices(model, poses, betas)
    for k in range(3):
        np.testing.assert_allclose(posed[k], numpy_lbs(female, poses[k], betas[k]), atol=2e-6)
    assert np.abs(posed - zero).max() > 0.1  # the poses do move the mesh


def test_ground_truth_matches_the_protocol_computed_by_hand(models, monkeypatch):
    rng = np.random.default_rng(2)
    n = 7
    poses, betas = random_poses(rng, n), rng.normal(0, 1, (n, 10))
    genders = np.array(["male", "female", "male", "female", "female", "male", "male"])
    cam_rotations = Rotation.random(n, random_state=3).as_matrix()
    monkeypatch.setattr(smpl, "FORWARD_BATCH", 2)  # several batches per gender
    got = smpl.ground_truth_j14(models["dir"], models["regressor_path"], poses, betas, genders, cam_rotations)
    assert got.shape == (n, 14, 3)
    np.testing.assert_allclose(got, reference_j14(models, poses, betas, genders, cam_rotations), atol=5e-3)


def test_mpjpe_14_and_pa_mpjpe_14_by_hand():
    rng = np.random.default_rng(4)
    gt = rng.normal(0, 300, (5, 14, 3))
    shifted = gt + [3.0, 4.0, 0.0]  # every joint 5 mm off
    np.testing.assert_allclose(pose_errors(shifted, gt)[0], 5.0)
    similar = 1.3 * gt @ Rotation.from_rotvec([0.2, -0.4, 0.1]).as_matrix().T + 40.0
    mpjpe, pa_mpjpe = pose_errors(similar, gt)
    assert mpjpe.min() > 10
    np.testing.assert_allclose(pa_mpjpe, 0.0, atol=1e-9)


def opts(data_dir, *extra):
    return parse_opts(
        ["--task", "human3d", "--dataset", "3dpw", "--data_dir", str(data_dir), "--gpus", "-1", *extra],
        log=lambda _: None,
    )


@pytest.fixture(scope="module")
def pw3d(tmp_path_factory):
    """3DPW sample data (a test sequence: two people, 5 frames; a validation sequence: one person,
    12 frames; one invalid frame per person) with random SMPL parameters: poses, shapes of 10 betas
    (stored with 300, as some files do), genders, and a camera that also turns from frame to frame."""
    root = tmp_path_factory.mktemp("pw3d")
    write_3dpw(
        str(root / "3dpw"), np.random.default_rng(0), sequences=(("test", 2, 5), ("validation", 1, 12)), size=(64, 48)
    )
    rng = np.random.default_rng(5)
    sequences = {}
    for path in sorted((root / "3dpw/sequenceFiles").glob("*/*.pkl")):
        data = pickle.loads(path.read_bytes())
        people, frames = len(data["poses"]), len(data["img_frame_ids"])
        turns = Rotation.from_rotvec(rng.normal(0, 0.2, (frames, 3))).as_matrix()
        data["cam_poses"][:, :3, :3] = turns @ data["cam_poses"][:, :3, :3]
        data.update(
            poses=[random_poses(rng, frames) for _ in range(people)],
            betas=[np.r_[rng.normal(0, 1, 10), np.zeros(290)] for _ in range(people)],
            genders=["m", "f"][:people],
        )
        path.write_bytes(pickle.dumps(data, protocol=2))
        sequences[data["sequence"]] = data
    return root, sequences


@pytest.mark.parametrize("flags, count", [(["--test"], 8), ([], 2)])  # validation: every 10th of 11
def test_the_3dpw_loader_keeps_smpl_parameters_per_valid_person_frame(pw3d, flags, count):
    root, sequences = pw3d
    dataset = get_dataset(opts(root, *flags), "val")
    assert len(dataset) == count == len(dataset.smpl_poses) == len(dataset.smpl_genders)
    for i, (person, frame) in enumerate(zip(dataset.sample_person, dataset.sample_frame)):
        data = sequences[dataset.sequences[dataset.sample_sequence[i]]]
        np.testing.assert_allclose(dataset.smpl_poses[i], data["poses"][person][frame], rtol=1e-6)
        np.testing.assert_allclose(dataset.smpl_betas[i], data["betas"][person][:10], rtol=1e-6)
        np.testing.assert_allclose(dataset.cam_rotations[i], data["cam_poses"][frame][:3, :3], rtol=1e-6)
        assert dataset.smpl_genders[i] == ("male", "female")[person]


def test_perfect_labels_score_zero_and_match_the_hand_computation(pw3d, models):
    root, _ = pw3d
    dataset = get_dataset(opts(root, "--test"), "val")
    params = (dataset.smpl_poses, dataset.smpl_betas, dataset.smpl_genders, dataset.cam_rotations)
    gt_j14 = smpl.ground_truth_j14(models["dir"], models["regressor_path"], *params)
    np.testing.assert_allclose(gt_j14, reference_j14(models, *params), atol=5e-3)
    # the prediction: H36M-17 in mm anywhere in the camera frame (here the regressed joints, moved)
    pred_h36m = smpl.ground_truth_h36m(models["dir"], models["regressor_path"], *params) + [100.0, -50.0, 4000.0]
    mpjpe, pa_mpjpe = pose_errors(pelvis_relative_j14(pred_h36m), gt_j14)
    assert mpjpe.max() < 1e-6 and pa_mpjpe.max() < 1e-6
    assert pose_errors(pelvis_relative_j14(dataset.joints_cam), gt_j14)[0].min() > 1  # not the jointPositions


def test_bad_model_files_and_regressors_are_named(models, tmp_path):
    with pytest.raises(UserError, match=r"--smpl_dir .*: no SMPL_NEUTRAL.pkl in .*smpl/SMPL_NEUTRAL.pkl or"):
        smpl.load_smpl(models["dir"], "neutral")
    (tmp_path / "SMPL_MALE.pkl").write_bytes(pickle.dumps({"v_template": np.zeros((V, 3))}, protocol=2))
    with pytest.raises(UserError, match=r"SMPL_MALE.pkl is not an SMPL model file: it lacks shapedirs, posedirs"):
        smpl.load_smpl(str(tmp_path), "male")
    small = dict(models["male"], weights=np.zeros((V, 16)))
    (tmp_path / "SMPL_MALE.pkl").write_bytes(official_pickle(small))
    with pytest.raises(UserError, match=r"weights has shape \(6890, 16\), expected \(6890, 24\)"):
        smpl.load_smpl(str(tmp_path), "male")
    np.save(tmp_path / "r.npy", np.zeros((6890, 17)))
    with pytest.raises(UserError, match=r"--j_regressor_h36m .*r.npy: an array of shape \(6890, 17\), expected"):
        smpl.load_j_regressor_h36m(str(tmp_path / "r.npy"))
    with pytest.raises(UserError, match=r"--j_regressor_h36m .*none.npy does not exist"):
        smpl.load_j_regressor_h36m(str(tmp_path / "none.npy"))
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(UserError, match=r"--j_regressor_h36m .*text.npy: cannot read it as a .npy array"):
        smpl.load_j_regressor_h36m(str(tmp_path / "text.npy"))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("betas"), r"it lacks betas"),
        (lambda d: d["genders"].__setitem__(1, "x"), r"person 1 has gender 'x', expected 'm' or 'f'"),
        (lambda d: d["poses"].__setitem__(0, d["poses"][0][:, :69]), r"person 0 has poses \(5, 69\)"),
        (lambda d: d["betas"].__setitem__(1, np.zeros(8)), r"person 1 has poses \(5, 72\) and betas \(8,\)"),
        (lambda d: d["genders"].pop(), r"2 people in campose_valid but 2 poses, 2 betas, 1 genders"),
        (lambda d: d["poses"][1].__setitem__((2, 5), np.nan), r"person 1 poses or betas hold a number that is not"),
    ],
)
def test_bad_smpl_parameters_in_3dpw_files_are_named(pw3d, tmp_path, change, message):
    _, sequences = pw3d
    broken = pickle.loads(pickle.dumps(sequences["synthetic_test_00"]))
    change(broken)
    folder = tmp_path / "3dpw/sequenceFiles/test"
    folder.mkdir(parents=True)
    (folder / "seq.pkl").write_bytes(pickle.dumps(broken, protocol=2))
    with pytest.raises(UserError, match=message):
        get_dataset(opts(tmp_path, "--test"), "val")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_ground_truth_on_a_gpu_matches_the_cpu(models):
    rng = np.random.default_rng(6)
    params = (random_poses(rng, 5), rng.normal(0, 1, (5, 10)), np.array(["male"] * 5), np.tile(np.eye(3), (5, 1, 1)))
    cpu = smpl.ground_truth_j14(models["dir"], models["regressor_path"], *params)
    gpu = smpl.ground_truth_j14(models["dir"], models["regressor_path"], *params, device="cuda")
    np.testing.assert_allclose(gpu, cpu, atol=1e-2)


def test_main_test_scores_the_14_joint_protocol_on_the_regressed_ground_truth(
    pw3d, models, resnet18_3d_checkpoint, tmp_path, monkeypatch, capsys
):
    """--test with --smpl_dir: a predictor that returns the regressed ground truth (computed here
    by hand, in MPII-16 order, crop units) gives PA-MPJPE-14 ~ 0; MPJPE-14 is exactly the error of
    the 4000 mm bone-sum rule, which fixes the prediction's size."""
    import h5py

    from hg3d.joints import H36M_BONES, H36M_TO_MPII

    root, _ = pw3d
    dataset = get_dataset(opts(root, "--test"), "val")
    truth = reference_h36m(models, dataset.smpl_poses, dataset.smpl_betas, dataset.smpl_genders, dataset.cam_rotations)
    truth -= truth[:, :1]

    def oracle(loader):
        index = np.concatenate([batch["index"].numpy() for batch in loader])
        n = len(index)
        pred_3d = truth[index][:, H36M_TO_MPII] / 1000.0
        zeros = {"pred_2d": np.zeros((n, 16, 2)), "pck_dist": np.zeros((n, 10)), "loss": {}}
        return {"index": index, "pred_3d": pred_3d, **zeros}

    monkeypatch.setattr(hg3d.evaluate, "test_predictor", lambda opt, model: oracle)
    args = ["--task", "human3d", "--dataset", "3dpw", "--test", "--load_model", resnet18_3d_checkpoint, *TINY_CPU]
    args += ["--data_dir", str(root), "--exp_dir", str(tmp_path), "--exp_id", "pw14"]
    hg3d.train.run([*args, "--smpl_dir", models["dir"], "--j_regressor_h36m", models["regressor_path"]])
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "pw14/results.json").read_text())
    with h5py.File(tmp_path / "pw14/preds.h5") as f:
        pred, gt, pred_h36m = f["pred_3d_14"][:], f["gt_3d_14"][:], f["pred_3d"][:]
        mpjpe_14, pa_mpjpe_14, sequence = f["mpjpe_14"][:], f["pa_mpjpe_14"][:], f["sequence"][:]
    np.testing.assert_allclose(gt, reference_j14(models, *params_of(dataset)), atol=5e-3)
    assert results["pa_mpjpe_14"] < 1e-3 and pa_mpjpe_14.max() < 1e-3
    # the prediction is the ground truth's shape at the size the 4000 mm rule gives it
    size = np.einsum("njc,njc->n", pred, gt) / np.einsum("njc,njc->n", gt, gt)
    np.testing.assert_allclose(pred, size[:, None, None] * gt, atol=1e-2)
    a, b = np.array(H36M_BONES).T
    np.testing.assert_allclose(np.linalg.norm(pred_h36m[:, a] - pred_h36m[:, b], axis=-1).sum(-1), 4000, rtol=1e-5)
    expected = np.abs(size - 1) * np.linalg.norm(gt, axis=-1).mean(-1)
    np.testing.assert_allclose(mpjpe_14, expected, rtol=1e-4, atol=1e-3)
    assert results["mpjpe_14"] == pytest.approx(expected.mean(), rel=1e-4)
    for name in set(sequence.astype(str)):
        chosen = sequence.astype(str) == name
        assert results["per_sequence"][name]["mpjpe_14"] == pytest.approx(mpjpe_14[chosen].mean(), rel=1e-5)
    assert_every_figure_has_its_protocol(results)
    assert results["protocols"]["pa_mpjpe_14"]["protocol"] == "3dpw_pa_mpjpe_14"
    assert results["protocols"]["mpjpe_14"]["scale"] == "bone_sum_4000" and "note" not in results
    assert "need --smpl_dir" not in out and f"pa_mpjpe_14           PA-MPJPE {results['pa_mpjpe_14']:.2f} mm" in out


def params_of(dataset):
    return dataset.smpl_poses, dataset.smpl_betas, dataset.smpl_genders, dataset.cam_rotations


def test_the_14_joint_figures_are_zero_for_the_ground_truth_in_mm():
    """At the benchmark: a prediction whose H36M-17 in mm (the 4000 mm rule) is the ground truth
    scores 0 on the 14 joints, taken here by hand in the papers' order."""
    from hg3d.joints import H36M_TO_MPII
    from hg3d.metrics.threedpw import score
    from hg3d.skeleton import mpii_to_h36m

    rng = np.random.default_rng(7)
    poses = mpii_to_h36m(rng.normal(0, 0.3, (5, 16, 3)))  # H36M-17 in mm, bones summing to 4000
    truth = poses - poses[:, :1] + [100.0, 0.0, 5000.0]  # anywhere: the figure is pelvis-relative
    labels = {
        "gt_3d": truth - truth[:, :1],
        "gt_3d_14": truth[:, J14] - truth[:, :1],
        "sequence": np.array(["a", "a", "b", "b", "b"]),
        "person": np.zeros(5, int),
        "frame": np.arange(5),
        "split": "test",
    }
    predictions = {"index": np.arange(5), "pred_2d": np.zeros((5, 16, 2)), "pck_dist": np.zeros((5, 10))}
    predictions["pred_3d"] = (truth - truth[:, :1])[:, H36M_TO_MPII] / 777.0
    summary, arrays = score(predictions, labels)
    assert summary["mpjpe_14"] < 1e-4 and summary["pa_mpjpe_14"] < 1e-4 and "note" not in summary  # float32
    assert summary["per_sequence"]["b"]["mpjpe_14"] < 1e-4 and arrays["gt_3d_14"].shape == (5, 14, 3)
    labels["gt_3d_14"] = labels["gt_3d_14"][:, ::-1]  # the same joints in another order: no longer 0
    assert score(predictions, labels)[0]["mpjpe_14"] > 10


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--smpl_dir", "x"], r"needs both --smpl_dir and --j_regressor_h36m"),
        (["--j_regressor_h36m", "x"], r"needs both --smpl_dir and --j_regressor_h36m"),
        (["--smpl_dir", "x", "--j_regressor_h36m", "y", "--dataset", "h36m"], r"--dataset h36m does not use it"),
    ],
)
def test_protocol_flags_are_checked_together(flags, message):
    with pytest.raises(UserError, match=message):
        opts("unused", *flags)


def test_protocol_files_are_checked_when_the_dataset_opens(pw3d, models, tmp_path):
    """Before any prediction: a missing gendered model, a bad regressor, each a one-line error."""
    root, _ = pw3d
    (tmp_path / "smpl").mkdir()
    male = tmp_path / "smpl" / "SMPL_MALE.pkl"
    male.symlink_to(f"{models['dir']}/smpl/SMPL_MALE.pkl")
    with pytest.raises(UserError, match=r"--smpl_dir .*: no SMPL_FEMALE.pkl in"):
        get_dataset(
            opts(root, "--test", "--smpl_dir", str(tmp_path), "--j_regressor_h36m", models["regressor_path"]), "val"
        )
    np.save(tmp_path / "r.npy", np.zeros((17, 100)))
    with pytest.raises(UserError, match=r"--j_regressor_h36m .*r.npy: an array of shape \(17, 100\)"):
        get_dataset(
            opts(root, "--test", "--smpl_dir", models["dir"], "--j_regressor_h36m", str(tmp_path / "r.npy")), "val"
        )
    dataset = get_dataset(
        opts(root, "--smpl_dir", models["dir"], "--j_regressor_h36m", models["regressor_path"]), "val"
    )
    assert dataset.gt_3d_14 is None  # checked, not yet computed: the ground truth waits for labels()
