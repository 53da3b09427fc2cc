"""The SMPL body model (Loper et al., SIGGRAPH Asia 2015) for the literature's 3DPW protocol.

Papers since SPIN (Kolotouros et al., ICCV 2019) score 3DPW on 14 joints regressed from the SMPL
mesh: the gendered mesh of each person-frame, its global orientation turned into the camera frame,
regressed to Human3.6M's 17 joints with a 17 x 6890 matrix (SPIN's ``J_regressor_h36m.npy``),
minus the pelvis, the 14 joints ``H36M_TO_J14``, in millimetres. The prediction is hg3d's H36M-17
with the same pelvis and the same 14 joints; ``hg3d.metrics.threedpw`` scores the two.

The model files are read as ``smplx`` reads them (``DIR/smpl/SMPL_MALE.pkl`` or ``DIR/SMPL_MALE.pkl``,
likewise NEUTRAL and FEMALE), but through a restricted unpickler: the official SMPL 1.0 pickles
hold chumpy objects and SciPy sparse matrices, which become plain NumPy arrays here, so neither
chumpy nor arbitrary code from the file is ever loaded. ``smplx`` poses the mesh (linear blend
skinning, batched over frames). Users download SMPL and the regressor themselves, under their
licences (docs/protocols_3dpw.md).
"""

import contextlib
import io
import os
import pickle

import numpy as np

from .errors import UserError
from .metrics.threedpw import pelvis_relative_j14
from .safe_pickle import RestrictedUnpickler, load_pickle

NUM_VERTICES = 6890
NUM_SMPL_JOINTS = 24
NUM_BETAS = 10  # the shape components 3DPW's betas and the SMPL 1.0 files have
GENDERS = ("neutral", "male", "female")
# Frames per SMPL forward pass: bounds memory (the skinning transforms are frames x 6890 x 4 x 4).
FORWARD_BATCH = 256
MODEL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
CONVERT_HINT = "convert it to plain arrays once where chumpy is installed (see docs/protocols_3dpw.md)"


class _ArrayStandIn:
    """Takes the place of an object the file wraps an array in; ``array`` is that array."""

    array = None


class _ChumpyArray(_ArrayStandIn):
    """chumpy.ch.Ch: a plain Ch keeps its value in the state's ``x``."""

    def __setstate__(self, state):
        if "x" not in state:
            raise pickle.UnpicklingError(f"a chumpy object holds no array ({CONVERT_HINT})")
        self.array = np.asarray(state["x"], np.float64)


class _SparseMatrix(_ArrayStandIn):
    """A SciPy CSC or CSR matrix, made dense (the state holds data, indices, indptr and the shape)."""

    constructor = "csc_matrix"

    def __setstate__(self, state):
        import scipy.sparse

        shape = state.get("_shape", state.get("shape"))
        build = getattr(scipy.sparse, self.constructor)
        self.array = build((state["data"], state["indices"], state["indptr"]), shape=shape).toarray()


class _CsrMatrix(_SparseMatrix):
    constructor = "csr_matrix"


def _reconstructor(cls, base, state):
    """copy_reg._reconstructor of protocol-0/1 pickles, for the stand-ins only."""
    if not (isinstance(cls, type) and issubclass(cls, _ArrayStandIn)) or base is not object or state is not None:
        raise pickle.UnpicklingError(f"it rebuilds {cls!r} from {base!r}, which a model file never needs")
    return object.__new__(cls)


_MODEL_GLOBALS = {
    ("chumpy.ch", "Ch"): _ChumpyArray,
    **{(f"scipy.sparse.{m}", "csc_matrix"): _SparseMatrix for m in ("csc", "_csc")},
    **{(f"scipy.sparse.{m}", "csr_matrix"): _CsrMatrix for m in ("csr", "_csr")},
    **{(m, "_reconstructor"): _reconstructor for m in ("copy_reg", "copyreg")},
    **{(m, "object"): object for m in ("__builtin__", "builtins")},
}


class _ModelUnpickler(RestrictedUnpickler):
    def find_class(self, module, name):
        if (module, name) in _MODEL_GLOBALS:
            return _MODEL_GLOBALS[module, name]
        if module.split(".")[0] == "chumpy":
            raise pickle.UnpicklingError(f"it holds a chumpy {name}, not an array: {CONVERT_HINT}")
        return super().find_class(module, name)


def read_model_pickle(path):
    """An SMPL model pickle as a dict of plain values (chumpy and sparse matrices made arrays)."""
    data = load_pickle(path, "SMPL model file", unpickler=_ModelUnpickler)
    if not isinstance(data, dict):
        raise UserError(f"{path} is not an SMPL model file (expected a dict)")
    return {key: value.array if isinstance(value, _ArrayStandIn) else value for key, value in data.items()}


def model_path(smpl_dir, gender):
    """``smpl_dir/smpl/SMPL_<GENDER>.pkl`` or ``smpl_dir/SMPL_<GENDER>.pkl``, as smplx looks for them."""
    name = f"SMPL_{gender.upper()}.pkl"
    candidates = [os.path.join(smpl_dir, "smpl", name), os.path.join(smpl_dir, name)]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise UserError(
        f"--smpl_dir {smpl_dir}: no {name} in {candidates[0]} or {candidates[1]} (download SMPL from "
        f"https://smpl.is.tue.mpg.de under its licence and name the {gender} model {name}; "
        "see docs/protocols_3dpw.md)"
    )


def _check_model(path, data):
    """One-line errors for a file that is not an SMPL model of 6890 vertices and 24 joints."""
    missing = [key for key in MODEL_KEYS if key not in data]
    if missing:
        raise UserError(f"{path} is not an SMPL model file: it lacks {', '.join(missing)}")
    v, j = NUM_VERTICES, NUM_SMPL_JOINTS
    expected = {
        "v_template": (v, 3),
        "shapedirs": (v, 3, None),
        "posedirs": (v, 3, 9 * (j - 1)),
        "J_regressor": (j, v),
        "weights": (v, j),
        "kintree_table": (2, j),
        "f": (None, 3),
    }
    for key, shape in expected.items():
        try:
            actual = np.asarray(data[key], np.float64).shape
        except (TypeError, ValueError):
            raise UserError(f"{path}: {key} is not an array of numbers; not an SMPL model file") from None
        if len(actual) != len(shape) or any(e is not None and e != a for e, a in zip(shape, actual)):
            wanted = "(" + ", ".join("any" if e is None else str(e) for e in shape) + ")"
            raise UserError(f"{path}: {key} has shape {actual}, expected {wanted}; not an SMPL model file")
    if np.asarray(data["shapedirs"]).shape[2] < NUM_BETAS:
        raise UserError(f"{path}: shapedirs has fewer than {NUM_BETAS} shape components")


def read_model(smpl_dir, gender):
    """(path, checked fields) of the SMPL model file of one gender (``neutral``, ``male``, ``female``)."""
    if gender not in GENDERS:
        raise ValueError(f"gender {gender!r} is not one of {GENDERS}")
    path = model_path(smpl_dir, gender)
    data = read_model_pickle(path)
    _check_model(path, data)
    return path, data


def import_smplx():
    try:
        import smplx
    except ImportError:
        raise UserError("the 3DPW 14-joint protocol needs smplx: pip install 'hg3d[smpl]'") from None
    return smplx


def load_smpl(smpl_dir, gender):
    """The smplx SMPL body model of one gender (``neutral``, ``male``, ``female``) from ``smpl_dir``."""
    path, data = read_model(smpl_dir, gender)
    smplx = import_smplx()
    arrays = {key: np.asarray(data[key]) for key in MODEL_KEYS}
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a note for 10-component models
        return smplx.SMPL(
            path,
            data_struct=smplx.utils.Struct(**arrays),
            gender=gender,
            num_betas=NUM_BETAS,
            create_betas=False,
            create_global_orient=False,
            create_body_pose=False,
            create_transl=False,
        )


def load_j_regressor_h36m(path):
    """The 17 x 6890 matrix (SPIN's ``J_regressor_h36m.npy``) that regresses H36M-17 from a mesh."""
    try:
        regressor = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(
            f"--j_regressor_h36m {path} does not exist (SPIN's J_regressor_h36m.npy; see docs/protocols_3dpw.md)"
        ) from None
    except (OSError, ValueError) as exc:
        raise UserError(f"--j_regressor_h36m {path}: cannot read it as a .npy array ({exc})") from None
    if regressor.shape != (17, NUM_VERTICES):
        raise UserError(
            f"--j_regressor_h36m {path}: an array of shape {regressor.shape}, expected (17, {NUM_VERTICES}) "
            "(SPIN's J_regressor_h36m.npy)"
        )
    if not np.issubdtype(regressor.dtype, np.number) or not np.isfinite(regressor).all():
        raise UserError(f"--j_regressor_h36m {path}: it holds values that are not finite numbers")
    return regressor.astype(np.float64)


def check_protocol_files(smpl_dir, j_regressor_path, genders):
    """Before any prediction: one-line errors unless ``smpl_dir`` holds a valid model of each of
    ``genders``, ``j_regressor_path`` is the 17 x 6890 regressor and smplx is installed."""
    load_j_regressor_h36m(j_regressor_path)
    for gender in genders:
        read_model(smpl_dir, str(gender))
    import_smplx()


def orient_in_camera(poses, cam_rotations):
    """SMPL poses (N, 72) in world coordinates -> the same poses with the global orientation (the
    first 3 values, axis-angle) turned by the world-to-camera rotations (N, 3, 3)."""
    from scipy.spatial.transform import Rotation

    poses = np.array(poses, np.float64)
    world = Rotation.from_rotvec(poses[:, :3]).as_matrix()
    poses[:, :3] = Rotation.from_matrix(np.asarray(cam_rotations, np.float64) @ world).as_rotvec()
    return poses


def smpl_vertices(model, poses, betas, device="cpu"):
    """Posed meshes (N, 6890, 3), metres, from axis-angle poses (N, 72) and shapes (N, >= 10),
    computed on ``device`` (a torch device: about 5 ms a frame on one CPU core, far less on a GPU)."""
    import torch

    model = model.to(device)
    poses = torch.as_tensor(np.asarray(poses), dtype=torch.float32, device=device)
    betas = torch.as_tensor(np.asarray(betas)[:, :NUM_BETAS], dtype=torch.float32, device=device)
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(poses), FORWARD_BATCH):
            pose, shape = poses[start : start + FORWARD_BATCH], betas[start : start + FORWARD_BATCH]
            chunks.append(model(betas=shape, global_orient=pose[:, :3], body_pose=pose[:, 3:]).vertices.cpu())
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, NUM_VERTICES, 3), np.float32)


def regress_h36m(vertices, regressor):
    """Meshes (N, 6890, 3) -> H36M-17 joints (N, 17, 3) with the 17 x 6890 regressor."""
    return np.einsum("jv,nvc->njc", regressor, np.asarray(vertices, np.float64))


def ground_truth_h36m(smpl_dir, j_regressor_path, poses, betas, genders, cam_rotations, device="cpu"):
    """H36M-17 regressed from each person-frame's SMPL mesh in the camera's orientation: (N, 17, 3) mm.

    ``poses`` (N, 72) and ``betas`` (N, >= 10): 3DPW's SMPL parameters (world frame); ``genders``
    (N,): ``male`` / ``female``; ``cam_rotations`` (N, 3, 3): the rotation of each frame's
    ``cam_poses``. The mesh is not translated (the protocol is pelvis-relative). One SMPL model is
    loaded per gender present; frames are batched on ``device``.
    """
    regressor = load_j_regressor_h36m(j_regressor_path)
    poses = orient_in_camera(poses, cam_rotations)
    betas, genders = np.asarray(betas), np.asarray(genders)
    h36m = np.zeros((len(poses), 17, 3))
    for gender in np.unique(genders):
        chosen = genders == gender
        vertices = smpl_vertices(load_smpl(smpl_dir, str(gender)), poses[chosen], betas[chosen], device)
        h36m[chosen] = regress_h36m(vertices, regressor)
    return h36m * 1000.0


def ground_truth_j14(smpl_dir, j_regressor_path, poses, betas, genders, cam_rotations, device="cpu"):
    """The literature's 3DPW ground truth per person-frame: (N, 14, 3) mm, pelvis-relative
    (arguments as ``ground_truth_h36m``)."""
    h36m = ground_truth_h36m(smpl_dir, j_regressor_path, poses, betas, genders, cam_rotations, device)
    return pelvis_relative_j14(h36m)
