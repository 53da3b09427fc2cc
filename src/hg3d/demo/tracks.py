"""What a video run keeps of each track: the frames it was seen in, its 3D poses and its root in
the camera frame, for the JSON's track list (with the root's trajectory) and the BVH export."""

import numpy as np


class TrackedPoses:
    """Per track of a video: the frames it was seen in and, for frames with a 3D pose, the H36M-17
    joints and the camera-frame root in mm (NaN where not placed; smoothed with --smooth), with
    the video's ``fps``: what an animation export (BVH) reads, through ``arrays()`` or
    ``spans()``."""

    def __init__(self, fps):
        self.fps, self.tracks = fps, {}

    def add(self, frame, people):
        for person in people:
            track = self.tracks.setdefault(
                person["track_id"], {"frames": [], "frames_3d": [], "joints_3d": [], "roots": []}
            )
            track["frames"].append(frame)
            if person.get("joints_3d_h36m_mm") is not None:
                root = person.get("root_cam_mm")
                track["frames_3d"].append(frame)
                track["joints_3d"].append(np.asarray(person["joints_3d_h36m_mm"], np.float64))
                track["roots"].append(np.full(3, np.nan) if root is None else np.asarray(root, np.float64))

    def arrays(self):
        """{track id: (frame indices (T,), H36M-17 joints (T, 17, 3) mm, roots (T, 3) mm)} for
        tracks with 3D poses."""
        return {
            tid: (np.array(t["frames_3d"]), np.stack(t["joints_3d"]), np.stack(t["roots"]))
            for tid, t in self.tracks.items()
            if t["joints_3d"]
        }

    def spans(self):
        """{track id: (first frame, (L, 17, 3) mm, roots (L, 3) mm)} over each track's own span,
        from its first to its last 3D pose, NaN where it has none: what ``bvh.export_tracks``
        reads. Memory grows with the tracks' lengths, not with the video's."""
        out = {}
        for tid, (frames, joints, roots) in self.arrays().items():
            poses = np.full((frames[-1] - frames[0] + 1, *joints.shape[1:]), np.nan)
            poses[frames - frames[0]] = joints
            placed = np.full((len(poses), 3), np.nan)
            placed[frames - frames[0]] = roots
            out[tid] = (int(frames[0]), poses, placed)
        return out

    def trajectory(self, track):
        """A track's root per frame with a 3D pose: [[frame, x, y, z] (mm, 1 decimal) or [frame,
        None, None, None] where not placed]."""
        return [
            [int(frame)] + [None if not np.isfinite(v) else round(float(v), 1) for v in root]
            for frame, root in zip(track["frames_3d"], track["roots"])
        ]

    def summary(self):
        return [
            {
                "track_id": tid,
                "first_frame": t["frames"][0],
                "last_frame": t["frames"][-1],
                "num_frames": len(t["frames"]),
                "root_cam_mm": self.trajectory(t),
            }
            for tid, t in self.tracks.items()
        ]
