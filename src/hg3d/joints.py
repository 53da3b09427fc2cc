"""Joint orders, mappings between them, flip pairs and skeletons: the one source of truth.

Every index list here is stated in words in ``docs/reference.md`` ("Joints").
"""

import numpy as np

# --- MPII-16: the network's output order -------------------------------------------------------
MPII_JOINTS = (
    "r_ankle",
    "r_knee",
    "r_hip",
    "l_hip",
    "l_knee",
    "l_ankle",
    "pelvis",
    "thorax",
    "upper_neck",
    "head_top",
    "r_wrist",
    "r_elbow",
    "r_shoulder",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
)
NUM_JOINTS = len(MPII_JOINTS)
PELVIS = MPII_JOINTS.index("pelvis")
MPII_FLIP_PAIRS = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
MPII_EDGES = (
    (0, 1),
    (1, 2),
    (2, 6),
    (6, 3),
    (3, 4),
    (4, 5),
    (10, 11),
    (11, 12),
    (12, 8),
    (8, 13),
    (13, 14),
    (14, 15),
    (6, 8),
    (8, 9),
)
# Joints the PCK accuracy monitor counts (limbs; the torso joints are too easy to be informative).
ACC_JOINTS = (0, 1, 2, 3, 4, 5, 10, 11, 14, 15)

# --- Human3.6M-17: ECCV18 challenge / msra cache order, used for MPJPE ---------------------------
H36M_JOINTS = (
    "pelvis",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
    "spine",
    "thorax",
    "neck",
    "head",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
)
NUM_H36M_JOINTS = len(H36M_JOINTS)
H36M_FLIP_PAIRS = ((3, 6), (2, 5), (1, 4), (16, 13), (15, 12), (14, 11))
# Index into H36M-17 for each MPII-16 joint (to build network targets from H36M labels).
H36M_TO_MPII = np.array([3, 2, 1, 4, 5, 6, 0, 7, 8, 10, 16, 15, 14, 11, 12, 13])
# Index into MPII-16 for each H36M-17 joint; spine (7) and neck (9) are then re-made as midpoints.
MPII_TO_H36M = np.array([6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 9, 13, 14, 15, 12, 11, 10])
H36M_BONES = (
    (3, 2),
    (2, 1),
    (1, 0),
    (0, 4),
    (4, 5),
    (5, 6),
    (0, 7),
    (7, 8),
    (8, 10),
    (16, 15),
    (15, 14),
    (14, 8),
    (8, 11),
    (11, 12),
    (12, 13),
)
# Parent of each H36M-17 joint in the skeleton tree (pelvis the root; shoulders and neck hang from
# the thorax); parents come before their children.
H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
H36M_EDGES = tuple((parent, child) for child, parent in enumerate(H36M_PARENTS) if parent >= 0)
# The H36M protocol rescales a prediction so that these 15 bones sum to this length (mm).
H36M_BONE_SUM_MM = 4000.0
# The bone sums a user may give the demo (mm): a 10 cm figurine to a statue five times life size.
BONE_SUM_RANGE_MM = (100.0, 20000.0)


def flip_permutation(num_joints, pairs):
    """Channel order that swaps every left/right pair: ``x[..., perm, :]`` mirrors the labels."""
    perm = np.arange(num_joints)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


MPII_FLIP_PERM = flip_permutation(NUM_JOINTS, MPII_FLIP_PAIRS)
H36M_FLIP_PERM = flip_permutation(NUM_H36M_JOINTS, H36M_FLIP_PAIRS)

# --- MPI-INF-3DHP-17: the test set's annotation order (docs/reference.md) ------------------------
MPI3DHP_JOINTS = (
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
    "pelvis",
    "spine",
    "head",
)
MPI3DHP_PELVIS = MPI3DHP_JOINTS.index("pelvis")
# The official scripts' PCK and AUC score the first 14 joints (pelvis, spine and head excluded);
# their MPJPE averages all 17.
MPI3DHP_EVAL_JOINTS = np.arange(14)
# Index into H36M-17 for each 3DHP-17 joint: 3DHP neck = H36M thorax, 3DHP spine = H36M spine,
# 3DHP head = H36M neck/nose, 3DHP head_top = H36M head. A permutation: the skeletons match 1:1.
H36M_TO_MPI3DHP = np.array([10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6, 0, 7, 9])
MPI3DHP_TO_H36M = np.argsort(H36M_TO_MPI3DHP)
# Index into 3DHP-17 for each MPII-16 joint (H36M_TO_MPII through the table above): MPII thorax
# <- 3DHP spine, MPII upper_neck <- 3DHP neck, as the paper's own 3DHP preprocessing ordered them.
MPI3DHP_TO_MPII = MPI3DHP_TO_H36M[H36M_TO_MPII]
