"""People placed in the camera frame by the demo and the API: where the intrinsics come from
(calibration file, EXIF, field of view), the JSON's root fields and their identities, the
bone-sum prior, the impossible case, video trajectories, scene views and BVH root motion."""

import json
import math

import cv2
import numpy as np
import pytest
from PIL import Image

from hg3d.camera import EXIF_FOCAL_LENGTH_35MM, EXIF_IFD_POINTER, Intrinsics, project, root_from_pose
from hg3d.demo import records, run_demo
from hg3d.errors import UserError
from hg3d.inference import Estimator
from hg3d.joints import H36M_JOINTS
from hg3d.placement import PLACEMENT_NOTE, place_person
from hg3d.tools.synthetic import H36M_TO_MPII, random_scene
from hg3d.visualize import PANEL_PX, SCENE_PANELS
from test_bvh import read_positions, to_bvh_axes
from test_pose_tracker import INTRINSICS, TrueJoints, walking_pair

TINY = ["--arch", "msra_18", "--input_h", "64", "--input_w", "64", "--gpus", "-1", "--detector", "none"]
F35_MM = 28.0
PELVIS = H36M_JOINTS.index("pelvis")


def read(path):
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A JPEG (240 x 200) written by Pillow with an EXIF 35 mm focal length, and a PNG (180 x 220)
    without EXIF."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(3)
    exif = Image.Exif()
    exif[EXIF_IFD_POINTER] = {EXIF_FOCAL_LENGTH_35MM: int(F35_MM)}  # the sub-IFD as Pillow >= 10.3 saves it
    rgb = cv2.cvtColor(random_scene(rng, 240, 200)["image"], cv2.COLOR_BGR2RGB)
    Image.fromarray(rgb).save(folder / "a_exif.jpg", exif=exif)
    cv2.imwrite(str(folder / "b_plain.png"), random_scene(rng, 180, 220)["image"])
    return folder


def run_on(folder, checkpoint, out_dir, *extra):
    run_demo(["--demo", str(folder), "--load_model", checkpoint, "--out_dir", str(out_dir), *TINY, *extra])
    return {stem: read(out_dir / f"{stem}.json") for stem in ("a_exif", "b_plain")}


def json_camera(record):
    return Intrinsics(**{k: v for k, v in record["intrinsics"].items() if k != "source"})


def assert_placed_consistently(record):
    """joints_3d_cam_mm - root_cam_mm == joints_3d_h36m_mm, at least 0.3 m in front."""
    for person in record["people"]:
        root, cam, rel = (np.array(person[k]) for k in ("root_cam_mm", "joints_3d_cam_mm", "joints_3d_h36m_mm"))
        np.testing.assert_allclose(cam - root, rel, atol=0.02)
        assert person["placement_note"] is None and root[2] >= 300


def assert_api_places_alike(found, photos, checkpoint):
    """Estimator.predict with each JSON's intrinsics gives its root: the demo passes each image its
    own camera, and the API weights the joints as the demo does (by their confidence)."""
    estimator = Estimator.from_checkpoint(checkpoint, "msra_18", input_w=64, input_h=64)
    for name, record in found.items():
        image = cv2.imread(str(next(photos.glob(name + ".*"))))
        expected = estimator.predict(image, intrinsics=json_camera(record))[0]
        weights = expected["confidence"]
        solved = root_from_pose(expected["joints_2d"], expected["joints_3d_h36m_mm"], json_camera(record), weights)
        np.testing.assert_allclose(record["people"][0]["root_cam_mm"], expected["root_cam_mm"], atol=0.01)
        np.testing.assert_allclose(expected["root_cam_mm"], solved, atol=1e-6)


def test_intrinsics_from_exif_else_field_of_view(photos, resnet18_3d_checkpoint, tmp_path):
    """Per image: the JPEG's EXIF focal length (f35 / 43.27 mm x the diagonal), the PNG's 55 degrees."""
    found = run_on(photos, resnet18_3d_checkpoint, tmp_path)
    exif, plain = found["a_exif"]["intrinsics"], found["b_plain"]["intrinsics"]
    assert (
        exif["source"] == "exif"
        and exif["fx"] == pytest.approx(F35_MM / 43.2666 * math.hypot(240, 200))
        and exif["cx"] == 119.5
    )
    assert plain == Intrinsics.from_fov(180, 220).to_json() and plain["source"] == "fov"
    for record in found.values():
        assert_placed_consistently(record)
    assert_api_places_alike(found, photos, resnet18_3d_checkpoint)
    scene = cv2.imread(str(tmp_path / "a_exif_3d.png"))
    assert scene.shape[1] == (SCENE_PANELS + 1) * PANEL_PX


def test_a_photo_over_the_decompression_bomb_limit_goes_on_with_the_fov(
    photos, resnet18_3d_checkpoint, tmp_path, monkeypatch, capsys
):
    """Pillow's limit lowered to 20000 pixels: the JPEG (48000) is over twice it, so its EXIF is
    skipped with one notice; the image is read and placed with --fov, and the folder goes on."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20000)
    found = run_on(photos, resnet18_3d_checkpoint, tmp_path)
    assert found["a_exif"]["intrinsics"] == Intrinsics.from_fov(240, 200).to_json()
    assert found["b_plain"]["intrinsics"] == Intrinsics.from_fov(180, 220).to_json()
    assert_placed_consistently(found["a_exif"])
    notices = [line for line in capsys.readouterr().out.splitlines() if "decompression-bomb" in line]
    assert notices == [
        f"notice: {photos / 'a_exif.jpg'} has more than 40000 pixels, Pillow's decompression-bomb limit: "
        "its EXIF focal length is skipped"
    ]


def test_no_exif_and_fov(photos, resnet18_3d_checkpoint, tmp_path):
    found = run_on(photos, resnet18_3d_checkpoint, tmp_path, "--no_exif", "--fov", "70")
    assert found["a_exif"]["intrinsics"] == Intrinsics.from_fov(240, 200, 70).to_json()
    assert found["b_plain"]["intrinsics"] == Intrinsics.from_fov(180, 220, 70).to_json()


def test_intrinsics_file_for_every_image(photos, resnet18_3d_checkpoint, tmp_path):
    calibration = tmp_path / "camera.json"
    calibration.write_text(json.dumps({"fx": 300, "fy": 310, "cx": 100, "cy": 90, "dist": [0.1, -0.05, 0, 0]}))
    found = run_on(photos, resnet18_3d_checkpoint, tmp_path, "--intrinsics", str(calibration))
    for record in found.values():
        assert record["intrinsics"] == {
            "fx": 300,
            "fy": 310,
            "cx": 100,
            "cy": 90,
            "dist": [0.1, -0.05, 0, 0],
            "source": "file",
        }
        assert_placed_consistently(record)
    assert_api_places_alike(found, photos, resnet18_3d_checkpoint)


def test_no_root_in_front_of_the_camera_is_null_with_a_note(photos, resnet18_3d_checkpoint, tmp_path):
    """A 100 mm bone sum (the least allowed) puts every root closer than 0.3 m: null fields and a note."""
    found = run_on(photos, resnet18_3d_checkpoint, tmp_path, "--bone_sum_mm", "100")
    for record in found.values():
        person = record["people"][0]
        assert person["root_cam_mm"] is None and person["joints_3d_cam_mm"] is None
        assert person["placement_note"] == PLACEMENT_NOTE and person["joints_3d_h36m_mm"] is not None


def test_depth_scales_with_the_bone_sum(photos, resnet18_3d_checkpoint):
    image = cv2.imread(str(photos / "b_plain.png"))
    adult, child = (
        Estimator.from_checkpoint(
            resnet18_3d_checkpoint, "msra_18", input_w=64, input_h=64, bone_sum_mm=bone_sum
        ).predict(image, intrinsics=INTRINSICS)[0]
        for bone_sum in (4000, 2000)
    )
    np.testing.assert_allclose(child["joints_3d_h36m_mm"], adult["joints_3d_h36m_mm"] / 2, atol=1e-6)
    np.testing.assert_allclose(child["root_cam_mm"], adult["root_cam_mm"] / 2, rtol=1e-6)


def test_json_of_a_perfect_network_projects_onto_its_2d_joints():
    """The JSON record of truly placed people: projecting joints_3d_cam_mm with the JSON's
    intrinsics lands on its 2D joints (within the JSON's rounding)."""
    _, boxes, joints, joints_3d = walking_pair()
    people = TrueJoints(boxes, joints, joints_3d).predict(None, boxes[0], INTRINSICS)
    for person in people:
        person.update(index=0, box_source="given", crop_center=[0, 0], crop_size=[1, 1], confidence=np.ones(16))
    saved = json.loads(json.dumps([records.person_record(p) for p in people]))
    camera = json_camera({"intrinsics": INTRINSICS.to_json()})
    for person in saved:
        uv = project(np.array(person["joints_3d_cam_mm"]), camera)[H36M_TO_MPII]
        np.testing.assert_allclose(uv, person["joints_2d"], atol=0.05)


def test_a_person_without_3d_pose_is_not_placed():
    person = place_person({"joints_2d": np.zeros((16, 2)), "joints_3d_h36m_mm": None}, INTRINSICS)
    assert person["root_cam_mm"] is None and person["placement_note"] == "no 3D pose"


@pytest.fixture(scope="module")
def video_run(resnet18_3d_checkpoint, tmp_path_factory):
    """The demo on a 6-frame clip with two people (given boxes), --smooth, --bvh --bvh_root camera."""
    folder = tmp_path_factory.mktemp("clip")
    video = folder / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 128))
    rng = np.random.default_rng(5)
    for _ in range(6):
        writer.write(random_scene(rng, 160, 128)["image"])
    writer.release()
    per_frame = [[[10 + t, 10, 60, 100], [90 - t, 12, 60, 100]] for t in range(6)]
    (folder / "boxes.json").write_text(json.dumps({video.name: per_frame}))
    out = folder / "out"
    argv = ["--demo", str(video), "--bboxes", str(folder / "boxes.json"), "--load_model", resnet18_3d_checkpoint]
    run_demo(
        [*argv, "--out_dir", str(out), *TINY, "--smooth", "--bvh", "--bvh_min_frames", "3", "--bvh_root", "camera"]
    )
    return out, read(out / "clip.json")


def test_video_tracks_have_trajectories_and_the_bvh_root_follows(video_run):
    out, record = video_run
    assert record["intrinsics"] == Intrinsics.from_fov(160, 128).to_json()
    for track in record["tracks"]:
        roots = [
            next(p["root_cam_mm"] for p in frame["people"] if p["track_id"] == track["track_id"])
            for frame in record["frames"]
        ]
        assert [row[0] for row in track["root_cam_mm"]] == list(range(6))
        np.testing.assert_allclose([row[1:] for row in track["root_cam_mm"]], roots, atol=0.06)
        positions = read_positions(out / f"clip_track{track['track_id']}.bvh")
        np.testing.assert_allclose(positions[:, PELVIS], to_bvh_axes(roots), atol=0.02)
    for frame in record["frames"]:
        assert_placed_consistently(frame)
    frames = cv2.VideoCapture(str(out / "clip_3d.mp4"))
    ok, picture = frames.read()
    assert ok and picture.shape[1] == (SCENE_PANELS + 2) * PANEL_PX


def test_joints_weigh_by_their_confidence():
    """A perfect person with one 2D joint 40 px off: with that joint's confidence 0 the root is
    the true one; with equal confidences it is pulled away."""
    _, boxes, joints, joints_3d = walking_pair()
    truth = joints_3d[0][0]
    wrong = joints[0][0].copy()
    wrong[0] += 40  # the right ankle
    person = {"joints_2d": wrong, "joints_3d_h36m_mm": truth - truth[0]}
    trusted = place_person({**person, "confidence": np.r_[0.0, np.ones(15)]}, INTRINSICS)
    equal = place_person({**person, "confidence": np.ones(16)}, INTRINSICS)
    np.testing.assert_allclose(trusted["root_cam_mm"], truth[0], atol=1.0)
    assert np.linalg.norm(equal["root_cam_mm"] - truth[0]) > 20


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--fov", "180"], "--fov is an angle"),
        (["--fov", "179.999999"], "--fov is an angle in degrees from 1 to 170, got 180"),
        (["--bone_sum_mm", "0"], "--bone_sum_mm is a length in mm from 100 to 20000"),
        (
            ["--bone_sum_mm", "1e308"],
            r"--bone_sum_mm is a length in mm from 100 to 20000 \(an adult: 4000\), got 1e\+308$",
        ),
        (["--bbox", "0,0,1e300,1e300"], "--bbox: expected x,y,w,h in pixels with positive width and height, each"),
        (["--intrinsics", "missing.json"], "intrinsics file missing.json not found"),
    ],
)
def test_bad_placement_flags_are_one_line_errors(photos, resnet18_3d_checkpoint, tmp_path, flags, message):
    with pytest.raises(UserError, match=message):
        run_on(photos, resnet18_3d_checkpoint, tmp_path, *flags)
    assert not list(tmp_path.iterdir())
