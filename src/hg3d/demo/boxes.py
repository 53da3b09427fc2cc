"""The person boxes given on the command line (``--bbox``) or in a file (``--bboxes``), and what
each image or video frame gets of them.

An entry is (depth, boxes): depth 1 for one box [x, y, w, h], 2 for a list of boxes, 3 for a list
of box lists (one per video frame).
"""

import numbers
import os

from ..errors import UserError
from ..files import read_json

MAX_BOX_PX = 1e5  # box coordinates and sizes larger than any image (NaN is not within it either)


def _is_box(value):
    return isinstance(value, list) and bool(value) and isinstance(value[0], numbers.Number)


def parse_bbox(value, where):
    try:
        box = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        box = []
    if len(box) != 4 or not all(abs(v) <= MAX_BOX_PX for v in box) or box[2] <= 0 or box[3] <= 0:
        raise UserError(
            f"{where}: expected x,y,w,h in pixels with positive width and height, each within "
            f"{MAX_BOX_PX:g} px, got '{value}'"
        )
    return box


def parse_box_entry(value, where):
    """The (depth, boxes) entry of a --bboxes value."""
    if _is_box(value):
        return 1, parse_bbox(value, where)
    if isinstance(value, list) and all(_is_box(v) for v in value):
        return 2, [parse_bbox(v, where) for v in value]
    if isinstance(value, list) and all(isinstance(v, list) and all(_is_box(b) for b in v) for v in value):
        return 3, [[parse_bbox(b, f"{where} frame {i}") for b in v] for i, v in enumerate(value)]
    raise UserError(
        f"{where}: expected [x, y, w, h], a list of them, or (video) one list per frame, got {str(value)[:80]}"
    )


def load_bboxes(path):
    boxes = read_json(path, "--bboxes")
    if not isinstance(boxes, dict):
        raise UserError(f'--bboxes {path}: expected a json object {{"image name": [x, y, w, h]}}')
    return {name: parse_box_entry(box, f"--bboxes {path} entry '{name}'") for name, box in boxes.items()}


def box_entry(opt, path):
    """(depth, boxes) given for ``path`` by --bboxes (by file name or path), else --bbox, else None."""
    return opt.bboxes.get(os.path.basename(path), opt.bboxes.get(path, opt.bbox))


def all_boxes(entry):
    """Every box of an entry, whatever its depth."""
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
