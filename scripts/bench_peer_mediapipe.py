"""The peer of ``scripts/bench.py --peer mediapipe``: MediaPipe's BlazePose full, run by the Python of
its own environment (mediapipe 0.10.21, NumPy < 2, scikit-image), never by hg3d's.

    python bench_peer_mediapipe.py photo OUT.npy           # a 640x480 BGR frame of one person
    python bench_peer_mediapipe.py time FRAMES.npy REPEAT  # JSON: BlazePose's seconds per frame

``photo``: scikit-image's astronaut picture (one person, real, shipped in its wheel) scaled into a
640x480 frame, so that BlazePose finds someone to put landmarks on. ``time``: the frames (uint8
BGR, N x H x W x 3) played as a video (BlazePose's tracking mode: its detector runs when it has
lost the person) ``REPEAT`` + 1 times; the first pass warms up, the fastest later pass counts.
"""

import json
import sys
import time

import numpy as np

FRAME_W, FRAME_H = 640, 480


def photo(path):
    import cv2
    from skimage import data

    picture = data.astronaut()[:, :, ::-1]  # RGB -> BGR
    side = min(FRAME_W, FRAME_H)
    frame = np.full((FRAME_H, FRAME_W, 3), 128, np.uint8)
    left = (FRAME_W - side) // 2
    frame[:, left : left + side] = cv2.resize(picture, (side, side), interpolation=cv2.INTER_AREA)
    np.save(path, frame[None])


def time_blazepose(path, repeat):
    import mediapipe as mp

    frames = np.ascontiguousarray(np.load(path)[:, :, :, ::-1])  # BGR -> RGB
    best, found = float("inf"), 0
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, enable_segmentation=False) as pose:
        for warm_up in [True] + [False] * repeat:
            start, landmarks = time.perf_counter(), 0
            for frame in frames:
                landmarks += pose.process(frame).pose_world_landmarks is not None
            seconds = (time.perf_counter() - start) / len(frames)
            if not warm_up and seconds < best:
                best, found = seconds, landmarks
    return {
        "seconds_per_frame": best,
        "world_landmarks": found,
        "frames": len(frames),
        "passes": repeat,
        "mediapipe": mp.__version__,
    }


if __name__ == "__main__":
    if sys.argv[1] == "photo":
        photo(sys.argv[2])
    else:
        print(json.dumps(time_blazepose(sys.argv[2], int(sys.argv[3]))))
