"""The peer of ``scripts/bench.py --peer mediapipe``: MediaPipe's BlazePose full, run by the Python of
its own environment (mediapipe 0.10.21, NumPy < 2, scikit-image), never by hg3d's.

    python bench_peer_mediapipe.py photo OUT.npy     # a 640x480 BGR frame of one person
    python bench_peer_mediapipe.py serve FRAMES.npy  # a pass over the frames per line read; JSON lines

``photo``: scikit-image's astronaut picture (one person, real, shipped in its wheel) scaled into a
640x480 frame, so that BlazePose finds someone to put landmarks on. ``serve``: the frames (uint8
BGR, N x H x W x 3) played as a video (BlazePose's tracking mode: its detector runs when it has
lost the person), a pass when asked, so that the bench can take turns with hg3d's timings.
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


def serve(path):
    """BlazePose on the frames of ``path`` played as a video, one pass now (the warm-up) and one
    for each line read from stdin; each pass prints one JSON line of its figures."""
    import mediapipe as mp

    frames = np.ascontiguousarray(np.load(path)[:, :, :, ::-1])  # BGR -> RGB
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, enable_segmentation=False) as pose:

        def one_pass():
            start = time.perf_counter()
            landmarks = sum(pose.process(frame).pose_world_landmarks is not None for frame in frames)
            seconds = (time.perf_counter() - start) / len(frames)
            return {"seconds_per_frame": seconds, "world_landmarks": landmarks, "frames": len(frames)}

        print(json.dumps({**one_pass(), "mediapipe": mp.__version__}), flush=True)
        for _ in sys.stdin:
            print(json.dumps(one_pass()), flush=True)


if __name__ == "__main__":
    (photo if sys.argv[1] == "photo" else serve)(sys.argv[2])
