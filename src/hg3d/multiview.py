"""``hg3d-triangulate``: the demo's JSON of several calibrated views -> people in the world frame.

Per frame: the people of every pair of views are matched by the symmetric epipolar distance of
their joints (Hungarian, ``scipy.optimize.linear_sum_assignment``), the pairs are merged into one
identity per person (cheapest pairs first, never two people of one view in one identity), each
identity is triangulated (``hg3d.triangulation``), and the identities are followed over time by the
demo's ``Tracker`` on the boxes of their joints projected into the first camera. docs/multiview.md
has the details and the output format.
"""

import json
import os

import numpy as np
from scipy.optimize import linear_sum_assignment

from .calibration import check_size, load_cameras, select_cameras
from .errors import OneLineParser, UserError
from .files import atomic_write
from .joints import H36M_JOINTS, MPII_JOINTS, NUM_JOINTS
from .skeleton import to_h36m_order
from .triangulation import DEFAULT_REPROJ_PX, triangulate_points

FORMAT_VERSION = 1
DEFAULT_MATCH_PX = 30.0
FPS_TOLERANCE = 0.01  # views whose frame rates differ by more than 1 % are not one recording
UNITS_NOTE = (
    "joints_3d_world_mm: MPII-16, mm, in the calibration's world frame (its axes as calibrated); null where "
    "fewer than two views agree within reproj_px; joints_3d_world_h36m_mm: the same joints in H36M-17 order "
    "(spine and neck as midpoints, not rescaled); reprojection_px: mean distance between the joint's "
    "projection and its 2D detection over the views used; views: 0-based indices into the views list"
)


def read_view(path):
    """A demo JSON as ``{"path", "media", "fps", "frames": [(frame, time_s, people)]}``, each
    person ``(joints_2d (16, 2), confidence (16,))``."""
    try:
        with open(path) as handle:
            record = json.load(handle)
    except FileNotFoundError:
        raise UserError(f"view {path} not found (--views: the demo's JSON of each camera)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read view {path} as JSON: {exc}") from None
    if not isinstance(record, dict) or record.get("format_version") != 2:
        raise UserError(f"view {path} is not the demo's JSON (format_version 2): run hg3d-demo on that camera first")
    parsed = []
    try:
        if "frames" in record:
            frames = [(f["frame"], float(f["time_s"]), f["people"]) for f in record["frames"]]
        else:
            frames = [(0, 0.0, record["people"])]
        for frame, time_s, people in frames:
            persons = [(np.array(p["joints_2d"], np.float64), np.array(p["confidence"], np.float64)) for p in people]
            if any(j.shape != (NUM_JOINTS, 2) or c.shape != (NUM_JOINTS,) for j, c in persons):
                raise ValueError(f"frame {frame}: a person without 16 joints_2d and 16 confidences")
            parsed.append((frame, time_s, persons))
    except (KeyError, TypeError, ValueError) as exc:
        reason = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UserError(f"view {path} is not a whole demo JSON ({reason}): write it again with hg3d-demo") from None
    return {
        "path": path,
        "media": record.get("video") or record.get("image"),
        "fps": record.get("fps"),
        "frames": parsed,
    }


def media_size(path):
    """(width, height) of an image or video file, or None when it cannot be read."""
    import cv2
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return ImageOps.exif_transpose(image).size  # the demo reads images turned upright
    except (UnidentifiedImageError, OSError):
        pass
    capture = cv2.VideoCapture(path)
    try:
        if capture.isOpened():
            return int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    return None


def check_sizes(cameras, media, views):
    """Each view's image or video (where its file exists) is the size its camera was calibrated at."""
    for camera, path, view in zip(cameras, media, views):
        size = media_size(path) if path and os.path.isfile(path) else None
        if size is not None:
            check_size(camera, size, path if path == view else f"{path} (view {view})")


def aligned_frames(views, offsets):
    """The frames the views share: view v's frame i + offsets[v] goes with frame i of the others.

    Returns a list of (frame, time_s of the first view, [people of each view]). Without offsets
    the views must have the same frame count; frame rates must agree, and so must the frames'
    timestamps (each view timed from its first shared frame, within half a frame)."""
    rates = [view["fps"] for view in views if view["fps"]]
    if rates and max(rates) > min(rates) * (1 + FPS_TOLERANCE):
        listed = ", ".join(f"{view['path']}: {view['fps']:g}" for view in views)
        raise UserError(f"the views have different frame rates ({listed} frames per second): not one recording")
    counts = [len(view["frames"]) - offset for view, offset in zip(views, offsets)]
    if not any(offsets) and len(set(counts)) > 1:
        listed = ", ".join(f"{view['path']}: {len(view['frames'])}" for view in views)
        raise UserError(
            f"the views have different frame counts ({listed}); --offsets N ... shifts each view by whole frames"
        )
    if min(counts) <= 0:
        raise UserError(f"--offsets {' '.join(map(str, offsets))} leave no frame that every view has")
    times = np.array([[f[1] for f in view["frames"][o : o + min(counts)]] for view, o in zip(views, offsets)])
    drift = np.abs((times - times[:, :1]) - (times[0] - times[0, 0]))  # each view timed from its first frame
    if rates and drift.max() > 0.5 / min(rates):
        v, i = np.unravel_index(np.argmax(drift), drift.shape)
        raise UserError(
            f"{views[v]['path']} drifts {drift[v, i]:.3f} s from {views[0]['path']} by its frame "
            f"{views[v]['frames'][i + offsets[v]][0]} (timestamps): the views are not in step"
        )
    frames = []
    for i in range(min(counts)):
        first = views[0]["frames"][i + offsets[0]]
        frames.append((first[0], first[1], [view["frames"][i + o][2] for view, o in zip(views, offsets)]))
    return frames


def essential(camera_a, camera_b):
    """E with x_b^T E x_a = 0 for the normalised image points of one world point."""
    R = camera_b.R @ camera_a.R.T
    t = camera_b.t - R @ camera_a.t
    cross = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    return cross @ R


def homogeneous(camera, joints_2d):
    xy = camera.normalised(joints_2d)
    return np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], -1)


def epipolar_costs(camera_a, people_a, camera_b, people_b):
    """(Na, Nb) mean symmetric epipolar distance (px) between the joints of each person of view a
    and each of view b, weighted by the smaller confidence; inf where no joint is seen in both."""
    joints_a, conf_a = (np.stack(x) for x in zip(*people_a))
    joints_b, conf_b = (np.stack(x) for x in zip(*people_b))
    xa, xb = homogeneous(camera_a, joints_a), homogeneous(camera_b, joints_b)  # (Na, J, 3), (Nb, J, 3)
    E = essential(camera_a, camera_b)
    line_b, line_a = xa @ E.T, xb @ E  # epipolar lines of a's joints in b, and of b's in a
    residual = np.abs(np.einsum("ajk,bjk->abj", line_b, xb))
    focal_a = np.mean([camera_a.intrinsics.fx, camera_a.intrinsics.fy])
    focal_b = np.mean([camera_b.intrinsics.fx, camera_b.intrinsics.fy])
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = (
            residual / np.linalg.norm(line_b[:, None, :, :2], axis=-1) * focal_b
            + residual / np.linalg.norm(line_a[None, :, :, :2], axis=-1) * focal_a
        ) / 2
    weight = np.minimum(conf_a[:, None], conf_b[None])
    weight = np.where(np.isfinite(distance) & (weight > 0), weight, 0.0)
    total = weight.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, np.nan_to_num(distance * weight).sum(-1) / total, np.inf)


def match_people(cameras, people, match_px):
    """The identities of one frame: lists of (view, person index), one view at most once each,
    from the Hungarian matches of every view pair under ``match_px``, merged cheapest first."""
    edges = []
    for a in range(len(cameras)):
        for b in range(a + 1, len(cameras)):
            if not people[a] or not people[b]:
                continue
            cost = epipolar_costs(cameras[a], people[a], cameras[b], people[b])
            rows, cols = linear_sum_assignment(np.where(cost < match_px, cost, 1e12))
            edges += [(cost[i, j], (a, i), (b, j)) for i, j in zip(rows, cols) if cost[i, j] < match_px]
    cluster = {(v, i): frozenset([(v, i)]) for v in range(len(people)) for i in range(len(people[v]))}
    for _, one, other in sorted(edges):
        merged_a, merged_b = cluster[one], cluster[other]
        if merged_a is merged_b or {v for v, _ in merged_a} & {v for v, _ in merged_b}:
            continue
        merged = merged_a | merged_b
        for member in merged:
            cluster[member] = merged
    return sorted({tuple(sorted(c)) for c in cluster.values()})


def box_of(points):
    finite = points[np.isfinite(points).all(-1)]
    if not len(finite):
        return None
    low, high = finite.min(0), finite.max(0)
    return np.concatenate([low, np.maximum(high - low, 1.0)])


def _listed(array, digits):
    return [None if not np.isfinite(row).all() else np.round(row, digits).tolist() for row in array]


def triangulate_views(cameras, frames, reproj_px=DEFAULT_REPROJ_PX, match_px=DEFAULT_MATCH_PX):
    """Every frame's people in the world frame: (frame records, notes)."""
    from .demo.tracking import Tracker

    identities = [
        (index, group)
        for index, (_, _, people) in enumerate(frames)
        for group in match_people(cameras, people, match_px)
    ]
    single = [(index, group) for index, group in identities if len(group) < 2]
    identities = [(index, group) for index, group in identities if len(group) >= 2]
    num_views = len(cameras)
    pixels = np.full((num_views, len(identities), NUM_JOINTS, 2), np.nan)
    weights = np.zeros((num_views, len(identities), NUM_JOINTS))
    for n, (index, group) in enumerate(identities):
        for view, person in group:
            pixels[view, n], weights[view, n] = frames[index][2][view][person]
    points, error, used = triangulate_points(
        cameras, pixels.reshape(num_views, -1, 2), weights.reshape(num_views, -1), reproj_px
    )
    points = points.reshape(-1, NUM_JOINTS, 3)
    error = error.reshape(-1, NUM_JOINTS)
    used = used.reshape(-1, NUM_JOINTS, num_views)

    # Tracked in the world frame (boxes in space), so a person no camera in particular sees keeps an id too.
    tracker, records, by_frame = Tracker(dims=3), [], {}
    for n, (index, _) in enumerate(identities):
        by_frame.setdefault(index, []).append(n)
    for index, (frame, time_s, _) in enumerate(frames):
        people = [n for n in by_frame.get(index, []) if np.isfinite(points[n]).all(-1).any()]
        ids = tracker.update([box_of(points[n]) for n in people])
        records.append(
            {
                "frame": frame,
                "time_s": time_s,
                "num_people": len(people),
                "people": [
                    {
                        "track_id": ids[k],
                        "joints_3d_world_mm": _listed(points[n], 2),
                        "joints_3d_world_h36m_mm": _listed(to_h36m_order(points[n]), 2),
                        "reprojection_px": [None if not np.isfinite(e) else round(float(e), 3) for e in error[n]],
                        "views": [np.flatnonzero(u).tolist() for u in used[n]],
                        "matched": [list(member) for member in identities[n][1]],
                    }
                    for k, n in enumerate(people)
                ],
            }
        )
    notes = []
    if single:
        notes.append(f"{len(single)} person detection(s) matched in no other view: left out of the 3D output")
    return records, notes


def bvh_tracks(records):
    """{track id: (first frame index, H36M-17 poses relative to the pelvis, world-frame pelvis)}."""
    tracks = {}
    for index, record in enumerate(records):
        for person in record["people"]:
            if person["track_id"] is None:
                continue
            joints = np.array([row if row else [np.nan] * 3 for row in person["joints_3d_world_h36m_mm"]], float)
            start, poses, roots = tracks.setdefault(person["track_id"], (index, [], []))
            while len(poses) < index - start:  # frames where the track was missed
                poses.append(None)
                roots.append(np.full(3, np.nan))
            poses.append(joints - joints[0])
            roots.append(joints[0])
    return tracks


def run_demo_on(videos, demo_flags, folder):
    """The demo's JSON of each view: ``hg3d-demo --demo VIDEO`` with ``demo_flags`` (model,
    detector, smoothing), view v's outputs in ``folder/view<v>/`` (cameras often name their files
    alike)."""
    from .demo import run_demo

    paths = []
    for index, video in enumerate(videos):
        if not os.path.isfile(video):
            raise UserError(f"--videos {video} not found (a video or image per camera)")
        out = os.path.join(folder, f"view{index}")
        run_demo(["--demo", video, "--out_dir", out, *demo_flags])
        paths.append(os.path.join(out, f"{os.path.splitext(os.path.basename(video))[0]}.json"))
    return paths


def viewer_record(result, cameras):
    """The triangulated people as the viewer draws a demo result: in the first camera's frame
    (``joints_3d_cam_mm``), with every camera's pose in that frame (``viewer_cameras``). A person
    with a joint left untriangulated is not drawn in that frame."""
    first = cameras[0]
    frames = []
    for record in result["frames"]:
        people = []
        for person in record["people"]:
            joints = np.array([row if row else [np.nan] * 3 for row in person["joints_3d_world_h36m_mm"]], float)
            if np.isfinite(joints).all():
                placed = first.to_camera(joints)
                people.append(
                    {
                        "track_id": person["track_id"],
                        "joints_3d_h36m_mm": (placed - placed[0]).tolist(),
                        "joints_3d_cam_mm": placed.tolist(),
                    }
                )
        frames.append({"frame": record["frame"], "time_s": record["time_s"], "people": people})
    markers = []
    for camera in cameras:
        R = first.R @ camera.R.T  # camera frame -> the first camera's frame
        k = camera.intrinsics
        markers.append(
            {
                "name": camera.name,
                "intrinsics": {"fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy},
                "R": R.tolist(),
                "t": (first.t - R @ camera.t).tolist(),
            }
        )
    return {"video": result["views"][0]["media"], "fps": result["fps"], "frames": frames, "viewer_cameras": markers}


def parse_args(argv):
    p = OneLineParser(prog="triangulate.py", description=__doc__.splitlines()[0])
    p.add_argument("--calib", required=True, help="Calib.toml (Pose2Sim, anipose), or EasyMocap's intri.yml/extri.yml")
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("--views", nargs="+", help="the demo's JSON of each camera, in the calibration's order")
    given.add_argument(
        "--videos", nargs="+", help="a video (or image) per camera: the demo runs on each first, with the other flags"
    )
    p.add_argument("--names", nargs="+", help="the calibration's camera name of each view (else its camera order)")
    p.add_argument("--offsets", nargs="+", type=int, help="per view: its frame i + offset goes with frame i")
    p.add_argument("--reproj_px", type=float, default=DEFAULT_REPROJ_PX, help="inlier reprojection error (px)")
    p.add_argument(
        "--match_px", type=float, default=DEFAULT_MATCH_PX, help="largest mean epipolar distance of one person (px)"
    )
    p.add_argument("--out_dir", default=os.path.join("exp", "triangulate"))
    p.add_argument("--bvh", action="store_true", help="also a BVH animation per track (videos)")
    p.add_argument("--html", action="store_true", help="also <name>.html: the 3D viewer with every camera")
    args, demo_flags = p.parse_known_args(argv)
    if demo_flags and not args.videos:
        p.error(f"unrecognized arguments: {' '.join(demo_flags)}")
    args.demo_flags = demo_flags
    args.views = args.views or args.videos
    if len(args.views) < 2:
        raise UserError("--views / --videos need at least two cameras")
    for flag in ("names", "offsets"):
        given = getattr(args, flag)
        if given is not None and len(given) != len(args.views):
            raise UserError(f"--{flag} gives {len(given)} values for {len(args.views)} --views: one per view")
    if args.offsets and min(args.offsets) < 0:
        raise UserError("--offsets must be whole frames >= 0 (shift the other views instead)")
    for flag in ("reproj_px", "match_px"):
        if not getattr(args, flag) > 0:
            raise UserError(f"--{flag} must be a positive number of pixels")
    return args


def run_triangulate(argv=None):
    args = parse_args(argv)
    cameras = load_cameras(args.calib)
    if args.names is None and len(cameras) < len(args.views):
        raise UserError(f"calibration {args.calib} has {len(cameras)} cameras for {len(args.views)} --views")
    cameras = select_cameras(cameras, args.names, args.calib)[: len(args.views)]
    if args.videos:
        check_sizes(cameras, args.videos, args.videos)  # before the demo runs
        args.views = run_demo_on(args.videos, args.demo_flags, os.path.join(args.out_dir, "views"))
    views = [read_view(path) for path in args.views]
    if args.bvh and not views[0]["fps"]:
        raise UserError("--bvh needs videos (a frame rate): the views are images")
    check_sizes(cameras, [view["media"] for view in views], args.views)
    frames = aligned_frames(views, args.offsets or [0] * len(views))
    records, notes = triangulate_views(cameras, frames, args.reproj_px, args.match_px)
    name = os.path.splitext(os.path.basename(args.views[0]))[0]
    os.makedirs(args.out_dir, exist_ok=True)
    result = {
        "format_version": FORMAT_VERSION,
        "calibration": os.path.abspath(args.calib),
        "views": [
            {"json": os.path.abspath(view["path"]), "media": view["media"], "camera": camera.name, "offset": offset}
            for view, camera, offset in zip(views, cameras, args.offsets or [0] * len(views))
        ],
        "cameras": [camera.to_json() for camera in cameras],
        "joint_names": list(MPII_JOINTS),
        "joint_names_h36m": list(H36M_JOINTS),
        "units_note": UNITS_NOTE,
        "reproj_px": args.reproj_px,
        "match_px": args.match_px,
        "fps": views[0]["fps"],
        "notes": notes,
        "num_frames": len(records),
        "frames": records,
    }
    path = os.path.join(args.out_dir, f"{name}.json")

    def write(tmp):
        with open(tmp, "w") as handle:
            json.dump(result, handle)

    atomic_write(path, write)
    people = sum(len(r["people"]) for r in records)
    print(f"triangulate: {len(records)} frame(s), {people} person-frame(s) in the world frame -> {path}")
    for line in notes:
        print(f"note: {line}")
    if args.html:
        from .viewer.page import write_record

        page = os.path.join(args.out_dir, f"{name}.html")
        write_record(viewer_record(result, cameras), path, page)
        print(f"viewer: {page}")
    if args.bvh:
        from .bvh import export_tracks

        _, messages = export_tracks(args.out_dir, name, bvh_tracks(records), views[0]["fps"], root_mode="camera")
        for line in messages:
            print(f"bvh: {line}")
    return result
