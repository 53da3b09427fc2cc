"""What the demo reads: the images and videos under ``--demo``, their output names, and the person
boxes given for each (``--bbox``/``--bboxes``)."""

import os

import cv2

from ..errors import UserError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2"}
# Read as videos without a look inside; any other file that OpenCV opens as a video (and not as an
# image) is a video too.
VIDEO_EXTENSIONS = {
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts", ".m2ts",
    ".ogv",
}  # fmt: skip


def _extension(path):
    return os.path.splitext(path)[1].lower()


def opens_as_video(path):
    """Whether OpenCV reads a frame of ``path`` as a video (an image file is not one)."""
    if cv2.haveImageReader(path):
        return False
    capture = cv2.VideoCapture(path)
    try:
        return capture.isOpened() and capture.grab()
    finally:
        capture.release()


def is_video(path):
    ext = _extension(path)
    return ext in VIDEO_EXTENSIONS or (ext not in IMAGE_EXTENSIONS and opens_as_video(path))


def find_inputs(path, recursive):
    """(images, videos) to process for ``path``; a folder lists its images and videos, sorted (a
    file there that is neither is left out)."""
    if not os.path.exists(path):
        raise UserError(f"--demo {path} does not exist")
    if os.path.isfile(path):
        return ([], [path]) if is_video(path) else ([path], [])
    if recursive:
        files = [os.path.join(d, f) for d, _, names in os.walk(path) for f in names]
    else:
        files = [os.path.join(path, f) for f in os.listdir(path)]
    files = sorted(f for f in files if os.path.isfile(f))
    images = [f for f in files if _extension(f) in IMAGE_EXTENSIONS]
    videos = [f for f in files if _extension(f) not in IMAGE_EXTENSIONS and is_video(f)]
    if not images and not videos:
        raise UserError(f"--demo {path}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) or videos there")
    return images, videos


def output_names(paths, root):
    """Output file stem of each input: the path relative to the --demo folder, '/' as '__'; inputs
    that would share a stem (a.jpg and a.png) keep their extension (a_jpg, a_png) instead of
    overwriting each other's outputs."""
    base = os.path.dirname(root) if os.path.isfile(root) else root
    rel = [os.path.relpath(path, base).replace(os.sep, "__") for path in paths]
    stems = [os.path.splitext(r)[0] for r in rel]
    return {path: r.replace(".", "_") if stems.count(stem) > 1 else stem for path, r, stem in zip(paths, rel, stems)}
