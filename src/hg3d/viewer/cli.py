"""``hg3d-view <demo JSON> [-o out.html]``: the viewer page of an existing demo result, without
running the network again."""

import os

from ..errors import OneLineParser, UserError
from .page import load_result, write_record


def parse_view_opts(argv=None):
    parser = OneLineParser(
        "view.py", description="Write the 3D viewer (one self-contained HTML file) of a demo result."
    )
    parser.add_argument("result", help="the JSON that hg3d-demo wrote (<name>.json)")
    parser.add_argument("-o", "--out", help="the page to write (default: <name>.html beside the JSON)")
    parser.add_argument(
        "--video",
        help="the video to play beside the 3D (default for a video result: <name>_2d.mp4 beside the JSON, when there)",
    )
    parser.add_argument(
        "--embed_video", action="store_true", help="put the video inside the page (one file to send, but larger)"
    )
    return parser.parse_args(argv)


def default_video(opt, record):
    """The demo's overlay video beside the JSON, for a video result that has one."""
    if opt.video is not None:
        return opt.video
    overlay = os.path.splitext(opt.result)[0] + "_2d.mp4"
    return overlay if "frames" in record and os.path.isfile(overlay) else None


def run_view(argv=None):
    opt = parse_view_opts(argv)
    record, where = load_result(opt.result)
    video = default_video(opt, record)
    if opt.embed_video and video is None:
        raise UserError(f"--embed_video: no video beside {opt.result} (give --video)")
    out = opt.out or os.path.splitext(opt.result)[0] + ".html"
    size = write_record(record, where, out, video, opt.embed_video)
    print(f"{opt.result} -> {out} ({size / 1e6:.1f} MB)")
