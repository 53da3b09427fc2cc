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


def box_entry(opt, path):
    """(depth, boxes) given for ``path`` by --bboxes (by file name or path), else --bbox, else None."""
    return opt.bboxes.get(os.path.basename(path), opt.bboxes.get(path, opt.bbox))


def all_boxes(entry):
    """Every box of a --bbox/--bboxes entry, whatever its depth."""
    depth, boxes = entry
    return [boxes] if depth == 1 else boxes if depth == 2 else [b for frame in boxes for b in frame]


def most_boxes(entry):
    """The most boxes an entry gives one image or frame."""
    depth, boxes = entry
    return 1 if depth == 1 else max([len(boxes)] if depth == 2 else [len(b) for b in boxes] + [1])


def frame_boxes(entry, index):
    """The boxes an entry gives frame ``index`` of a video (a list; none past a per-frame list),
    or None when nothing was given."""
    if entry is None:
        return None
    depth, boxes = entry
    if depth == 3:
        return boxes[index] if index < len(boxes) else []
    return all_boxes(entry)


def image_boxes(entry, path):
    """The boxes given for an image (a list), or None when none were given."""
    if entry is None:
        return None
    if entry[0] == 3:
        raise UserError(
            f"--bboxes entry of {path}: a list of box lists per frame is for videos; "
            f"give an image [x, y, w, h] or [[x, y, w, h], ...]"
        )
    return all_boxes(entry)
