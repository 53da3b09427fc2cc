"""The demo's tracks through time (docs/temporal.md, "In the demo"): each track's per-frame
estimates as a pose sequence (``--save_sequences``, the ``hg3d.sequences`` format) and refined by
a temporal model (``--temporal``, ``hg3d.temporal``).

A track's sequence runs from the first to the last frame where it has a 3D pose, one row per
frame as the model reads them. A frame in between without one (the person missed, or their pose
degenerate, or the frame dropped by a live source) is filled in by linear interpolation between
its neighbours and marked ``observed`` False: the model gets consecutive frames, and what it
outputs for a filled-in frame is thrown away (that frame's output stays as without the model).

Offline (files): ``TrackSequences``, a sink, collects each track; after the last frame every
track's whole sequence goes through the model at once (centred windows, the edges padded by
repeating the first and last frames), and the refined poses replace the frame model's in what is
written at the end (the JSON, the viewer, BVH, motion data, the track list). Live: ``CausalRefiner``
refines each person as their frame is processed, from their track's past only (a causal model),
so every output, also the ones written frame by frame, carries the refined poses.
"""

import os
from collections import deque
from dataclasses import replace

import numpy as np
import torch

from ..errors import UserError
from ..files import writable_dir
from ..joints import H36M_BONE_SUM_MM, H36M_TO_MPII
from ..placement import place_person
from ..sequences import Sequence, write_sequences
from ..temporal import frame_features, load_temporal_model
from .sinks import joints_3d_fields

TEMPORAL_FLAGS = ("--temporal", "--save_sequences")
TEMPORAL_NOTE = (
    " With --temporal: joints_3d_mm, joints_3d_h36m_mm and the placement are the temporal model's refined "
    "pose (its bones sum close to, not exactly to, that length); joints_3d_frame_mm is the frame model's."
)


def temporal_flags(opt):
    """The flags of this module that ``opt`` gives."""
    return [flag for flag, value in zip(TEMPORAL_FLAGS, (opt.temporal, opt.save_sequences)) if value]


def fill_gaps(frames, values):
    """``values`` (N, ...) seen at increasing ``frames`` (N,) -> (every frame from the first to
    the last (L, ...), linearly interpolated in between; which of them were seen (L,) bool)."""
    frames = np.asarray(frames)
    span = np.arange(frames[0], frames[-1] + 1)
    observed = np.zeros(len(span), bool)
    observed[frames - frames[0]] = True
    if len(frames) == 1:
        return np.array(values), observed
    left = np.clip(np.searchsorted(frames, span, side="right") - 1, 0, len(frames) - 2)
    weight = ((span - frames[left]) / (frames[left + 1] - frames[left])).reshape(-1, *[1] * (values.ndim - 1))
    return values[left] * (1 - weight) + values[left + 1] * weight, observed


def frame_model_pose(person):
    """A person's 3D as the frame model gave it (``joints_3d_frame_mm`` once a live refiner has
    replaced ``joints_3d_h36m_mm``), or None."""
    return person.get("joints_3d_frame_mm", person.get("joints_3d_h36m_mm"))


class TrackInputs:
    """Per track, what the frame model gave in each frame where the person has a 3D pose."""

    KEYS = ("frames", "joints_2d", "confidence", "joints_3d")

    def __init__(self):
        self.tracks = {}

    def add(self, frame_index, people):
        for person in people:
            pose = frame_model_pose(person)
            if pose is None:
                continue
            track = self.tracks.setdefault(person["track_id"], {key: [] for key in self.KEYS})
            for key, value in zip(self.KEYS, (frame_index, person["joints_2d"], person["confidence"], pose)):
                track[key].append(value)

    def sequences(self, stem, fps, width, height):
        """{track id: ``Sequence`` named ``<stem>_track<id>``}, the gaps filled in (``observed``)."""
        out = {}
        for tid, track in self.tracks.items():
            filled = {key: fill_gaps(track["frames"], np.asarray(track[key])) for key in self.KEYS[1:]}
            out[tid] = Sequence(
                name=f"{stem}_track{tid}",
                **{key: values.astype(np.float32) for key, (values, _) in filled.items()},
                fps=fps,
                width=width,
                height=height,
                observed=filled["joints_3d"][1],
            )
        return out


class TemporalRefiner:
    """The ``--temporal`` checkpoint, through the temporal module's loader (one-line errors for a
    missing file or a frame-model checkpoint). The model reads 3D at the 4000 mm bone sum it was
    trained at: the demo's ``--bone_sum_mm`` scale is undone on its input and restored on its output."""

    def __init__(self, path, device, bone_sum_mm):
        if not os.path.isfile(path):
            raise UserError(f"--temporal {path} does not exist: give a checkpoint of hg3d-train --task temporal")
        self.model = load_temporal_model(path, device, log=lambda _: None)  # quiet, as the frame model's
        self.path, self.device, self.scale = path, device, bone_sum_mm / H36M_BONE_SUM_MM

    def header(self):
        """The JSON's ``"temporal"`` entry."""
        return {"checkpoint": os.path.abspath(self.path), "frames": self.model.frames, "causal": self.model.causal}

    def features(self, seq):
        return frame_features(replace(seq, joints_3d=seq.joints_3d / self.scale))

    def refine(self, seq):
        """(T, 17, 3) mm: the model over a whole sequence (its edges padded by repetition)."""
        return self.model.predict_sequence(self.features(seq), self.device) * self.scale

    @torch.no_grad()
    def last_pose(self, window):
        """(17, 3) mm: a causal model's pose for the last of ``frames`` feature rows (frames, F)."""
        x = torch.from_numpy(np.ascontiguousarray(window.T[None], np.float32)).to(self.device)
        return self.model(x, dense=True)[0, -1].cpu().numpy().astype(np.float64) * self.scale


def refine_person(person, pose, intrinsics):
    """``person`` (a dict as ``Estimator.predict`` gives) with the refined H36M-17 ``pose``: the
    frame model's 3D kept as ``joints_3d_frame_mm``, the MPII-16 order and the placement in the
    camera frame re-made from ``pose``."""
    person["joints_3d_frame_mm"] = person["joints_3d_h36m_mm"]
    person["joints_3d_h36m_mm"] = pose
    person["joints_3d_mm"] = pose[H36M_TO_MPII]
    return place_person(person, intrinsics)


class CausalRefiner:
    """Live ``--temporal``: ``(frame, people)`` refines each person of a frame in place from their
    track's last ``frames`` feature rows (frames skipped since the track's previous one filled in
    by interpolation, the start padded by repeating its first row, as the offline model pads);
    called by ``runner.TrackedPeople`` after the pose tracker. A track's rows are dropped once the
    tracker has ended it."""

    def __init__(self, refiner, pose_tracker):
        self.refiner, self.pose_tracker = refiner, pose_tracker
        self.history = {}  # track id -> (its last frame index, deque of its last feature rows)

    def __call__(self, frame, people):
        height, width = frame.image.shape[:2]
        frames = self.refiner.model.frames
        for person in people:
            if person.get("joints_3d_h36m_mm") is None:
                person["joints_3d_frame_mm"] = None
                continue
            seq = Sequence(
                "", *(person[k][None] for k in ("joints_2d", "confidence", "joints_3d_h36m_mm")), 1, width, height
            )
            row = self.refiner.features(seq)[0]
            last, rows = self.history.get(person["track_id"], (None, deque(maxlen=frames)))
            if last is not None:  # the frames in between as --save_sequences fills them (the deque keeps the last)
                rows.extend(fill_gaps([last, frame.index], np.stack([rows[-1], row]))[0][1:-1])
            rows.append(row)
            self.history[person["track_id"]] = (frame.index, rows)
            window = np.concatenate([np.repeat(rows[0][None], frames - len(rows), 0), np.stack(rows)])
            refine_person(person, self.refiner.last_pose(window), self.pose_tracker.intrinsics)
        for ended in set(self.history) - set(self.pose_tracker.tracker.tracks):
            del self.history[ended]


class SequenceFile:
    """``--save_sequences FILE``: every track of the command's videos (or of its live source),
    the whole file written again, atomically, as each one ends."""

    def __init__(self, path, log=print):
        if os.path.isdir(path):
            raise UserError(f"--save_sequences {path} is a folder: give a file name (e.g. tracks.h5)")
        writable_dir(os.path.dirname(os.path.abspath(path)), "--save_sequences: the folder")
        self.path, self.sequences, self.log = path, [], log

    def add(self, sequences, source):
        self.sequences += sequences
        if not self.sequences:
            self.log(f"sequences: {source}: no track with a 3D pose, {self.path} not written")
            return
        write_sequences(self.path, self.sequences)
        self.log(f"sequences: {source}: {len(sequences)} track(s) -> {self.path} ({len(self.sequences)} in all)")


class TrackSequences:
    """A sink of a video's (or a live source's) frame loop: each track's inputs; at the close, the
    tracks' sequences go to ``saved`` (a ``SequenceFile``, or None) and, offline, through the
    ``refiner`` (or None), whose poses replace the frame model's in the run's ``TrackedPoses`` (BVH,
    motion data, the track list) and, through ``amend``, in the JSON. Closed before those sinks."""

    def __init__(self, stem, refiner, saved, live):
        self.stem, self.refiner, self.saved, self.live = stem, refiner, saved, live
        self.inputs, self.refined, self.run = TrackInputs(), {}, None

    def open(self, run):
        self.run = run

    def write(self, result):
        if self.saved is not None or not self.live:  # live, the refiner keeps what it needs itself
            self.inputs.add(result.frame.index, result.people)

    def close(self, stopped_by):
        if stopped_by is None:
            return
        run = self.run
        height, width = run.first.image.shape[:2]
        sequences = self.inputs.sequences(self.stem, run.source.fps, width, height)
        if self.saved is not None:
            self.saved.add(list(sequences.values()), run.source.name)
        if self.refiner is None or self.live:
            return
        tracked, intrinsics = run.tracker.tracked, run.tracker.intrinsics
        for tid, seq in sequences.items():
            track = self.inputs.tracks[tid]
            people = self.refined_people(track, seq, intrinsics)
            tracked.replace_3d(tid, people)
            self.refined.update(((tid, frame), person) for frame, person in zip(track["frames"], people))

    def refined_people(self, track, seq, intrinsics):
        """A track's people (the entries the JSON needs) in its frames with a 3D pose, refined."""
        poses = self.refiner.refine(seq)[seq.observed].astype(np.float64)
        inputs = zip(track["joints_2d"], track["confidence"], track["joints_3d"])
        return [
            refine_person({"joints_2d": xy, "confidence": conf, "joints_3d_h36m_mm": frame_pose}, pose, intrinsics)
            for (xy, conf, frame_pose), pose in zip(inputs, poses)
        ]

    def amend(self, record):
        """The video's JSON ``record`` gains the ``"temporal"`` entry and, offline, each person's
        refined 3D beside the frame model's (``joints_3d_frame_mm``)."""
        if self.refiner is None:
            return
        record["temporal"] = self.refiner.header()
        record["joints_3d_note"] += TEMPORAL_NOTE
        if self.live:
            return
        for frame in record["frames"]:
            for person in frame["people"]:
                refined = self.refined.get((person["track_id"], frame["frame"]))
                if refined is not None:
                    person.update(joints_3d_fields(refined))
                elif "joints_3d_h36m_mm" in person:
                    person["joints_3d_frame_mm"] = None  # no 3D pose in this frame


class TemporalOutputs:
    """What ``--temporal`` and ``--save_sequences`` add to a demo command: the refiner and the
    sequence file (each None when not asked for), loaded before any frame is processed. Live input
    takes a causal checkpoint only: it has no future frames."""

    def __init__(self, opt, live, log=print):
        self.live = live
        self.refiner = TemporalRefiner(opt.temporal, opt.device, opt.bone_sum_mm) if opt.temporal else None
        if live and self.refiner is not None and not self.refiner.model.causal:
            ahead = self.refiner.model.frames - 1 - self.refiner.model.past
            raise UserError(
                f"--temporal {opt.temporal} looks {ahead} frames ahead (trained without --causal), and live input has "
                f"no future frames: give a causal checkpoint (hg3d-train --task temporal --causal)"
            )
        self.saved = SequenceFile(opt.save_sequences, log) if opt.save_sequences else None

    def sinks(self, stem):
        """The ``TrackSequences`` sink of one video or live source (none without either flag)."""
        if self.refiner is None and self.saved is None:
            return []
        return [TrackSequences(stem, self.refiner, self.saved, self.live)]

    def live_refiner(self, pose_tracker):
        """The per-frame hook of ``runner.TrackedPeople`` (live ``--temporal`` only), else None."""
        return CausalRefiner(self.refiner, pose_tracker) if self.live and self.refiner is not None else None
