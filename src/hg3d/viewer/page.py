"""The viewer page: one HTML file holding three.js (vendored, as ``data:`` modules of an import map),
the viewer's script and style, and the poses of a demo result; the overlay video is referenced by a
path relative to the page, or embedded; an image result's overlay picture is embedded. Opened from
disk it makes no network request.
"""

import base64
import html
import json
import math
import os
import re
import urllib.parse

import cv2
import numpy as np

from ..angles import ANGLE_NAMES
from ..errors import UserError
from ..files import atomic_write, read_json, write_bytes
from ..joints import H36M_EDGES, H36M_JOINTS, NUM_H36M_JOINTS
from ..visualize import person_name

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
STATIC_DIR = os.path.join(PACKAGE_DIR, "static")
THREE_DIR = os.path.join(PACKAGE_DIR, "vendor", "three")
THREE_VERSION = "0.185.1"
# three.module.min.js imports its core by this relative name, which a data: module cannot resolve;
# the page maps it to a bare name of the import map instead.
CORE_IMPORT, CORE_NAME = '"./three.core.min.js"', '"three/core"'
ORBIT_CONTROLS = "three/addons/controls/OrbitControls.js"
# An image result's picture goes into the page at most this many pixels on its longer side, as JPEG:
# enough to tell people apart beside the 3D; a phone's 12-megapixel photo goes in as 1600 x 1200.
PHOTO_MAX_SIDE = 1600
PHOTO_JPEG_QUALITY = 90


def _read_text(folder, name):
    with open(os.path.join(folder, name), encoding="utf-8") as handle:
        return handle.read()


def _module_url(source):
    return "data:text/javascript;base64," + base64.b64encode(source.encode("utf-8")).decode("ascii")


def import_map():
    """The import map that serves three.js, its core and OrbitControls from ``data:`` URLs."""
    module = _read_text(THREE_DIR, "three.module.min.js")
    if CORE_IMPORT not in module:
        raise RuntimeError(f"{THREE_DIR}/three.module.min.js no longer imports {CORE_IMPORT}")
    imports = {
        "three": _module_url(module.replace(CORE_IMPORT, CORE_NAME)),
        CORE_NAME.strip('"'): _module_url(_read_text(THREE_DIR, "three.core.min.js")),
        ORBIT_CONTROLS: _module_url(_read_text(THREE_DIR, "OrbitControls.js")),
    }
    return json.dumps({"imports": imports})


def load_result(result):
    """The demo's JSON as a dict, and how to name it in errors; ``result`` is a dict or a path."""
    if isinstance(result, dict):
        record, where = result, "the demo result"
    else:
        where = os.fspath(result)
        record = read_json(where, "demo result")
    if not isinstance(record, dict) or not isinstance(record.get("frames", record.get("people")), list):
        raise UserError(f"{where} is not a demo result (no 'people' or 'frames' list): give the .json hg3d-demo wrote")
    return record, where


def person_pose(person, where):
    """``{"id", "joints", "placed"}`` of one person of the JSON, or None when it has no 3D pose
    (null: every joint decoded to one point). ``joints``: camera-space where placed, else root-relative."""
    if "joints_3d_h36m_mm" not in person:
        raise UserError(f"{where} has no 3D joints (written with a 2D checkpoint?): the viewer needs a 3D result")
    placed = person.get("joints_3d_cam_mm") is not None
    joints = person["joints_3d_cam_mm"] if placed else person["joints_3d_h36m_mm"]
    if joints is None:
        return None
    try:
        array = np.asarray(joints, np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape != (NUM_H36M_JOINTS, 3) or not np.isfinite(array).all():
        raise UserError(f"{where}: a person's 3D joints are not {NUM_H36M_JOINTS} x 3 finite numbers")
    track = person.get("track_id")
    person_id = person.get("index", 0) if track is None else track
    if not isinstance(person_id, int):
        raise UserError(f"{where}: a person's track_id/index {person_id!r} is not a whole number")
    shown_as = person_name({"track_id": track, "index": person_id})  # as the demo's overlay labels them
    pose = {"id": person_id, "name": shown_as, "joints": array.tolist(), "placed": placed}
    if isinstance(person.get("angles"), dict):  # --angles (docs/motion.md): the chart under the 3D view
        angles = [person["angles"].get(name) for name in ANGLE_NAMES]
        if not all(a is None or (isinstance(a, (int, float)) and np.isfinite(a)) for a in angles):
            raise UserError(f"{where}: a person's angles are not numbers or null")
        pose["angles"] = angles
    return pose


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_frame_number(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _field(holder, key, check, wanted, where, default=None):
    """``holder[key]`` (``default`` when absent or null), or a one-line ``UserError`` naming the
    field and what it should be when ``check`` refuses it: the page's script uses these as they are."""
    value = holder.get(key)
    if value is None:
        return default
    if not check(value):
        raise UserError(f"{where}: '{key}' is {json.dumps(value)[:60]}, not {wanted}")
    return value


def scene_frames(record, where):
    """Per frame: its number, time and the people with a 3D pose (an image is one frame)."""
    frames = record.get("frames", [{"frame": 0, "time_s": 0.0, "people": record.get("people")}])
    if not frames:
        raise UserError(f"{where} has no frames: the demo could read no frame of its video")
    scene = []
    for index, frame in enumerate(frames):
        at = f"{where} frame {index}"
        if not isinstance(frame, dict):
            raise UserError(f"{at} is {json.dumps(frame)[:60]}, not an object with 'frame', 'time_s' and 'people'")
        number = _field(frame, "frame", _is_frame_number, "a frame number", at, index)
        time_s = _field(frame, "time_s", _is_number, "a time in seconds", at, 0.0)
        people = _field(
            frame,
            "people",
            lambda v: isinstance(v, list) and all(isinstance(p, dict) for p in v),
            "a list of people (objects)",
            at,
            [],
        )
        poses = [person_pose(person, where) for person in people]
        scene.append({"frame": number, "time_s": time_s, "people": [pose for pose in poses if pose]})
    return scene


def _is_camera(value):
    return isinstance(value, dict) and all(_is_number(value.get(k)) for k in ("fx", "fy", "cx", "cy"))


def scene_data(record, where, video_src=None, photo_src=None):
    """What the page's script draws (see static/viewer.js)."""
    frames = scene_frames(record, where)
    ids = list(dict.fromkeys(person["id"] for frame in frames for person in frame["people"]))
    intrinsics = _field(record, "intrinsics", _is_camera, "an object of numbers fx, fy, cx, cy", where)
    names = _field(
        record,
        "joint_names_h36m",
        lambda v: isinstance(v, list) and len(v) == NUM_H36M_JOINTS and all(isinstance(n, str) for n in v),
        f"a list of {NUM_H36M_JOINTS} joint names",
        where,
        list(H36M_JOINTS),
    )
    for key in ("video", "image"):  # the title
        _field(record, key, lambda v: isinstance(v, str), "a file name", where)
    return {
        "title": os.path.splitext(os.path.basename(record.get("video") or record.get("image") or where))[0],
        "is_video": "frames" in record,
        "fps": _field(record, "fps", lambda v: _is_number(v) and v > 0, "a positive number of frames a second", where),
        "joint_names": names,
        "edges": [list(edge) for edge in H36M_EDGES],
        "tracks": sorted(ids),
        "intrinsics": {k: intrinsics[k] for k in ("fx", "fy", "cx", "cy")} if intrinsics else None,
        "cameras": record.get("viewer_cameras"),  # hg3d-triangulate's, in the drawn camera's frame
        "frames": frames,
        "video": video_src,
        "photo": photo_src,
        "angle_names": list(ANGLE_NAMES),
        "world": _world(record.get("world"), where),
    }


def _world(world, where):
    """The JSON's world frame ({"R", "t"}: the floor is its Y = 0), or None."""
    if world is None:
        return None
    try:
        R, t = np.asarray(world["R"], np.float64), np.asarray(world["t"], np.float64)
    except (TypeError, KeyError, ValueError):
        R = t = None
    if R is None or R.shape != (3, 3) or t.shape != (3,) or not (np.isfinite(R).all() and np.isfinite(t).all()):
        raise UserError(f"{where}: its world is not a 3x3 R and a 3-vector t")
    return {"R": R.tolist(), "t": t.tolist()}


def video_source(video_path, html_path, embed):
    """The ``src`` of the page's video: a path relative to the page (URL-quoted), or a data: URL."""
    if not os.path.isfile(video_path):
        raise UserError(f"video {video_path} not found (give the demo's <name>_2d.mp4, or leave the video out)")
    if embed:
        with open(video_path, "rb") as handle:
            return "data:video/mp4;base64," + base64.b64encode(handle.read()).decode("ascii")
    relative = os.path.relpath(os.path.abspath(video_path), os.path.dirname(os.path.abspath(html_path)))
    return urllib.parse.quote(relative.replace(os.sep, "/"))


def photo_source(photo_path):
    """The ``src`` of an image result's picture (the demo's ``<name>_2d.png``): a JPEG ``data:`` URL,
    shrunk to ``PHOTO_MAX_SIDE`` pixels on its longer side when larger."""
    image = cv2.imread(photo_path, cv2.IMREAD_COLOR) if os.path.isfile(photo_path) else None
    if image is None:
        raise UserError(
            f"picture {photo_path} not found or not an image (give the demo's <name>_2d.png, or leave --photo out)"
        )
    scale = PHOTO_MAX_SIDE / max(image.shape[:2])
    if scale < 1:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    # Full-resolution colour (4:4:4): the overlay's thin coloured bones keep their colour.
    options = [cv2.IMWRITE_JPEG_QUALITY, PHOTO_JPEG_QUALITY]
    options += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    ok, jpeg = cv2.imencode(".jpg", image, options)
    if not ok:
        raise UserError(f"cannot encode picture {photo_path} as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii")


def _script_json(value):
    """JSON that cannot end the <script> element it sits in."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def viewer_html(data):
    """The page for ``scene_data(...)``."""
    parts = {
        "TITLE": html.escape(data["title"]),
        "STYLE": _read_text(STATIC_DIR, "viewer.css"),
        "IMPORT_MAP": import_map(),
        "DATA": _script_json(data),
        "SCRIPT": _read_text(STATIC_DIR, "viewer.js"),
    }
    # One pass over the template: a placeholder inside a filled-in part (a file named
    # "{{SCRIPT}}.jpg" in the title or the data) stays as it is.
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: parts[m.group(1)], _read_text(STATIC_DIR, "viewer.html"))


def write_viewer(result, html_path, video_path=None, embed_video=False, photo_path=None):
    """Write the viewer of ``result`` (the demo's JSON: a dict or its path) to ``html_path``.

    ``video_path``: the overlay video to play in sync beside the 3D (a video result), referenced by
    a path relative to the page, or inside it with ``embed_video``. ``photo_path``: the picture to
    show beside the 3D (an image result's ``<name>_2d.png``), always inside the page. Returns the
    page's size in bytes.
    """
    return write_record(*load_result(result), html_path, video_path, embed_video, photo_path)


def write_record(record, where, html_path, video_path=None, embed_video=False, photo_path=None):
    """``write_viewer`` for a record already loaded (``where`` names it in errors)."""
    video = None if video_path is None else video_source(video_path, html_path, embed_video)
    photo = None if photo_path is None else photo_source(photo_path)
    page = viewer_html(scene_data(record, where, video, photo)).encode("utf-8")
    atomic_write(html_path, lambda tmp: write_bytes(tmp, page))
    return len(page)
