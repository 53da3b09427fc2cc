"""What every reported figure is: one table of protocol definitions, and their description in
results.json.

Each benchmark declares which protocol each of its figures follows (``Benchmark.figures``);
``describe`` turns that into the ``protocols`` object of results.json, one entry per figure the
summary holds, with the split and frame step of the run. The group tables (``per_action``,
``per_sequence``, ``per_activity``, ``per_scene``) hold the same figure names, each pooled over
its group's samples. docs/evaluation.md explains the same names.
"""

from dataclasses import asdict, dataclass, replace

import numpy as np

# How the prediction, which the network gives in crop units, gets its size before it is measured.
SCALE_RULES = {
    "bone_sum_4000": "the prediction (MPII-16 reordered to H36M-17) is scaled so that its 15 H36M bones sum to "
    "4000 mm; no ground truth is used (the original release's rule)",
    "gt_bones": "the prediction is scaled about its pelvis so that 14 of its MPII-16 bones sum to the ground "
    "truth's, after the paper's hip shift (the paper's own 3DHP evaluation)",
    "least_squares": "the prediction's scale is fitted to the ground truth by least squares, per sample",
    "none": "none: image pixels or heatmap cells",
    "triangulated": "none: the joints are metric, triangulated from calibrated views (extrinsics fitted to the "
    "release's per-camera poses), with no rescale",
    "as_given": "none: the pose is taken in millimetres as given (the temporal model's output, or the frame "
    "model's 3D already scaled to a 4000 mm bone sum)",
}
UNIT_DECIMALS = {"mm": 2, "%": 2, "fraction": 4, "mm/frame": 2, "mm/frame^2": 2}


@dataclass(frozen=True)
class Protocol:
    """The definition of one figure. ``scale`` is a key of SCALE_RULES; ``samples`` says what one
    sample is and which samples count (the run adds its split and frame step); ``matches`` names the
    published tables the figure can be compared with."""

    short: str
    title: str
    joints: str
    alignment: str
    scale: str
    units: str
    samples: str
    reference: str
    matches: str
    pooling: str = "the mean over the counted samples, each weighted equally"


H36M_17 = "H36M-17, all 17 (the pelvis counts, at 0 error once both poses are rooted)"
H36M_SAMPLES = (
    "Human3.6M Val cache entries with a 3D label: the ECCV18 challenge's Val set (no subject labels), or "
    "prepare_h36m's Val (its --test_subjects, default S9 and S11; every --test_step-th video frame, default 64)"
)
ROOTED = "root: both poses relative to their pelvis"
MPJPE_REF = "MPJPE: Ionescu et al., TPAMI 2014 (Human3.6M)"
PW3D_REF = "3DPW: von Marcard et al., ECCV 2018"
SIMILARITY_REF = "the similarity fit: Umeyama, TPAMI 1991 (reflections excluded)"
_H36M_MPJPE = Protocol(
    short="MPJPE",
    title="17 joints, pelvis-rooted, the prediction scaled to a 4000 mm bone sum",
    joints=H36M_17,
    alignment=ROOTED,
    scale="bone_sum_4000",
    units="mm",
    samples=H36M_SAMPLES,
    reference=f"{MPJPE_REF}; the 4000 mm rule: the code released with Zhou et al., ICCV 2017",
    matches="the original release's 64.55 mm; near, but not the same as, 'protocol 1' tables (e.g. Martinez "
    "et al., ICCV 2017; Pavllo et al., CVPR 2019), whose predictions carry their own metric size",
)
_H36M_N_MPJPE = replace(
    _H36M_MPJPE,
    short="N-MPJPE",
    title="17 joints, pelvis-rooted, each prediction scaled by least squares onto its ground truth",
    alignment="root and scale: each pelvis-relative prediction times the least-squares factor "
    "sum(p.g) / sum(p.p) onto its ground truth",
    scale="least_squares",
    reference="Rhodin et al., ECCV 2018 (N-MPJPE)",
    matches="'protocol 3' (N-MPJPE) tables: Rhodin et al., ECCV 2018; Pavllo et al., CVPR 2019 and papers "
    "that follow them",
)
_H36M_PA_MPJPE = replace(
    _H36M_MPJPE,
    short="PA-MPJPE",
    title="17 joints after a similarity (Procrustes) fit of each prediction onto its ground truth",
    alignment="Procrustes: the least-squares similarity (scale, rotation without reflection, translation) "
    "of each prediction onto its ground truth",
    scale="least_squares",
    reference=f"{SIMILARITY_REF}; PA-MPJPE as 'protocol 2' of Martinez et al., ICCV 2017 and Pavllo et al., CVPR 2019",
    matches="'protocol 2' tables (PA-MPJPE, P-MPJPE, 'reconstruction error') on S9 and S11; some papers "
    "number the protocols the other way round",
)
ACTION_MEAN = "the mean over actions of each action's mean over its samples"
CAMERA_SPACE = "none: camera space (the prediction's root placed from its 2D joints and the intrinsics)"
MRPE_REF = "Moon et al., ICCV 2019 (MRPE)"
MULTIVIEW_SAMPLES = "one sample per subject, sequence and frame seen by two or more calibrated cameras (--multiview)"
TRIANGULATION_REF = (
    "confidence-weighted DLT with RANSAC over view pairs: Iskakov et al., ICCV 2019 (hg3d.triangulation)"
)
_H36M_MRPE = replace(
    _H36M_MPJPE,
    short="MRPE",
    title="distance between predicted and true root (pelvis) in camera space",
    joints="the root (pelvis)",
    alignment=CAMERA_SPACE,
    samples=f"{H36M_SAMPLES}, and the camera labels (root_cam, intrinsics) of prepare_h36m's caches",
    reference=MRPE_REF,
    matches="MRPE tables of root-localising methods (Moon et al., ICCV 2019 and after); hg3d's root depth "
    "follows from the 4000 mm pose, not from a learned depth",
)


def _mrpe_axis(axis):
    return replace(
        _H36M_MRPE,
        short=f"MRPE_{axis}",
        title=f"mean absolute root error along the camera's {axis} axis",
        matches=f"the MRPE_{axis} columns of the same tables",
    )


PROTOCOLS = {
    "pck_monitor": Protocol(
        short="acc",
        title="training monitor: heatmap argmax within 0.5 x H/10 of the label's cell",
        joints="the 10 limb joints of MPII-16 (ankles, knees, hips, wrists, elbows) that have a label in the map",
        alignment="none: heatmap cells",
        scale="none",
        units="fraction",
        samples="every predicted sample",
        reference="the accuracy of the code released with Zhou et al., ICCV 2017",
        matches="none: a training monitor, not a benchmark figure",
        pooling="each joint's hit rate over the samples, then the mean over joints",
    ),
    "h36m_mpjpe": _H36M_MPJPE,
    "h36m_n_mpjpe": _H36M_N_MPJPE,
    "h36m_pa_mpjpe": _H36M_PA_MPJPE,
    **{
        f"{name}_action_mean": replace(
            protocol,
            title=f"{protocol.title}; mean over actions",
            pooling=ACTION_MEAN,
            matches=f"the average column of per-action tables; {protocol.matches}",
        )
        for name, protocol in (
            ("h36m_mpjpe", _H36M_MPJPE),
            ("h36m_n_mpjpe", _H36M_N_MPJPE),
            ("h36m_pa_mpjpe", _H36M_PA_MPJPE),
        )
    },
    "h36m_mrpe": _H36M_MRPE,
    **{f"h36m_mrpe_{axis}": _mrpe_axis(axis) for axis in "xyz"},
    "h36m_mpjpe_abs": replace(
        _H36M_MRPE,
        short="MPJPE_abs",
        title="17 joints in camera space (root placed, pose scaled to a 4000 mm bone sum), no alignment",
        joints=H36M_17,
        reference=f"{MPJPE_REF}, without root alignment; {MRPE_REF} for the root",
        matches="camera-space (absolute) MPJPE tables; it adds the root's error to the pose's",
    ),
    "h36m_mpjpe_mv": replace(
        _H36M_MPJPE,
        short="MPJPE_mv",
        title="17 joints triangulated from the network's 2D joints in every camera of a frame, pelvis-rooted",
        scale="triangulated",
        samples=f"{H36M_SAMPLES}; {MULTIVIEW_SAMPLES}",
        reference=f"{MPJPE_REF}; {TRIANGULATION_REF}",
        matches="multi-view tables (Iskakov et al., ICCV 2019: 27.4 mm RANSAC, 22.4 mm algebraic), which use "
        "every frame of S9 and S11 and detectors trained for it",
    ),
    "h36m_mpjpe_mv_abs": replace(
        _H36M_MPJPE,
        short="MPJPE_mv_abs",
        title="17 joints triangulated from every camera of a frame, no alignment (the release's world frame)",
        alignment="none: the joints where the calibrated cameras put them",
        scale="triangulated",
        samples=f"{H36M_SAMPLES}; {MULTIVIEW_SAMPLES}",
        reference=f"{MPJPE_REF}, without root alignment; {TRIANGULATION_REF}",
        matches="absolute multi-view MPJPE tables",
    ),
    "mpii_pckh": Protocol(
        short="PCKh@0.5",
        title="2D joints within half the head size of the annotation",
        joints="MPII-16, the annotated joints",
        alignment="none: image pixels",
        scale="none",
        units="fraction",
        samples="MPII validation annotations (valid.json) with a known head size; the head size is the "
        "benchmark's (0.6 x head box diagonal) with gt_valid.mat, else upper neck to head top (pckh_normaliser)",
        reference="Andriluka et al., CVPR 2014 (MPII Human Pose)",
        matches="PCKh@0.5 tables on the MPII validation split (with the benchmark's head boxes); the test "
        "set's figures come only from the benchmark's server",
        pooling="all counted joints of all samples pooled",
    ),
}
PROTOCOLS["mpii_pckh_per_joint"] = replace(
    PROTOCOLS["mpii_pckh"], title="PCKh@0.5 of each MPII joint", pooling="per joint, over the samples"
)

PW3D_SAMPLES = "3DPW person-frames with a valid camera pose (campose_valid), of the split named"
_PW3D_17 = replace(
    _H36M_MPJPE,
    title="17 joints against SMPL's jointPositions mapped to H36M-17, pelvis-rooted, 4000 mm bone sum",
    joints="H36M-17 from the 24 SMPL joints of jointPositions (spine, neck and head approximated)",
    samples=PW3D_SAMPLES,
    reference=f"{PW3D_REF}; the joint mapping: hg3d's; the 4000 mm rule: the original release's",
    matches="none: hg3d's own (its ground truth's spine, neck and head are approximations)",
)
_PW3D_12 = replace(
    _PW3D_17,
    title="12 SMPL joints shared with H36M, rooted at the hip midpoint, 4000 mm bone sum",
    joints="the 12 joints SMPL's skeleton shares with H36M-17 (ankles, knees, hips, wrists, elbows, "
    "shoulders), from jointPositions",
    alignment="root: both poses relative to the midpoint of their hips",
    matches="none: SMPL's kinematic joints are not the regressed H36M joints of the papers' tables",
)
_PW3D_14 = replace(
    _PW3D_17,
    title="14 joints regressed from the SMPL mesh, pelvis-rooted, the prediction scaled to a 4000 mm bone sum",
    joints="14 of H36M-17 regressed from the gendered SMPL mesh (J_regressor_h36m; H36M_TO_J14 = "
    "6 5 4 1 2 3 16 15 14 11 12 13 8 10), the prediction's same 14",
    alignment="root: both poses relative to their pelvis (the regressed pelvis, hg3d's pelvis)",
    reference=f"Kolotouros et al., ICCV 2019 (SPIN): its 3DPW evaluation; {PW3D_REF}",
    matches="MPJPE columns of tables that root at the regressed pelvis (SPIN's code); those methods "
    "predict metric meshes, while hg3d's size comes from the 4000 mm rule",
)
PROTOCOLS.update(
    {
        "3dpw_mpjpe_17": _PW3D_17,
        "3dpw_n_mpjpe_17": replace(
            _PW3D_17,
            short="N-MPJPE",
            title=_PW3D_17.title.replace("4000 mm bone sum", "least-squares scale onto the ground truth"),
            alignment=_H36M_N_MPJPE.alignment,
            scale="least_squares",
            reference=f"{_H36M_N_MPJPE.reference}; {PW3D_REF}",
        ),
        "3dpw_pa_mpjpe_17": replace(
            _PW3D_17,
            short="PA-MPJPE",
            title=_PW3D_17.title.replace("pelvis-rooted, 4000 mm bone sum", "similarity (Procrustes) fit"),
            alignment=_H36M_PA_MPJPE.alignment,
            scale="least_squares",
            reference=f"{SIMILARITY_REF}; {PW3D_REF}",
        ),
        "3dpw_mpjpe_12": _PW3D_12,
        "3dpw_pa_mpjpe_12": replace(
            _PW3D_12,
            short="PA-MPJPE",
            title="12 SMPL joints shared with H36M after a similarity (Procrustes) fit",
            alignment=_H36M_PA_MPJPE.alignment,
            scale="least_squares",
            reference=f"{SIMILARITY_REF}; {PW3D_REF}",
        ),
        "3dpw_mpjpe_14": _PW3D_14,
        "3dpw_pa_mpjpe_14": replace(
            _PW3D_14,
            short="PA-MPJPE",
            title="14 joints regressed from the SMPL mesh after a similarity (Procrustes) fit",
            alignment=_H36M_PA_MPJPE.alignment,
            scale="least_squares",
            matches="PA-MPJPE ('reconstruction error') tables of SPIN (Kolotouros et al., ICCV 2019), VIBE "
            "(Kocabas et al., CVPR 2020) and later papers, mostly on the test split",
        ),
    }
)

MPI3DHP_JOINTS_14 = "14 of 3DHP-17 (head top, neck, shoulders, elbows, wrists, hips, knees, ankles)"
MPI3DHP_JOINTS_17 = (
    "3DHP-17, all 17: the test set's relevant joints, as its mpii_evaluate_errors averages them "
    "(the 14 above, pelvis, spine, head; the pelvis counts, at 0 error once both poses are rooted)"
)
# figure -> (short name, what it measures, units, number of joints, joints)
_MPI3DHP = {
    "pck": ("3DPCK", "share of joint errors below 150 mm", "%", 14, MPI3DHP_JOINTS_14),
    "auc": ("AUC", "mean 3DPCK over the thresholds 0, 5, ..., 150 mm", "%", 14, MPI3DHP_JOINTS_14),
    "mpjpe": ("MPJPE", "mean joint error", "mm", 17, MPI3DHP_JOINTS_17),
    "mpjpe_14": ("MPJPE-14", "mean joint error", "mm", 14, MPI3DHP_JOINTS_14),
}
_MPI3DHP_SCALES = {
    "gt_bones": (
        "the paper's chain: hip shift, bones scaled to the ground truth's, on its pelvis",
        "the 3DHP table of Zhou et al., ICCV 2017 (same chain, other crops: docs/evaluation.md)",
    ),
    "h36m": ("pelvis-rooted, the prediction scaled to a 4000 mm bone sum", "none: hg3d's own"),
}
PROTOCOLS.update(
    {
        f"3dhp_{name}_{scale}": Protocol(
            short=short,
            title=f"{what}, {count} joints, {how}",
            joints=joints,
            alignment=ROOTED,
            scale="bone_sum_4000" if scale == "h36m" else scale,
            units=units,
            samples="MPI-INF-3DHP test set (TS1-TS6), frames marked valid, ground truth univ_annot3",
            reference="Mehta et al., 3DV 2017 (the test set's evaluation scripts)"
            + ("; the scale chain: the paper's Lua evaluation (Zhou et al., ICCV 2017)" if scale == "gt_bones" else ""),
            matches=matches,
            pooling=f"every valid frame's {count} joints pooled",
        )
        for name, (short, what, units, count, joints) in _MPI3DHP.items()
        for scale, (how, matches) in _MPI3DHP_SCALES.items()
    }
)

SEQUENCE_SAMPLES = (
    "every frame of every sequence of the --sequences file (hg3d's sequence format); the figures with _input "
    "score the frame model's own 3D of the same frames"
)
_TEMPORAL_MPJPE = replace(
    _H36M_MPJPE,
    title="17 joints, pelvis-rooted, in mm as predicted, every frame of every sequence",
    scale="as_given",
    samples=SEQUENCE_SAMPLES,
    reference=MPJPE_REF,
    matches="'protocol 1' tables of temporal methods (Pavllo et al., CVPR 2019) when the sequences are "
    "Human3.6M's S9 and S11 at 50 fps",
    pooling="the mean over all frames of all sequences",
)
_MOTION = replace(
    _TEMPORAL_MPJPE,
    alignment="root: both poses relative to their pelvis; differences of consecutive frames",
    reference="Kanazawa et al., CVPR 2019 (HMMR) and Zeng et al., ECCV 2022 (SmoothNet): acceleration error",
    matches="acceleration-error (Accel) tables of temporal methods at the same frame rate",
)
PROTOCOLS.update(
    {
        "temporal_mpjpe": _TEMPORAL_MPJPE,
        "temporal_n_mpjpe": replace(
            _TEMPORAL_MPJPE,
            short="N-MPJPE",
            title="17 joints, pelvis-rooted, each frame's pose scaled by least squares onto its ground truth",
            alignment=_H36M_N_MPJPE.alignment,
            scale="least_squares",
            reference=_H36M_N_MPJPE.reference,
            matches=_H36M_N_MPJPE.matches,
        ),
        "temporal_pa_mpjpe": replace(
            _TEMPORAL_MPJPE,
            short="PA-MPJPE",
            title="17 joints after a similarity (Procrustes) fit of each frame's pose onto its ground truth",
            alignment=_H36M_PA_MPJPE.alignment,
            scale="least_squares",
            reference=SIMILARITY_REF,
            matches=_H36M_PA_MPJPE.matches,
        ),
        "temporal_mpjve": replace(
            _MOTION,
            short="MPJVE",
            title="mean per-joint velocity error: |(p[t+1] - p[t]) - (g[t+1] - g[t])| over joints and frame pairs",
            units="mm/frame",
            pooling="the mean over all pairs of consecutive frames",
        ),
        "temporal_accel_error": replace(
            _MOTION,
            short="Accel",
            title="mean per-joint acceleration error: |(p[t+1] - 2p[t] + p[t-1]) - (same of g)| over joints and "
            "frame triples",
            units="mm/frame^2",
            pooling="the mean over all triples of consecutive frames",
        ),
    }
)


def describe(figures, summary, split, frame_step):
    """The ``protocols`` object of results.json: for each figure of ``figures`` (figure name ->
    protocol name) that ``summary`` holds, its protocol's definition, the scale rule spelled out,
    and the run's ``split`` and ``frame_step``."""
    return {
        name: {
            "protocol": protocol,
            **asdict(PROTOCOLS[protocol]),
            "scale_rule": SCALE_RULES[PROTOCOLS[protocol].scale],
            "split": split,
            "frame_step": frame_step,
        }
        for name, protocol in figures.items()
        if name in summary
    }


def sample_step(index):
    """k when the evaluated samples are every k-th of the split's sample list (1 for all, None
    when the step is not regular)."""
    steps = np.unique(np.diff(np.unique(np.asarray(index))))
    if len(steps) > 1:
        return None
    return int(steps[0]) if len(steps) else 1


def format_figures(summary):
    """One line per figure ``summary["protocols"]`` describes that has a single value: its
    results.json name, value and units, what it is and its protocol's name ("" when none)."""
    lines = []
    for name, entry in summary.get("protocols", {}).items():
        value = summary.get(name)
        if isinstance(value, float):
            units = "" if entry["units"] == "fraction" else f" {entry['units']}"
            measured = f"{entry['short']} {value:.{UNIT_DECIMALS[entry['units']]}f}{units}"
            lines.append(f"{name:<22}{measured:<24}{entry['title']} [{entry['protocol']}]")
    return "\n".join([f"{'figure':<22}{'value':<24}what it is [protocol]", *lines]) if lines else ""
