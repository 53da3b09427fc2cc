"""``hg3d-view <demo JSON> [-o out.html]``: the viewer page of an existing demo result, without
running the network again; also of a live run's ``<name>.jsonl`` (its frames so far, e.g. when the
run was killed before writing its JSON)."""

import json
import os

from ..errors import OneLineParser, UserError
from .page import load_result, write_record


def parse_view_opts(argv=None):
    parser = OneLineParser(
        "view.py", description="Write the 3D viewer (one self-contained HTML file) of a demo result."
    )
    parser.add_argument("result", help="the JSON that hg3d-demo wrote (<name>.json), or a live run's <name>.jsonl")
    parser.add_argument("-o", "--out", help="the page to write (default: <name>.html beside the JSON)")
    parser.add_argument(
        "--video",
        help="the video to play beside the 3D (default for a video result: <name>_2d.mp4 beside the JSON, when there)",
    )
    parser.add_argument(
        "--embed_video", action="store_true", help="put the video inside the page (one file to send, but larger)"
    )
    parser.add_argument(
        "--photo",
        help="the picture to show beside the 3D of an image result (default: <name>_2d.png beside the JSON if there)",
    )
    return parser.parse_args(argv)


def default_video(opt, record):
    """The demo's overlay video beside the JSON, for a video result that has one."""
    if opt.video is not None:
        return opt.video
    overlay = os.path.splitext(opt.result)[0] + "_2d.mp4"
    return overlay if "frames" in record and os.path.isfile(overlay) else None


def default_photo(opt, record):
    """The demo's overlay picture beside the JSON, for an image result that has one."""
    if opt.photo is not None:
        if "frames" in record:
            raise UserError(f"--photo: {opt.result} is a video result; its page plays the video (--video)")
        return opt.photo
    overlay = os.path.splitext(opt.result)[0] + "_2d.png"
    return overlay if "frames" not in record and os.path.isfile(overlay) else None


def read_lines(path):
    """A live run's JSON Lines as a video result: one frame per line."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read demo result {path}: {getattr(exc, 'strerror', None) or exc}") from None
    frames = []
    for number, line in enumerate(lines, 1):
        try:
            frames.append(json.loads(line))
        except ValueError as exc:
            raise UserError(
                f"{path} line {number} is not a JSON line ({exc}): give the .jsonl hg3d-demo wrote"
            ) from None
    return {"frames": frames}


def run_view(argv=None):
    opt = parse_view_opts(argv)
    if opt.result.endswith(".jsonl"):
        record, where = load_result(read_lines(opt.result))[0], opt.result
    else:
        record, where = load_result(opt.result)
    video = default_video(opt, record)
    if opt.embed_video and video is None:
        raise UserError(f"--embed_video: no video beside {opt.result} (give --video)")
    out = opt.out or os.path.splitext(opt.result)[0] + ".html"
    size = write_record(record, where, out, video, opt.embed_video, default_photo(opt, record))
    print(f"{opt.result} -> {out} ({size / 1e6:.1f} MB)")
