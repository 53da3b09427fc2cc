"""hg3d.camera: the root translation on perfect perspective labels (with and without lens
distortion), on Human3.6M-style labels whose distortion the solver is not told, weights,
batching, the placement limit, and the three sources of intrinsics (file, EXIF, field of view)."""

import json
import math
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from hg3d.camera import (
    MIN_ROOT_DEPTH_MM,
    SHARED_H36M,
    SHARED_MPII,
    Intrinsics,
    choose_intrinsics,
    normalised_points,
    project,
    root_from_pose,
    root_translation,
)
from hg3d.errors import UserError
from hg3d.joints import H36M_JOINTS, H36M_TO_MPII, MPII_JOINTS
from hg3d.tools.h36m_official import CAMERA_TABLE, OFFICIAL_TO_H36M17, cache_labels
from hg3d.tools.synthetic import random_pose

FILM_DIAGONAL_MM = math.hypot(36, 24)  # 43.27 mm: the diagonal of a 35 mm film frame
FRAME = 1000  # Human3.6M's frames are 1000 px wide (and 1000 or 1002 high)


def h36m_camera(camera="54138969", distortion=True):
    """One of the release's cameras as OpenCV intrinsics (k1, k2, p1, p2, k3)."""
    (fx, fy), (cx, cy), (k1, k2, k3), (p1, p2) = CAMERA_TABLE[camera]
    return Intrinsics(fx, fy, cx, cy, dist=(k1, k2, p1, p2, k3) if distortion else None)


def pinhole_pixels(points, fx, fy, cx, cy):
    """Perspective projection written out (independent of hg3d.camera.project)."""
    return np.stack([fx * points[..., 0] / points[..., 2] + cx, fy * points[..., 1] / points[..., 2] + cy], -1)


def brown_conrady_pixels(points, fx, fy, cx, cy, k1, k2, p1, p2, k3):
    """OpenCV's 5-coefficient lens model written out (independent of cv2.projectPoints)."""
    x, y = points[..., 0] / points[..., 2], points[..., 1] / points[..., 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([fx * xd + cx, fy * yd + cy], -1)


def scene(rng, count, camera=None, depth=(3500, 6500)):
    """``count`` synthetic people (H36M-17, mm, root-relative) and their roots (camera frame, mm):
    roots at ``depth``, aimed at pixels spread uniformly over a 1000 x 1000 frame."""
    poses = np.stack([random_pose(rng) for _ in range(count)])
    z = rng.uniform(*depth, count)
    pixels = rng.uniform(0, FRAME, (count, 2))
    camera = camera or h36m_camera(distortion=False)
    roots = np.c_[(pixels[:, 0] - camera.cx) / camera.fx * z, (pixels[:, 1] - camera.cy) / camera.fy * z, z]
    return poses, roots


def test_shared_joints_are_the_15_named_pairs():
    pairs = [(MPII_JOINTS[m], H36M_JOINTS[h]) for m, h in zip(SHARED_MPII, SHARED_H36M)]
    same = ["pelvis"] + [f"{s}_{p}" for s in "lr" for p in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")]
    expected = {(n, n) for n in same} | {("upper_neck", "thorax"), ("head_top", "head")}
    assert len(pairs) == 15 and set(pairs) == expected
    assert (H36M_TO_MPII[SHARED_MPII] == SHARED_H36M).all()  # what the 2D labels are made from


def test_perfect_labels_without_distortion_give_the_root():
    rng = np.random.default_rng(0)
    poses, roots = scene(rng, 200)
    camera = h36m_camera(distortion=False)
    pixels = pinhole_pixels(poses + roots[:, None], camera.fx, camera.fy, camera.cx, camera.cy)
    found = root_translation(pixels, poses, camera)
    assert np.abs(found - roots).max() < 1e-6  # mm
    # project() without distortion is the same pinhole
    np.testing.assert_allclose(project(poses + roots[:, None], camera), pixels, atol=1e-9)


def test_perfect_labels_with_distortion_give_the_root():
    rng = np.random.default_rng(1)
    camera = h36m_camera()
    poses, roots = scene(rng, 200)
    points = poses + roots[:, None]
    pixels = project(points, camera)
    np.testing.assert_allclose(
        pixels, brown_conrady_pixels(points, camera.fx, camera.fy, camera.cx, camera.cy, *camera.dist), atol=1e-6
    )
    assert np.abs(root_translation(pixels, poses, camera) - roots).max() < 1.0  # mm (measured: ~1e-10)
    np.testing.assert_allclose(normalised_points(pixels, camera), points[..., :2] / points[..., 2:], atol=1e-9)


def h36m_style_errors(count=4000):
    """Human3.6M-style labels: true 2D through the release's lens distortion, the true root-relative
    3D pose; the solver is not told the distortion. Returns the root errors (mm) and each root's
    pixel distance from the frame centre, for the people whose joints all lie in the frame."""
    rng = np.random.default_rng(2)
    camera = h36m_camera()
    poses, roots = scene(rng, count, camera)
    pixels = project(poses + roots[:, None], camera)
    inside = ((pixels >= 0) & (pixels < FRAME)).all((1, 2))
    errors = root_translation(pixels, poses, h36m_camera(distortion=False)) - roots
    root_px = project(roots, camera)
    return errors[inside], np.linalg.norm(root_px - FRAME / 2, axis=-1)[inside]


def test_human36m_style_labels_without_the_distortion_err_by_centimetres():
    errors, radius = h36m_style_errors()
    distance = np.linalg.norm(errors, axis=-1)
    central = radius < 250
    figures = {
        "central": (distance[central].mean(), np.percentile(distance[central], 95)),
        "anywhere": (distance.mean(), np.percentile(distance, 95), distance.max()),
    }
    print("root error (mm) without the lens distortion:", figures)
    # the figures docs/camera.md states (barrel distortion: the person looks smaller, hence further)
    assert 50 < figures["central"][0] < 75 and 100 < figures["central"][1] < 130
    assert 125 < figures["anywhere"][0] < 155 and 270 < figures["anywhere"][1] < 310
    assert (errors[:, 2] > 0).mean() > 0.95 and np.abs(errors[:, 2]).mean() > 5 * np.abs(errors[:, :2]).mean()


def test_the_root_scales_with_the_pose():
    """The depth (the whole root) is as large as the 3D pose: a pose 10 % too large puts the
    person 10 % too far, along the same ray (why --bone_sum_mm moves people)."""
    rng = np.random.default_rng(8)
    camera = h36m_camera()
    poses, roots = scene(rng, 20)
    pixels = project(poses + roots[:, None], camera)
    for scale in (0.8, 1.1):
        np.testing.assert_allclose(root_translation(pixels, scale * poses, camera), scale * roots, rtol=1e-9)


def test_depth_follows_the_assumed_focal_length():
    """A focal length a times the true one puts people about a times as far (within a few %)."""
    rng = np.random.default_rng(9)
    camera = h36m_camera(distortion=False)
    poses, roots = scene(rng, 500)
    pixels = project(poses + roots[:, None], camera)
    for factor in (0.8, 1.2):
        wrong = Intrinsics(factor * camera.fx, factor * camera.fy, camera.cx, camera.cy)
        ratio = root_translation(pixels, poses, wrong)[:, 2] / roots[:, 2]
        assert ratio.mean() == pytest.approx(factor, rel=0.01) and np.abs(ratio / factor - 1).max() < 0.05


def test_noisy_labels_err_mostly_in_depth():
    """The figures docs/camera.md states: Gaussian noise on the 2D joints (px, 1000-px frames) or
    on the 3D pose (mm per axis), people at 3.5 - 6.5 m in the middle of the frame."""
    rng = np.random.default_rng(7)
    camera = h36m_camera(distortion=False)
    poses, roots = scene(rng, 2000)
    pixels = project(poses + roots[:, None], camera)
    expected = {("2d", 1): 10.4, ("2d", 5): 59, ("3d", 20): 49, ("3d", 50): 120}  # mean root error, mm
    for (kind, sigma), mean in expected.items():
        noisy_2d = pixels + rng.normal(0, sigma, pixels.shape) if kind == "2d" else pixels
        noisy_3d = poses + rng.normal(0, sigma, poses.shape) if kind == "3d" else poses
        errors = root_translation(noisy_2d, noisy_3d, camera) - roots
        assert np.linalg.norm(errors, axis=-1).mean() == pytest.approx(mean, rel=0.1), (kind, sigma)
        assert np.abs(errors[:, 2]).mean() > 4 * np.abs(errors[:, :2]).mean()


def test_similarity_fitted_2d_labels_cost_about_a_centimetre():
    """The Human3.6M caches' 2D labels (what the network learns) are a similarity fit of the
    perspective projection; fed to the solver as perfect predictions, they place the root this far
    off (the figure docs/camera.md states)."""
    rng = np.random.default_rng(10)
    camera = h36m_camera(distortion=False)
    poses, roots = scene(rng, 2000)
    points = poses + roots[:, None]
    pixels = project(points, camera)
    inside = ((pixels >= 0) & (pixels < FRAME)).all((1, 2))
    release_3d, release_2d = np.zeros((2000, 32, 3)), np.zeros((2000, 32, 2))
    release_3d[:, OFFICIAL_TO_H36M17], release_2d[:, OFFICIAL_TO_H36M17] = points, pixels
    fitted = cache_labels(release_2d, release_3d)["joints_3d"][:, :17, :2]
    errors = np.linalg.norm(root_from_pose(fitted[:, H36M_TO_MPII], poses, camera) - roots, axis=-1)[inside]
    assert errors.mean() == pytest.approx(13.6, rel=0.1) and np.percentile(errors, 95) < 50
    assert np.abs(root_from_pose(pixels[:, H36M_TO_MPII], poses, camera) - roots).max() < 1e-6


def test_leading_axes_are_batched_like_single_solves():
    rng = np.random.default_rng(3)
    camera = h36m_camera()
    poses, roots = scene(rng, 12)
    pixels = project(poses + roots[:, None], camera) + rng.normal(0, 2, (12, 17, 2))  # noisy
    weights = rng.uniform(0.1, 1, (12, 17))
    one_by_one = np.stack([root_translation(pixels[i], poses[i], camera, weights[i]) for i in range(12)])
    batched = root_translation(
        pixels.reshape(3, 4, 17, 2), poses.reshape(3, 4, 17, 3), camera, weights.reshape(3, 4, 17)
    )
    assert batched.shape == (3, 4, 3)
    np.testing.assert_allclose(batched.reshape(12, 3), one_by_one, rtol=1e-9)
    assert np.linalg.norm(one_by_one - roots, axis=-1).max() < 200  # noisy, yet near the truth
    # one pose for several frames of 2D (broadcast leading axes)
    shared = root_translation(pixels[:4], poses[0], camera)
    np.testing.assert_allclose(shared, np.stack([root_translation(p, poses[0], camera) for p in pixels[:4]]))


def test_weights_choose_the_joints():
    rng = np.random.default_rng(4)
    camera = h36m_camera(distortion=False)
    poses, roots = scene(rng, 1)
    pose, root = poses[0], roots[0]
    pixels = project(pose + root, camera)
    pixels[13] += [150, -80]  # one joint badly placed
    weights = np.ones(17)
    assert np.linalg.norm(root_translation(pixels, pose, camera) - root) > 20
    weights[13] = 0
    assert np.abs(root_translation(pixels, pose, camera, weights) - root).max() < 1e-6
    for weight in (-1, np.nan):  # counts as 0
        weights[13] = weight
        assert np.abs(root_translation(pixels, pose, camera, weights) - root).max() < 1e-6
    pixels[13] = np.nan  # a missing joint counts as weight 0
    assert np.abs(root_translation(pixels, pose, camera) - root).max() < 1e-6
    # an integer weight counts a joint that many times; a common factor changes nothing
    noisy = project(pose + root, camera) + rng.normal(0, 3, (17, 2))
    counts = rng.integers(1, 4, 17)
    repeated = root_translation(np.repeat(noisy, counts, 0), np.repeat(pose, counts, 0), camera)
    np.testing.assert_allclose(root_translation(noisy, pose, camera, counts), repeated, rtol=1e-9)
    np.testing.assert_allclose(root_translation(noisy, pose, camera, 7.5 * counts), repeated, rtol=1e-9)


def test_roots_too_close_behind_or_unfixed_are_nan():
    rng = np.random.default_rng(5)
    camera = h36m_camera()
    pose = random_pose(rng)
    near, behind = [0, 0, MIN_ROOT_DEPTH_MM - 50], [0, 0, -4000]
    far = [0, 0, MIN_ROOT_DEPTH_MM + 1000]
    # the 2D a behind-camera person would give through the (mirroring) pinhole equations
    mirrored = pinhole_pixels(pose + behind, camera.fx, camera.fy, camera.cx, camera.cy)
    pixels = np.stack([project(pose + near, camera), project(pose + far, camera), mirrored])
    found = root_translation(pixels, np.stack([pose] * 3), camera)
    assert np.isnan(found[0]).all() and np.isnan(found[2]).all()
    assert np.abs(found[1] - far).max() < 1.0
    one_point = np.broadcast_to(pixels[1, :1], pixels[1].shape)  # every joint at one pixel: no depth
    assert np.isnan(root_translation(one_point, pose, camera)).all()
    collapsed = one_point + rng.normal(0, 1e-5, (8, *one_point.shape))  # 1e-5 px across: a dot
    assert np.isnan(root_translation(collapsed, pose, camera)).all()
    assert np.isnan(root_translation(pixels[1], pose, camera, np.zeros(17))).all()
    assert np.isnan(project(pose + behind, camera)).all()


def test_root_from_pose_uses_the_15_shared_joints():
    rng = np.random.default_rng(6)
    camera = h36m_camera()
    poses, roots = scene(rng, 5)
    h36m_pixels = project(poses + roots[:, None], camera)
    mpii_pixels = h36m_pixels[:, H36M_TO_MPII]  # MPII thorax <- H36M spine: not a shared joint
    mpii_pixels[:, MPII_JOINTS.index("thorax")] += 40
    pose_abs = poses + 1000.0  # the pelvis is the origin whatever the pose's offset
    assert np.abs(root_from_pose(mpii_pixels, pose_abs, camera) - roots).max() < 1e-3
    mpii_pixels[:, MPII_JOINTS.index("l_wrist")] += 60
    confidence = np.ones((5, 16))
    assert np.linalg.norm(root_from_pose(mpii_pixels, poses, camera, confidence) - roots, axis=-1).min() > 1
    confidence[:, MPII_JOINTS.index("l_wrist")] = 0
    assert np.abs(root_from_pose(mpii_pixels, poses, camera, confidence) - roots).max() < 1e-3


# --- where the intrinsics come from ------------------------------------------------------------


def test_field_of_view_spans_the_longer_side():
    for width, height, fov in ((640, 480, 55), (720, 1280, 70), (1000, 1000, 30)):
        camera = Intrinsics.from_fov(width, height, fov)
        assert camera.source == "fov" and camera.fx == camera.fy
        # the rays through the outer edges of the first and last pixel of the longer side
        longer, centre = (width, camera.cx) if width >= height else (height, camera.cy)
        edges = np.array([-0.5, longer - 0.5])
        angles = np.degrees(np.arctan((edges - centre) / camera.fx))
        assert angles[1] - angles[0] == pytest.approx(fov)
        assert (camera.cx, camera.cy) == ((width - 1) / 2, (height - 1) / 2)
    for bad in (0, 180, -5, 179.999999, 0.5):
        with pytest.raises(UserError, match="field of view .* degrees: needs to lie from 1 to 170"):
            Intrinsics.from_fov(640, 480, bad)


def write_jpeg(path, width, height, focal_35mm=None):
    exif = Image.Exif()
    if focal_35mm is not None:
        exif[0x8769] = {0xA405: focal_35mm}  # Exif sub-IFD, FocalLengthIn35mmFilm (Pillow >= 10.3)
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(path, exif=exif)
    return str(path)


def test_exif_focal_length(tmp_path):
    photo = write_jpeg(tmp_path / "phone.jpg", 64, 48, focal_35mm=26)
    camera = Intrinsics.from_exif(photo, 4000, 3000)  # the size the photo is used at
    assert camera.source == "exif"
    assert camera.fx == camera.fy == pytest.approx(26 / FILM_DIAGONAL_MM * 5000)  # the diagonal: 5000 px
    assert (camera.cx, camera.cy) == (1999.5, 1499.5)
    assert Intrinsics.from_exif(write_jpeg(tmp_path / "plain.jpg", 64, 48), 64, 48) is None
    assert Intrinsics.from_exif(write_jpeg(tmp_path / "zero.jpg", 64, 48, focal_35mm=0), 64, 48) is None
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    assert Intrinsics.from_exif(str(tmp_path / "clip.mp4"), 64, 48) is None
    with pytest.raises(UserError, match="not found"):
        Intrinsics.from_exif(str(tmp_path / "nowhere.jpg"), 64, 48)


def test_exif_focal_length_places_an_iphone_12_photo(tmp_path):
    """Perfect labels seen by an iPhone 12's main camera: a 4.2 mm lens on a 5.6 x 4.2 mm sensor,
    4032 x 3024 px, so fx = 4.2 / 5.6 x 4032 = 3024 px. Its EXIF says 26 mm: the 35 mm lens with
    the same angle over the diagonal (4.2 x 43.27 / 7.0 = 25.96, rounded as the tag holds whole
    mm). The diagonal rule finds fx and every depth within that rounding (0.15 %); the longer-side
    rule (26 / 36 x 4032 = 2912 px) would place everyone 3.7 % too close."""
    width, height = 4032, 3024
    truth = Intrinsics(3024.0, 3024.0, (width - 1) / 2, (height - 1) / 2)
    f35 = round(4.2 * FILM_DIAGONAL_MM / math.hypot(5.6, 4.2))
    assert f35 == 26
    camera = Intrinsics.from_exif(write_jpeg(tmp_path / "iphone.jpg", 64, 48, focal_35mm=f35), width, height)
    assert camera.fx == pytest.approx(truth.fx, rel=0.002)
    rng = np.random.default_rng(7)
    poses, roots = scene(rng, 4, truth)
    found = root_translation(project(poses + roots[:, None], truth), poses, camera)
    np.testing.assert_allclose(found[:, 2], roots[:, 2], rtol=0.002)


@pytest.fixture
def small_bomb_limit(monkeypatch):
    """Pillow's decompression-bomb limit lowered to 1000 pixels, so that small photos cross it:
    a warning above 1000 pixels, a refusal above 2000."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)


def test_a_photo_over_the_decompression_bomb_limit_skips_its_exif(tmp_path, small_bomb_limit, capsys):
    huge = write_jpeg(tmp_path / "huge.jpg", 64, 48, focal_35mm=26)  # 3072 pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Intrinsics.from_exif(huge, 64, 48) is None
        assert choose_intrinsics(64, 48, image_path=huge).source == "fov"
        large = write_jpeg(tmp_path / "large.jpg", 40, 30, focal_35mm=26)  # 1200: only a warning in Pillow
        assert Intrinsics.from_exif(large, 40, 30).fx == pytest.approx(26 / FILM_DIAGONAL_MM * 50)
    notice = f"notice: {huge} has more than 2000 pixels, Pillow's decompression-bomb limit: its EXIF focal length"
    assert capsys.readouterr().out == f"{notice} is skipped\n" * 2


def test_json_calibration_both_forms(tmp_path):
    dist = [-0.2, 0.1, 0.001, -0.002, 0.01]
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"fx": 1000, "fy": 1010, "cx": 320.5, "cy": 240.25, "dist": dist}))
    matrix = tmp_path / "matrix.json"
    matrix.write_text(json.dumps({"K": [[1000, 0, 320.5], [0, 1010, 240.25], [0, 0, 1]], "dist": dist}))
    for path in (flat, matrix):
        camera = Intrinsics.load(str(path))
        assert camera.to_json() == {"fx": 1000, "fy": 1010, "cx": 320.5, "cy": 240.25, "dist": dist, "source": "file"}
        np.testing.assert_array_equal(camera.K, [[1000, 0, 320.5], [0, 1010, 240.25], [0, 0, 1]])
    none = tmp_path / "none.json"
    none.write_text(json.dumps({"fx": 800, "fy": 800, "cx": 320, "cy": 240, "dist": None}))
    assert Intrinsics.load(str(none)).dist is None
    zeros = tmp_path / "zeros.json"
    zeros.write_text(json.dumps({"fx": 800, "fy": 800, "cx": 320, "cy": 240, "dist": [0, 0, 0, 0, 0]}))
    assert Intrinsics.load(str(zeros)).dist is None


def write_opencv_calibration(path, matrix, dist):
    """As OpenCV's calibration sample saves its result (cv::FileStorage)."""
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    storage.write("image_width", 1920)
    storage.write("image_height", 1080)
    storage.write("camera_matrix", matrix)
    storage.write("distortion_coefficients", dist)
    storage.release()
    return str(path)


@pytest.mark.parametrize("extension", ["yml", "yaml", "xml"])
def test_opencv_calibration_files(tmp_path, extension):
    matrix = np.array([[1402.5, 0, 961.25], [0, 1399.75, 540.5], [0, 0, 1]])
    dist = np.array([[-0.31], [0.12], [0.0007], [-0.0011], [-0.02]])  # 5 x 1, as calibrateCamera gives
    camera = Intrinsics.load(write_opencv_calibration(tmp_path / f"calib.{extension}", matrix, dist))
    np.testing.assert_allclose(camera.K, matrix)
    np.testing.assert_allclose(camera.dist, dist.ravel())
    assert camera.source == "file"


def one_line(error):
    text = str(error.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_bad_calibration_files_are_one_line(tmp_path):
    def fails(name, content, needle):
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        with pytest.raises(UserError) as error:
            Intrinsics.load(str(path))
        assert needle in one_line(error) and str(path) in str(error.value)

    fails("absent.json", None, "not found")
    fails("broken.json", "{fx: 1", "cannot read")
    fails("list.json", "[1, 2]", "expected an object")
    fails("partial.json", '{"fx": 1, "fy": 1}', "lacks cx, cy")
    fails("words.json", '{"fx": "wide", "fy": 1, "cx": 1, "cy": 1}', "must be numbers")
    fails("negative.json", '{"fx": -5, "fy": 1, "cx": 1, "cy": 1}', "need fx, fy from 1 to 1e+06 px")
    fails("tiny.json", '{"fx": 1e-6, "fy": 1e-6, "cx": 1, "cy": 1}', "need fx, fy from 1 to 1e+06 px")
    fails("far.json", '{"fx": 500, "fy": 500, "cx": 1e300, "cy": 1}', "cx, cy within 1e+06 px of the image's corner")
    fails("skew.json", '{"K": [[1, 0.5, 1], [0, 1, 1], [0, 0, 1]]}', "3 x 3 camera matrix")
    fails("small.json", '{"K": [[1, 0], [0, 1]]}', "3 x 3 camera matrix")
    fails("dist.json", '{"fx": 1, "fy": 1, "cx": 1, "cy": 1, "dist": [0.1, 0.2, 0.3]}', "distortion coefficients")
    fails("calib.txt", "fx=1", "unknown type")
    fails("garbage.yml", "%YAML:1.0\n: : [\n", "cannot read")
    fails("other.yml", "%YAML:1.0\n---\nimage_width: 640\n", "no camera_matrix")


OPENCV_HEADER = "%YAML:1.0\n---\n"


HOSTILE_CALIBRATIONS = {  # name: (content, what the one-line error says)
    "object.yml": (
        OPENCV_HEADER + "camera_matrix: !!python/object/apply:os.system\n  rows: 3\n",
        "camera_matrix is not an OpenCV matrix",
    ),
    "object_list.yaml": ("camera_matrix: !!python/object/apply:os.system ['echo hi']\n", "not an OpenCV matrix"),
    "huge.yml": (
        OPENCV_HEADER + "camera_matrix: !!opencv-matrix\n  rows: 100000\n  cols: 100000\n  dt: d\n  data: [1.]\n",
        "camera_matrix is 100000 x 100000: a calibration's has at most 9 numbers",
    ),
    "long_dist.yml": (
        OPENCV_HEADER
        + "camera_matrix: !!opencv-matrix\n  rows: 3\n  cols: 3\n  dt: d\n  data: [1, 0, 1, 0, 1, 1, 0, 0, 1]\n"
        + "distortion_coefficients: !!opencv-matrix\n  rows: 1\n  cols: 50000000\n  dt: d\n  data: [0.]\n",
        "distortion_coefficients is 1 x 50000000: a calibration's has at most 14 numbers",
    ),
    "deep.yml": (OPENCV_HEADER + "camera_matrix: " + "[" * 100000 + "]" * 100000 + "\n", "Too many nested"),
    "deep.json": ('{"K": ' + "[" * 100000 + "]" * 100000 + "}", "nested too deeply"),
    "large.json": ('{"fx": 1, "fy": 1, "cx": 1, "cy": 1}' + " " * (1 << 20), "files over 1 MiB are not read"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CALIBRATIONS))
def test_hostile_calibration_files_are_one_line(tmp_path, name):
    content, needle = HOSTILE_CALIBRATIONS[name]
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UserError) as error:
        Intrinsics.load(str(path))
    assert needle in one_line(error) and str(path) in str(error.value)


def test_the_chosen_intrinsics_file_then_exif_then_fov(tmp_path):
    photo = write_jpeg(tmp_path / "photo.jpg", 64, 48, focal_35mm=50)
    plain = write_jpeg(tmp_path / "plain.jpg", 64, 48)
    calibration = tmp_path / "calib.json"
    calibration.write_text(json.dumps({"fx": 70, "fy": 71, "cx": 30, "cy": 20}))
    assert choose_intrinsics(64, 48, file=str(calibration), image_path=photo).to_json()["fx"] == 70
    exif = choose_intrinsics(64, 48, image_path=photo)
    assert exif.source == "exif" and exif.fx == pytest.approx(50 / FILM_DIAGONAL_MM * 80)
    fov = choose_intrinsics(64, 48, image_path=photo, use_exif=False, fov_deg=60)
    assert fov.source == "fov" and fov.fx == pytest.approx(32 / math.tan(math.radians(30)))
    assert choose_intrinsics(64, 48, image_path=plain).source == "fov"
    assert choose_intrinsics(64, 48).to_json() == Intrinsics.from_fov(64, 48).to_json()
