"""Image geometry: affine crops, mapping back to the image, Gaussian heatmap targets, box aspect.

Conventions (``docs/reference.md``, "Crops and geometry"): a crop is given by a centre ``c``,
a box size ``s = (s_w, s_h)`` in pixels and a rotation in degrees; it is mapped onto an output of
``(w, h)`` pixels. The point triples are held in float32 before OpenCV solves the transform, as
the original did: this keeps crops bit-compatible with the released models' training data.
"""

import cv2
import numpy as np

# ImageNet statistics, applied to the BGR channels as they are (the released weights were trained so).
PIXEL_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
PIXEL_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _third_point(a, b):
    """The point that makes (a, b, c) a right angle at b: b + (a - b) rotated by 90 degrees."""
    d = a - b
    return b + np.array([-d[1], d[0]], np.float32)


def get_affine_transform(center, size, rot, output_size, inv=False):
    """2x3 matrix taking the box (center, size, rot) onto an output of ``output_size = (w, h)``.

    With ``inv=True`` the matrix maps output pixels back to the image.
    """
    size = np.broadcast_to(np.asarray(size, np.float64), (2,))
    out_w, out_h = output_size
    theta = np.pi * rot / 180
    half_w = size[0] * -0.5
    src_dir = np.array([-(half_w * np.sin(theta)), half_w * np.cos(theta)])
    center = np.asarray(center)

    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = center + src_dir
    dst[0] = [out_w * 0.5, out_h * 0.5]
    dst[1] = dst[0] + np.array([0, out_w * -0.5], np.float32)
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


def affine_transform(points, trans):
    """Apply a 2x3 affine matrix to points of shape (..., 2); returns float64."""
    points = np.asarray(points, np.float64)
    return points @ trans[:, :2].T + trans[:, 2]


def transform_preds(coords, center, size, output_size):
    """Map heatmap coordinates (N, 2) of a crop back to image pixels."""
    return affine_transform(coords, get_affine_transform(center, size, 0, output_size, inv=True))


def adjust_aspect_ratio(size, aspect_ratio, fit_short_side=False):
    """Grow (or, with ``fit_short_side``, shrink) a box (w, h) to the aspect ratio w / h."""
    w, h = float(size[0]), float(size[1])
    if w > aspect_ratio * h:
        if fit_short_side:
            w = h * aspect_ratio
        else:
            h = w / aspect_ratio
    elif w < aspect_ratio * h:
        if fit_short_side:
            h = w / aspect_ratio
        else:
            w = h * aspect_ratio
    return np.array([w, h])


def _gaussian_patch(sigma):
    """The (6 sigma + 1)^2 patch exp(-d^2 / 2 sigma^2), float32 like the original targets."""
    radius = int(3 * sigma)
    x = np.arange(2 * radius + 1, dtype=np.float32) - radius
    return np.exp(-(x[None, :] ** 2 + x[:, None] ** 2) / np.float32(2 * sigma**2)), radius


def gaussian_maps(points, height, width, sigma, valid=None):
    """Heatmaps (N, height, width), one Gaussian each, centred at ``int(x + 0.5), int(y + 0.5)``.

    All maps are built in one gather from a single precomputed patch (no per-joint loop); a patch
    is clipped at the borders and a point flagged invalid (or whose patch is entirely outside)
    gives an empty map.
    """
    patch, radius = _gaussian_patch(sigma)
    centers = np.trunc(np.asarray(points, np.float64).reshape(-1, 2) + 0.5).astype(np.int64)
    num = len(centers)
    if num == 0:
        return np.zeros((0, height, width), np.float32)
    iy = np.arange(height)[None, :] - centers[:, 1:2] + radius  # (N, H) row in the patch
    ix = np.arange(width)[None, :] - centers[:, 0:1] + radius  # (N, W) column in the patch
    in_y = (iy >= 0) & (iy <= 2 * radius)
    in_x = (ix >= 0) & (ix <= 2 * radius)
    if valid is not None:
        in_y &= np.asarray(valid, bool).reshape(-1, 1)
    maps = patch[np.clip(iy, 0, 2 * radius)[:, :, None], np.clip(ix, 0, 2 * radius)[:, None, :]]
    maps *= in_y[:, :, None] & in_x[:, None, :]
    return maps


def draw_gaussian(heatmap, point, sigma):
    """Draw one Gaussian into ``heatmap`` in place, keeping the maximum where they overlap."""
    np.maximum(heatmap, gaussian_maps([point], *heatmap.shape, sigma)[0], out=heatmap)
    return heatmap


# (x / 256 - mean) / std as one multiply-add per value.
_NORM_SCALE = (1.0 / (256.0 * PIXEL_STD)).astype(np.float32)
_NORM_OFFSET = (-PIXEL_MEAN / PIXEL_STD).astype(np.float32)


def mirror_matrix(width):
    """3x3 matrix of the horizontal mirror x -> width - 1 - x."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def crop_and_normalize(image, center, size, rot, input_w, input_h, mirrored=False):
    """Warp the box out of a BGR image and normalise it to a float32 CHW network input.

    With ``mirrored`` the box is given in the horizontally mirrored image: the mirror is folded
    into the warp, which reads the original image (no mirrored copy of the whole image).
    """
    trans = get_affine_transform(center, size, rot, (input_w, input_h))
    if mirrored:
        trans = trans @ mirror_matrix(image.shape[1])
    crop = cv2.warpAffine(image, trans, (input_w, input_h), flags=cv2.INTER_LINEAR)
    chw = np.empty((3, input_h, input_w), np.float32)
    for c in range(3):
        np.multiply(crop[:, :, c], _NORM_SCALE[c], out=chw[c], dtype=np.float32)
        chw[c] += _NORM_OFFSET[c]
    return chw
