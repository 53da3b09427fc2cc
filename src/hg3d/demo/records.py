"""The demo's JSON: one file per image or video, a list of people per image or frame.

``format_version`` 2 (this layout); version 1 (one person per file, no version field) was
written before detection and tracking.
"""

import os

import numpy as np

from ..joints import H36M_JOINTS, MPII_JOINTS

FORMAT_VERSION = 2
JOINTS_3D_NOTE = (
    "joints_3d_mm, joints_3d_h36m_mm: root-relative (pelvis), camera axes x right, y down, z forward; "
    "scaled so the 15 H36M bones sum to {bone_sum:g} mm; null when every joint decoded to one point. "
    "root_cam_mm: the pelvis in the camera frame (from the 2D joints, the 3D pose and the intrinsics; "
    "its depth scales with the bone sum); joints_3d_cam_mm = joints_3d_h36m_mm + root_cam_mm; "
    "both null, with a placement_note, when the person cannot be placed"
)


def _rounded(array, digits):
    return None if array is None else np.round(np.asarray(array, np.float64), digits).tolist()


def person_record(person):
    """The JSON form of one person as the pipeline holds it."""
    record = {
        "index": person["index"],
        "track_id": person.get("track_id"),
        "box": _rounded(person["box"], 2),
        "box_source": person["box_source"],
        "score": None if person.get("score") is None else round(float(person["score"]), 4),
        "crop": {"center": _rounded(person["crop_center"], 2), "size": _rounded(person["crop_size"], 2)},
        "joints_2d": _rounded(person["joints_2d"], 2),
        "confidence": _rounded(person["confidence"], 4),
    }
    if "joints_3d_mm" in person:
        record["joints_3d_mm"] = _rounded(person["joints_3d_mm"], 2)
        record["joints_3d_h36m_mm"] = _rounded(person["joints_3d_h36m_mm"], 2)
        record["root_cam_mm"] = _rounded(person.get("root_cam_mm"), 2)
        record["joints_3d_cam_mm"] = _rounded(person.get("joints_3d_cam_mm"), 2)
        record["placement_note"] = person.get("placement_note")
    return record


def header(opt, detector, intrinsics):
    """Fields shared by image and video files; ``intrinsics``: the camera that placed the people
    (None: no frame was processed)."""
    return {
        "format_version": FORMAT_VERSION,
        "checkpoint": os.path.abspath(opt.load_model),
        "detector": detector or "none",
        "joint_names": list(MPII_JOINTS),
        "joint_names_h36m": list(H36M_JOINTS),
        "joints_3d_note": (
            JOINTS_3D_NOTE.format(bone_sum=opt.bone_sum_mm) if opt.task == "human3d" else "2D checkpoint: no 3D joints"
        ),
        "intrinsics": intrinsics.to_json() if intrinsics is not None else None,
    }


def people_fields(people):
    fields = {"num_people": len(people), "people": [person_record(p) for p in people]}
    if not people:
        fields["note"] = "no person found"
    return fields


def image_record(opt, detector, path, people, intrinsics):
    return {**header(opt, detector, intrinsics), "image": os.path.abspath(path), **people_fields(people)}


def video_record(opt, detector, path, reader, frames, tracks, intrinsics):
    """``reader``: the video's VideoReader (after the pass); ``frames``: (index, time_s, people);
    ``tracks``: the video's TrackedPoses."""
    return {
        **header(opt, detector, intrinsics),
        "video": os.path.abspath(path),
        "fps": reader.fps,
        "fps_source": reader.fps_source,
        "time_base": reader.time_base,
        "num_frames": len(frames),
        "frames_read": reader.frames_read,
        "frames_expected": reader.frames_expected,
        "det_every": opt.det_every,
        "smooth": opt.smooth_settings,
        "tracks": tracks.summary(),
        "frames": [
            {"frame": index, "time_s": round(time_s, 4), **people_fields(people)} for index, time_s, people in frames
        ],
    }
