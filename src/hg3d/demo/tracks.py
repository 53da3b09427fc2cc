"""What a video run keeps of each track: the frames it was seen in and its 3D poses, for the
JSON's track list and the BVH export."""

import numpy as np


class TrackedPoses:
    """Per track of a video: the frames it was seen in and, for frames with a 3D pose, the H36M-17
    joints in mm (smoothed with --smooth), with the video's ``fps``: what an animation export
    (BVH) reads, through ``arrays()`` or ``spans()``."""

    def __init__(self, fps):
        self.fps, self.tracks = fps, {}

    def add(self, frame, people):
        for person in people:
            track = self.tracks.setdefault(person["track_id"], {"frames": [], "frames_3d": [], "joints_3d": []})
            track["frames"].append(frame)
            if person.get("joints_3d_h36m_mm") is not None:
                track["frames_3d"].append(frame)
                track["joints_3d"].append(np.asarray(person["joints_3d_h36m_mm"], np.float64))

    def arrays(self):
        """{track id: (frame indices (T,), H36M-17 joints (T, 17, 3) mm)} for tracks with 3D poses."""
        return {
            tid: (np.array(t["frames_3d"]), np.stack(t["joints_3d"]))
            for tid, t in self.tracks.items()
            if t["joints_3d"]
        }

    def spans(self):
        """{track id: (first frame, (L, 17, 3) mm)} over each track's own span, from its first to
        its last 3D pose, NaN where it has none: what ``bvh.export_tracks`` reads. Memory grows
        with the tracks' lengths, not with the video's."""
        out = {}
        for tid, (frames, joints) in self.arrays().items():
            poses = np.full((frames[-1] - frames[0] + 1, *joints.shape[1:]), np.nan)
            poses[frames - frames[0]] = joints
            out[tid] = (int(frames[0]), poses)
        return out

    def summary(self):
        return [
            {
                "track_id": tid,
                "first_frame": t["frames"][0],
                "last_frame": t["frames"][-1],
                "num_frames": len(t["frames"]),
            }
            for tid, t in self.tracks.items()
        ]
