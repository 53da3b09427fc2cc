import numpy as np
import pytest

from helpers import golden
from hg3d.geometry import (
    adjust_aspect_ratio,
    affine_transform,
    draw_gaussian,
    gaussian_maps,
    get_affine_transform,
    transform_preds,
)

TOL = {"rtol": 1e-4, "atol": 1e-6}
AFFINE_CASES = [
    ((320.5, 240), 400, 0, (256, 256)),
    ((100, 80), (300, 200), 25, (64, 64)),
    ((500, 510), 1000, -40, (288, 384)),
]


@pytest.fixture(scope="module")
def image_golden():
    return np.load(golden("image.npz"))


@pytest.mark.parametrize("case", range(3))
def test_affine_matches_golden(image_golden, case):
    center, size, rot, out = AFFINE_CASES[case]
    for inv in (0, 1):
        got = get_affine_transform(np.array(center, np.float32), size, rot, out, inv=bool(inv))
        np.testing.assert_allclose(got, image_golden["affine"][case, inv], **TOL)


def test_inverse_affine_undoes_forward():
    center, size, rot, out = AFFINE_CASES[1]
    fwd = get_affine_transform(np.array(center), size, rot, out)
    inv = get_affine_transform(np.array(center), size, rot, out, inv=True)
    pts = np.random.default_rng(0).uniform(0, 300, (10, 2))
    np.testing.assert_allclose(affine_transform(affine_transform(pts, fwd), inv), pts, atol=1e-3)


def test_transform_preds_matches_golden(image_golden):
    got = transform_preds(image_golden["coords"], np.array([320.5, 240]), 400, (64, 64))
    np.testing.assert_allclose(got, image_golden["transform_preds"], **TOL)


def test_gaussians_match_golden_exactly(image_golden):
    heatmap = np.zeros((64, 64), np.float32)
    draw_gaussian(heatmap, (10.4, 62.7), 2)
    draw_gaussian(heatmap, (-2, 30), 2)
    np.testing.assert_array_equal(heatmap, image_golden["gauss"])


def test_gaussian_maps_batch_equals_single_draws():
    points = np.array([[10, 10], [63, 0], [-7, 30], [100, 100], [31.6, 40.4]])
    maps = gaussian_maps(points, 64, 48, 2, valid=[1, 1, 1, 1, 0])
    for i, point in enumerate(points[:4]):
        single = draw_gaussian(np.zeros((64, 48), np.float32), point, 2)
        np.testing.assert_array_equal(maps[i], single)
    assert maps[3].max() == 0 and maps[4].max() == 0  # outside / invalid: nothing drawn
    assert maps[0, 10, 10] == 1.0


def test_adjust_aspect_ratio_matches_golden(image_golden):
    got = [
        adjust_aspect_ratio((300, 200), 0.75),
        adjust_aspect_ratio((300, 200), 0.75, True),
        adjust_aspect_ratio((100, 200), 1.0),
    ]
    np.testing.assert_allclose(np.array(got), image_golden["aspect"], **TOL)


def test_mirrored_crop_equals_crop_of_mirrored_image():
    from hg3d.geometry import crop_and_normalize

    rng = np.random.default_rng(0)
    image = cv2_blur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    center = np.array([70.3, 55.8], np.float32)  # in the mirrored image
    folded = crop_and_normalize(image, center, (90, 90), 15, 64, 64, mirrored=True)
    copied = crop_and_normalize(np.ascontiguousarray(image[:, ::-1]), center, (90, 90), 15, 64, 64)
    assert np.abs(folded - copied).max() * 0.229 * 256 <= 2.0  # within 2 intensity levels
    assert np.abs(folded - copied).mean() * 0.229 * 256 < 0.2


def cv2_blur(image):
    import cv2

    return cv2.GaussianBlur(image, (7, 7), 2)
