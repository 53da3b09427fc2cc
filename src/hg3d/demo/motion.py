"""The motion outputs of a video as a sink of the frame loop (``docs/motion.md``): with
``--angles``, ``--trc``, ``--c3d`` or ``--world FILE``, after the last frame each track's world
joints, angles and foot contacts (``hg3d.motion.track_motion``), the files the flags ask for, and
(``amend``) the JSON's ``"world"`` and each person's ``joints_3d_world_mm``, ``angles`` and
``contact_l`` / ``contact_r``. It is closed before ``VideoRecord``, which calls ``amend``."""

import os

import numpy as np

from ..motion import track_motion, write_angles_csv, write_c3d, write_mot, write_trc

MOTION_FLAGS = ("--angles", "--trc", "--c3d", "--world")


def motion_wanted(opt):
    return opt.angles or opt.trc or opt.c3d or opt.world is not None


def _listed(values, digits):
    """A (..., k) array as nested lists, None where NaN."""
    if not np.isfinite(values).all():
        return None
    return np.round(values, digits).tolist()


class MotionFiles:
    """Per track: ``<stem>_track<k>.mot`` and the rows of ``<stem>_angles.csv`` (--angles),
    ``<stem>_track<k>.trc`` (--trc), ``<stem>_track<k>.c3d`` (--c3d); a line on ``log``."""

    def __init__(self, opt, stem, log=print):
        self.opt, self.stem, self.log = opt, stem, log
        self.run, self.times = None, {}
        self.world, self.note, self.motions = None, None, {}

    def open(self, run):
        self.run = run

    def write(self, result):
        self.times[result.frame.index] = result.frame.time_s

    def close(self, stopped_by):
        if stopped_by is None:
            return
        opt, tracked = self.opt, self.run.tracker.tracked
        self.world, self.note, self.motions = track_motion(tracked.spans(), tracked.fps, opt.world)
        out = os.path.join(opt.out_dir, self.stem)
        written = []
        if opt.angles and self.motions:
            write_angles_csv(out + "_angles.csv", self.motions, self.times)
            written.append("_angles.csv")
        writers = {
            ".mot": (opt.angles, lambda path, motion: write_mot(path, motion, self.times)),
            ".trc": (opt.trc, lambda path, motion: write_trc(path, motion, self.times, tracked.fps)),
            ".c3d": (opt.c3d, lambda path, motion: write_c3d(path, motion, tracked.fps)),
        }
        for tid, motion in self.motions.items():
            for suffix, (wanted, write) in writers.items():
                if wanted:
                    write(f"{out}_track{tid}{suffix}", motion)
                    written.append(f"_track{tid}{suffix}")
        self.run.written += written
        frame = "world frame from " + self.world.source if self.world is not None else "no world frame"
        self.log(f"motion: {len(self.motions)} track(s), {frame} ({self.note})")

    def amend(self, record):
        """The JSON ``record`` of the video gains the world frame and each person's motion."""
        record["world"] = None if self.world is None else self.world.to_json()
        record["world_note"] = self.note
        for frame in record["frames"]:
            for person in frame["people"]:
                motion = self.motions.get(person["track_id"])
                if motion is None or person.get("joints_3d_h36m_mm") is None:
                    continue
                k = frame["frame"] - int(motion.frames[0])
                world = None if motion.world is None else _listed(motion.world[k], 2)
                person["joints_3d_world_mm"] = world
                person["angles"] = {
                    name: None if not np.isfinite(v[k]) else round(float(v[k]), 2) for name, v in motion.angles.items()
                }
                for side in ("l", "r"):
                    person[f"contact_{side}"] = None if world is None else bool(motion.contacts[side][k])
