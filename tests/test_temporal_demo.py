"""The demo's --temporal and --save_sequences (docs/temporal.md, "In the demo"): end to end on a
generated clip with a tiny random frame model, the refined poses checked against the temporal model
run here on the sequence the same run saved; a track's gap; live input, causal only; the errors."""

import dataclasses
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from helpers import SRC_DIR, sigterm_demo_after
from hg3d.camera import Intrinsics, root_from_pose
from hg3d.checkpoint import save_checkpoint
from hg3d.demo import run_demo
from hg3d.errors import UserError
from hg3d.joints import H36M_TO_MPII, MPII_JOINTS
from hg3d.sequences import read_sequences
from hg3d.temporal import TemporalModel, frame_features
from hg3d.tools.synthetic import random_scene

SMALL = ["--arch", "msra_18", "--input_h", "128", "--input_w", "128", "--gpus", "-1", "--detector", "none"]
FRAMES, GAP = 12, 5  # the person is missed in frame GAP


def demo_py(*args):
    return subprocess.run([sys.executable, "demo.py", *args], cwd=SRC_DIR, capture_output=True, text=True, timeout=300)


def read(path):
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A clip of generated people (MJPG: each frame coded alone) and its --bboxes file: one box per
    frame, none in frame GAP."""
    folder = tmp_path_factory.mktemp("clip")
    rng = np.random.default_rng(3)
    path = folder / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 128))
    for _ in range(FRAMES):
        writer.write(random_scene(rng, 160, 128)["image"])
    writer.release()
    boxes = [[] if frame == GAP else [[8, 4, 144, 120]] for frame in range(FRAMES)]
    spec = folder / "boxes.json"
    spec.write_text(json.dumps({path.name: boxes}))
    return path, spec


def save_temporal(path, model):
    save_checkpoint(str(path), model, epoch=1, temporal=model.record)
    return str(path)


@pytest.fixture(scope="module")
def temporal_checkpoints(tmp_path_factory):
    """Temporal checkpoints of 27 frames: random weights everywhere (non-causal and causal), and
    an untrained one (the identity on the frame model's 3D)."""
    folder = tmp_path_factory.mktemp("temporal")
    paths = {}
    for name, causal in (("centred", False), ("causal", True)):
        torch.manual_seed(2)
        model = TemporalModel(27, causal, channels=16)
        torch.nn.init.normal_(model.shrink.weight, std=0.2)
        torch.nn.init.normal_(model.blend_raw, std=0.05)
        paths[name] = save_temporal(folder / f"{name}.pth", model)
    paths["identity"] = save_temporal(folder / "identity.pth", TemporalModel(27, channels=16))
    return paths


def temporal_model(path):
    """The checkpoint's network, built here from what it records (not through the demo's loader)."""
    data = torch.load(path, weights_only=True)
    model = TemporalModel(data["temporal"]["frames"], data["temporal"]["causal"], data["temporal"]["channels"])
    model.load_state_dict(data["state_dict"])
    return model.eval()


def people_of_track(frames, track_id=1):
    """{frame index: person} of one track in a JSON's frames (or jsonl lines)."""
    return {f["frame"]: p for f in frames for p in f["people"] if p["track_id"] == track_id}


def assert_refined_by(people, seq, checkpoint, bone_sum_mm=4000):
    """Each person's 3D is the temporal model's output on ``seq`` (the saved sequence of their
    track) in their frame, the frame model's kept beside it; returns (refined, frame model) (N, 17, 3).
    The model reads and gives poses at the 4000 mm bone sum, the demo's at ``bone_sum_mm``."""
    scale = bone_sum_mm / 4000
    features = frame_features(dataclasses.replace(seq, joints_3d=seq.joints_3d / scale))
    expected = temporal_model(checkpoint).predict_sequence(features) * scale
    frames = sorted(people)
    first = frames[0]
    refined = np.array([people[f]["joints_3d_h36m_mm"] for f in frames])
    frame_model = np.array([people[f]["joints_3d_frame_mm"] for f in frames])
    np.testing.assert_allclose(frame_model, seq.joints_3d[np.array(frames) - first], atol=0.006)
    np.testing.assert_allclose(refined, expected[np.array(frames) - first], atol=0.02)
    np.testing.assert_allclose([people[f]["joints_3d_mm"] for f in frames], refined[:, H36M_TO_MPII], atol=0.011)
    assert np.abs(refined - frame_model).mean() > 1.0  # the model changed the poses
    return refined, frame_model


@pytest.mark.e2e
def test_offline_refines_each_track_and_saves_its_sequence(
    clip, temporal_checkpoints, resnet18_3d_checkpoint, tmp_path
):
    """A video with --temporal (non-causal) and --save_sequences: the JSON's 3D, placement, track
    list and motion data are the temporal model's on the saved sequence; the frame where the
    person was missed is filled in for the model and left out of the output."""
    video, boxes = clip
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"R": np.eye(3).tolist(), "t": [0, 0, 0]}))  # world = camera frame
    ckpt = temporal_checkpoints["centred"]
    args = ["--demo", str(video), "--bboxes", str(boxes), "--load_model", resnet18_3d_checkpoint, *SMALL]
    proc = demo_py(
        *args, "--out_dir", str(tmp_path), "--temporal", ckpt, "--save_sequences", str(tmp_path / "tracks.h5"),
        "--world", str(world),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "sequences: " in proc.stdout and "1 track(s) ->" in proc.stdout
    record = read(tmp_path / "clip.json")
    assert record["temporal"] == {"checkpoint": ckpt, "frames": 27, "causal": False}
    assert "joints_3d_frame_mm" in record["joints_3d_note"]
    assert [f["num_people"] for f in record["frames"]] == [0 if f == GAP else 1 for f in range(FRAMES)]

    (seq,) = read_sequences(str(tmp_path / "tracks.h5"))
    assert seq.name == "clip_track1" and len(seq) == FRAMES and (seq.width, seq.height, seq.fps) == (160, 128, 10)
    assert seq.observed.tolist() == [f != GAP for f in range(FRAMES)]
    np.testing.assert_allclose(seq.joints_3d[GAP], (seq.joints_3d[GAP - 1] + seq.joints_3d[GAP + 1]) / 2, atol=1e-3)
    people = people_of_track(record["frames"])
    assert sorted(people) == [f for f in range(FRAMES) if f != GAP]
    refined, frame_model = assert_refined_by(people, seq, ckpt)

    # Placed in the camera frame from the refined pose, not the frame model's (the confidences
    # weigh the joints: the sequence's, unrounded, as the demo's).
    camera = Intrinsics(**record["intrinsics"])
    for (frame, person), pose, old in zip(people.items(), refined, frame_model):
        xy, weights = seq.joints_2d[frame], seq.confidence[frame]  # the track starts at frame 0
        root = root_from_pose(xy, pose, camera, weights)
        if person["root_cam_mm"] is None:  # the random model's pose fits no root there
            assert np.isnan(root).all() and person["joints_3d_world_mm"] is None
            continue
        np.testing.assert_allclose(person["root_cam_mm"], root, atol=1.0)
        np.testing.assert_allclose(person["joints_3d_cam_mm"], pose + root, atol=1.0)
        assert not np.allclose(root_from_pose(xy, old, camera, weights), root, atol=1.0, equal_nan=True)
        np.testing.assert_allclose(person["joints_3d_world_mm"], person["joints_3d_cam_mm"], atol=0.02)  # motion
    # What BVH and motion read (the track list shows it): the refined placement, nothing in the gap.
    (track,) = record["tracks"]
    assert [row[0] for row in track["root_cam_mm"]] == sorted(people)
    np.testing.assert_allclose(
        [[np.nan if v is None else v for v in row[1:]] for row in track["root_cam_mm"]],
        [p["root_cam_mm"] or [np.nan] * 3 for p in people.values()],
        atol=0.06,
    )


@pytest.mark.e2e
def test_a_video_stopped_by_sigterm_keeps_its_refined_tracks(temporal_checkpoints, resnet18_3d_checkpoint, tmp_path):
    """SIGTERM half-way through a video: the sequences of the frames processed are saved, and the
    JSON holds them refined, as at the end of a video."""
    video = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (128, 96))
    for image in [random_scene(np.random.default_rng(i), 128, 96)["image"] for i in range(4)] * 75:
        writer.write(image)
    writer.release()
    out, ckpt = tmp_path / "out", temporal_checkpoints["centred"]
    args = ["--demo", str(video), "--load_model", resnet18_3d_checkpoint, *SMALL, "--out_dir", str(out)]
    args += ["--save_frames", "--temporal", ckpt, "--save_sequences", str(out / "tracks.h5")]
    returncode, _, stderr = sigterm_demo_after(args, out / "long_00002_2d.png")  # three frames processed
    assert returncode == 0, stderr
    record = read(out / "long.json")
    assert record["stopped_by"] == "SIGTERM" and 3 <= record["num_frames"] < 300
    (seq,) = read_sequences(str(out / "tracks.h5"))
    assert len(seq) == record["num_frames"] and seq.observed.all()
    assert_refined_by(people_of_track(record["frames"]), seq, ckpt)


@pytest.mark.e2e
def test_live_refines_each_frame_from_the_past_only(clip, temporal_checkpoints, resnet18_3d_checkpoint, tmp_path):
    """A video played --live with a causal checkpoint: every line of the jsonl as it is written
    holds the causal model's output over the track's saved sequence up to that frame."""
    video, boxes = clip
    ckpt = temporal_checkpoints["causal"]
    proc = demo_py(
        "--demo", str(video), "--live", "--bboxes", str(boxes), "--load_model", resnet18_3d_checkpoint, *SMALL,
        "--out_dir", str(tmp_path), "--temporal", ckpt, "--save_sequences", str(tmp_path / "live.h5"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in (tmp_path / "clip.jsonl").read_text().splitlines()]
    record = read(tmp_path / "clip.json")
    assert record["temporal"] == {"checkpoint": ckpt, "frames": 27, "causal": True}
    (seq,) = read_sequences(str(tmp_path / "live.h5"))
    people = people_of_track(lines)
    assert len(people) >= 2 and seq.observed.sum() == len(people)  # the first and last frames at least
    assert_refined_by(people, seq, ckpt)
    assert people_of_track(record["frames"]) == people


@pytest.mark.e2e
def test_live_input_refuses_a_centred_checkpoint(clip, temporal_checkpoints, resnet18_3d_checkpoint, tmp_path):
    video, _ = clip
    proc = demo_py(
        "--demo", str(video), "--live", "--load_model", resnet18_3d_checkpoint, *SMALL, "--out_dir", str(tmp_path),
        "--temporal", temporal_checkpoints["centred"],
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "looks 13 frames ahead" in proc.stderr and "--causal" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_every_video_of_a_folder_in_one_file_at_another_bone_sum(
    clip, temporal_checkpoints, resnet18_3d_checkpoint, tmp_path
):
    """Two videos: both tracks in the one sequence file, each refined; with --bone_sum_mm the model
    still reads its 4000 mm poses."""
    video, boxes = clip
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.avi", "b.avi"):
        (folder / name).write_bytes(video.read_bytes())
    ckpt, sequences = temporal_checkpoints["centred"], tmp_path / "tracks.h5"
    run_demo(
        ["--demo", str(folder), "--load_model", resnet18_3d_checkpoint, *SMALL, "--out_dir", str(tmp_path / "o"),
         "--temporal", ckpt, "--save_sequences", str(sequences), "--bone_sum_mm", "2000"]
    )  # fmt: skip
    saved = {seq.name: seq for seq in read_sequences(str(sequences))}
    assert sorted(saved) == ["a_track1", "b_track1"]
    for stem in ("a", "b"):
        people = people_of_track(read(tmp_path / "o" / f"{stem}.json")["frames"])
        assert_refined_by(people, saved[f"{stem}_track1"], ckpt, bone_sum_mm=2000)


def test_perfect_input_through_an_identity_model_is_unchanged(
    clip, temporal_checkpoints, resnet18_3d_checkpoint, tmp_path
):
    """An untrained temporal model returns its input: the refined poses and their placement are the
    frame model's, as a run without --temporal gives them (the MPII-16 thorax apart: H36M-17 has
    none, the refined MPII-16 pose takes the spine there)."""
    video, boxes = clip
    args = ["--demo", str(video), "--bboxes", str(boxes), "--load_model", resnet18_3d_checkpoint, *SMALL]
    run_demo([*args, "--out_dir", str(tmp_path / "plain")])
    run_demo([*args, "--out_dir", str(tmp_path / "refined"), "--temporal", temporal_checkpoints["identity"]])
    plain = people_of_track(read(tmp_path / "plain" / "clip.json")["frames"])
    refined = people_of_track(read(tmp_path / "refined" / "clip.json")["frames"])
    assert sorted(refined) == sorted(plain)
    for frame, person in refined.items():
        for key, atol in (("joints_3d_h36m_mm", 0.011), ("root_cam_mm", 0.05), ("joints_3d_cam_mm", 0.05)):
            np.testing.assert_allclose(person[key], plain[frame][key], atol=atol, err_msg=key)
        not_thorax = np.arange(16) != MPII_JOINTS.index("thorax")
        mpii, plain_mpii = np.array(person["joints_3d_mm"]), np.array(plain[frame]["joints_3d_mm"])
        np.testing.assert_allclose(mpii[not_thorax], plain_mpii[not_thorax], atol=0.011)
        assert person["joints_3d_frame_mm"] == plain[frame]["joints_3d_h36m_mm"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--temporal", "{frame_model}"], "is not a temporal model"),
        (["--temporal", "{missing}"], "does not exist"),
        (["--temporal", "{identity}", "--smooth"], "drop --smooth"),
        (["--save_sequences", "{folder}"], "is a folder: give a file name"),
    ],
)
def test_bad_temporal_flags_are_one_line(extra, message, clip, temporal_checkpoints, resnet18_3d_checkpoint, tmp_path):
    video, _ = clip
    names = {"frame_model": resnet18_3d_checkpoint, "missing": str(tmp_path / "nothing.pth"), "folder": str(tmp_path)}
    extra = [value.format(**names, **temporal_checkpoints) for value in extra]
    with pytest.raises(UserError, match=message):
        run_demo(
            [
                "--demo",
                str(video),
                "--load_model",
                resnet18_3d_checkpoint,
                *SMALL,
                "--out_dir",
                str(tmp_path / "o"),
                *extra,
            ]
        )
    assert not (tmp_path / "o").exists()


def test_temporal_flags_need_a_video(temporal_checkpoints, resnet18_3d_checkpoint, tmp_path):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), random_scene(np.random.default_rng(0), 96, 96)["image"])
    argv = ["--demo", str(image), "--load_model", resnet18_3d_checkpoint, *SMALL, "--out_dir", str(tmp_path / "o")]
    with pytest.raises(UserError, match="--temporal/--save_sequences follow the people tracked through a video"):
        run_demo([*argv, "--temporal", temporal_checkpoints["centred"], "--save_sequences", str(tmp_path / "s.h5")])
