"""Convert the official Human3.6M release (videos + CDF pose files) into the layout that
``--dataset h36m`` reads: ``ECCV18_Challenge/{Train,Val}/IMG/%05d.jpg`` and the two msra cache
pickles (Train = the training subjects, Val = the test subjects; entry i is image i + 1).

    python scripts/prepare_h36m.py --src <official root> --out data/h36m

Each video becomes one folder ``<out>/sequences/S<n>/<Sequence>.<camera>/`` (the kept frames and
their entries), finished by an atomic rename: a re-run reuses finished sequences and redoes a
half-done one. ``IMG/`` is then made of hard links to those frames, and the caches are written
last, atomically. Sequence folders that the run does not use (left by an earlier subject list)
are named at the end, and deleted with ``--remove_stale``.
"""

import glob
import os
import pickle
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

import cv2
import numpy as np

from ..calibration import lens_of, release_camera
from ..errors import OneLineParser, UserError
from ..files import atomic_write, c_stderr_silenced
from ..safe_pickle import load_pickle
from .h36m_official import (
    OFFICIAL_TO_H36M17,
    SequenceProblem,
    cache_labels,
    find_videos,
    pose_paths,
    read_pose,
    video_intrinsics,
    video_path,
    world_pose_path,
)

SPLITS = (("Train", "train"), ("Val", "test"))
MARKER = ".hg3d_prepare_h36m"  # in every --out this tool wrote (other data is never overwritten)
CROP_MARGIN = 1.25  # a --crop image is this times the box's longer side: room for --scale 0.25
ENTRIES = "entries.pkl"
# Version of what a converted sequence holds; sequences finished by an older version are redone.
# 2: entries keep root_cam and intrinsics.
ENTRY_FORMAT = 2
# Version of the release's calibration (``world_calibration``) in the test subjects' entries: a
# setting of test sequences only, so that adding it redoes those and reuses the training ones.
# 2: the lens's distortion is kept only where the release's 2D shows it (``world_calibration``).
CALIBRATION_FORMAT = 2
# Version of a --crop conversion's entries (the "crop" setting; older ones said True, i.e. 1).
# 2: each entry keeps the size of the frame it was cut from (``--save_sequences`` needs it).
CROP_FORMAT = 2


def cache_path(out, split_dir):
    return os.path.join(
        out,
        "msra_cache",
        f"HM36_eccv_challenge_{split_dir}_cache",
        f"HM36_eccv_challenge_{split_dir}_w288xh384_keypoint_jnt_bbox_db.pkl",
    )


def subject_list(text, flag):
    try:
        subjects = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        subjects = []
    if not subjects:
        raise UserError(f"{flag} {text!r}: expected comma-separated subject numbers, e.g. 9,11")
    return subjects


def parse_args(argv):
    p = OneLineParser(prog="prepare_h36m.py", description=__doc__.splitlines()[0])  # bad flags: one line
    p.add_argument("--src", required=True, help="the unpacked official release (folders S1 S5 ...)")
    p.add_argument("--out", required=True, help="output root, e.g. data/h36m")
    p.add_argument("--train_subjects", default="1,5,6,7,8")
    p.add_argument("--test_subjects", default="9,11")
    p.add_argument("--train_step", type=int, default=5, help="keep pose rows with row %% step == 0")
    p.add_argument("--test_step", type=int, default=64)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    p.add_argument("--jpeg_quality", type=int, default=95)
    p.add_argument(
        "--remove_stale",
        action="store_true",
        help="delete the sequence folders in <out>/sequences that this run does not use (earlier subject lists)",
    )
    p.add_argument(
        "--crop",
        action="store_true",
        help=f"store a square crop of {CROP_MARGIN} x the person box instead of the full frame",
    )
    args = p.parse_args(argv)
    args.train_subjects = subject_list(args.train_subjects, "--train_subjects")
    args.test_subjects = subject_list(args.test_subjects, "--test_subjects")
    if set(args.train_subjects) & set(args.test_subjects):
        raise UserError("--train_subjects and --test_subjects overlap; a subject belongs to one split")
    for flag in ("train_step", "test_step", "workers"):
        if getattr(args, flag) < 1:
            raise UserError(f"--{flag} must be at least 1")
    if not 1 <= args.jpeg_quality <= 100:
        raise UserError("--jpeg_quality must lie in 1..100")
    if not os.path.isdir(args.src):
        raise UserError(f"--src {args.src} is not a folder (the unpacked release: S1/Videos, S1/MyPoseFeatures, ...)")
    return args


def claim_output(out):
    """Create ``out``; refuse one that holds a dataset this tool did not write."""
    if (
        os.path.isdir(out)
        and not os.path.exists(os.path.join(out, MARKER))
        and any(os.path.exists(os.path.join(out, d)) for d in ("ECCV18_Challenge", "msra_cache"))
    ):
        raise UserError(
            f"{out} already holds Human3.6M data that prepare_h36m did not write; "
            f"refusing to overwrite it (choose another --out)"
        )
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, MARKER), "a").close()


def plan(args):
    """One job per video to convert, split by split, and lines naming what cannot be converted."""
    jobs, problems = [], []
    for split_dir, which in SPLITS:
        step = args.train_step if which == "train" else args.test_step
        for subject in getattr(args, f"{which}_subjects"):
            videos, missing = find_videos(args.src, subject)
            problems += missing
            for name, sequence, camera, action in videos:
                jobs.append(
                    {
                        "split": split_dir,
                        "subject": subject,
                        "name": name,
                        "sequence": sequence,
                        "camera": camera,
                        "action": action,
                        "src": args.src,
                        "dir": os.path.join(args.out, "sequences", f"S{subject}", name),
                        "settings": {
                            "format": ENTRY_FORMAT,
                            "step": step,
                            "crop": CROP_FORMAT if args.crop else False,
                            "jpeg_quality": args.jpeg_quality,
                            **({"calibration": CALIBRATION_FORMAT} if which == "test" else {}),
                        },
                    }
                )
    return jobs, problems


def read_finished(job):
    """The stored result of a finished sequence with the same settings, else None."""
    path = os.path.join(job["dir"], ENTRIES)
    if not os.path.isfile(path):
        return None
    try:
        stored = load_pickle(path, "converted sequence")
    except UserError:  # unreadable: converted again
        return None
    return stored if stored.get("settings") == job["settings"] else None


def crop_around(frame, center, size):
    """A square of CROP_MARGIN x the box's longer side around ``center`` (black outside the frame),
    and its top-left corner (integer, so the crop's pixels are the frame's)."""
    side = int(np.ceil(max(size) * CROP_MARGIN)) + 2
    x0, y0 = int(round(center[0] - side / 2)), int(round(center[1] - side / 2))
    crop = np.zeros((side, side, 3), np.uint8)
    height, width = frame.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, width), min(y0 + side, height)
    if sx1 > sx0 and sy1 > sy0:
        crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    return crop, (x0, y0)


def frame_entry(job, labels, row, offset):
    """The cache entry of pose row ``row``; ``offset``: the stored image's corner in the frame."""
    joints_3d = labels["joints_3d"][row].copy()
    joints_3d[:, :2] -= offset
    (cx, cy), (w, h) = labels["center"][row] - offset, labels["size"][row]
    entry = {
        "center_x": float(cx),
        "center_y": float(cy),
        "width": float(w),
        "height": float(h),
        "joints_3d": joints_3d,
        "joints_3d_relative": labels["joints_3d_relative"][row].copy(),
        "subject": job["subject"],
        "sequence": job["sequence"],
        "action": job["action"],
        "camera": job["camera"],
        "frame": int(row),
        "root_cam": labels["root_cam"][row].copy(),
        # the pinhole of the stored image: a crop moves the principal point with its corner
        "intrinsics": labels["intrinsics"] - [0, 0, offset[0], offset[1]],
    }
    if job["settings"]["crop"]:
        entry["crop_offset"] = [int(offset[0]), int(offset[1])]
        entry["frame_size"] = list(labels["frame_size"])  # width, height of the video the crop was cut from
    if "camera_R" in labels:
        entry["camera_R"], entry["camera_t"] = labels["camera_R"], labels["camera_t"]
        entry["camera_lens"] = labels["camera_lens"] - [0, 0, offset[0], offset[1], 0, 0, 0, 0, 0]
        entry["joints_3d_world"] = labels["joints_3d_world"][row].copy()
    return entry


def world_calibration(job, pose_2d, pose_3d, width):
    """The release's calibration of ``job``'s camera (``calibration.release_camera`` on its
    sequence's world-frame poses) as entry labels: ``camera_R`` (3, 3) and ``camera_t`` (3,) mm
    world -> camera, ``camera_lens`` (``calibration.LENS_FIELDS``, px of ``width``-px-wide frames)
    and ``joints_3d_world`` (N, 17, 3) mm. Returns (labels, None), or ({}, the line saying why
    there are none).

    Whether the release's ``D2_Positions`` went through the lens distortion is not documented, so
    the sequence's own 2D decides: the lens keeps the table's distortion when projecting the world
    poses with it matches ``pose_2d`` better than a plain pinhole does, else it has none."""
    where = f"S{job['subject']}/{job['name']}"
    path = world_pose_path(job["src"], job["subject"], job["sequence"])
    if not os.path.isfile(path):
        return {}, f"{where}: no world-frame poses ({path})"
    try:
        world = read_pose(path, 3)
        camera = release_camera(world, pose_3d, job["camera"], width, where)
    except UserError as exc:
        return {}, str(exc)
    pinhole = replace(camera, intrinsics=replace(camera.intrinsics, dist=None))
    if rms_px(pinhole.project(world), pose_2d) < rms_px(camera.project(world), pose_2d):
        camera = pinhole
    labels = {"camera_R": camera.R, "camera_t": camera.t, "camera_lens": lens_of(camera)}
    return {**labels, "joints_3d_world": world[:, OFFICIAL_TO_H36M17]}, None


def rms_px(projected, pose_2d):
    return float(np.sqrt(np.nanmean(((projected - pose_2d) ** 2).sum(-1))))


def write_frames(job, folder):
    """Read the poses and the video of ``job``; write its kept frames and entries into ``folder``."""
    src, subject, name = job["src"], job["subject"], job["name"]
    d2_path, d3_path = pose_paths(src, subject, name)
    pose_2d, pose_3d = read_pose(d2_path, 2), read_pose(d3_path, 3)
    if len(pose_2d) != len(pose_3d) or not len(pose_2d):
        raise SequenceProblem(
            f"S{subject}/{name}: the pose files have {len(pose_2d)} (D2) and {len(pose_3d)} (D3) rows"
        )
    labels = cache_labels(pose_2d, pose_3d)
    settings = job["settings"]
    rows = range(0, len(pose_2d), settings["step"])
    video = video_path(src, subject, name)
    with c_stderr_silenced():  # FFmpeg's own complaint about a damaged file
        capture = cv2.VideoCapture(video)
    if not capture.isOpened():
        raise SequenceProblem(f"{video} cannot be read (damaged or not a video)")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    labels["frame_size"] = (width, int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    camera = video_intrinsics(pose_2d, pose_3d, job["camera"], width, f"S{subject}/{name}")
    labels["intrinsics"] = camera["fitted"]
    uncalibrated = None
    if "calibration" in settings:  # only --test --multiview uses it
        calibration, uncalibrated = world_calibration(job, pose_2d, pose_3d, width)
        labels.update(calibration)
    try:
        entries = [
            frame_entry(job, labels, row, offset)
            for row, offset in write_kept_frames(capture, video, labels, rows, folder, settings)
        ]
    finally:
        capture.release()
    stored = {
        "settings": settings,
        "entries": entries,
        "fit_error": float(labels["fit_error"][list(rows)].max()),
        "intrinsics": camera,
        "uncalibrated": uncalibrated,
    }
    with open(os.path.join(folder, ENTRIES), "wb") as handle:
        pickle.dump(stored, handle, protocol=4)
    return stored


def write_kept_frames(capture, video, labels, rows, folder, settings):
    """Write the frames of ``rows`` from ``capture`` as JPEGs into ``folder``; yields each kept
    row and the stored image's corner in the frame."""
    for row in range(rows[-1] + 1):  # the video's tail beyond the pose rows is never read
        kept = row % settings["step"] == 0
        ok, frame = capture.read() if kept else (capture.grab(), None)
        if not ok:
            raise SequenceProblem(
                f"{video} ends after {row} frames but its pose files have {len(labels['center'])} rows (damaged)"
            )
        if not kept:
            continue
        offset = np.zeros(2)
        if settings["crop"]:
            frame, offset = crop_around(frame, labels["center"][row], labels["size"][row])
        path = os.path.join(folder, f"{row:06d}.jpg")
        if not cv2.imwrite(path, frame, [cv2.IMWRITE_JPEG_QUALITY, settings["jpeg_quality"]]):
            raise UserError(f"cannot write {path} (disk full or not writable?); run the same command again to resume")
        yield row, np.asarray(offset, np.float64)


def convert_sequence(job):
    """Convert one video (in a worker): reuse it when finished, else write it atomically.

    Returns ``(job, stored result or None, None or the line saying why it was skipped, reused)``.
    """
    cv2.setNumThreads(1)
    finished = read_finished(job)
    if finished is not None:
        return job, finished, None, True
    partial = job["dir"] + ".partial"  # left by an interrupted run: redone from scratch
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        stored = write_frames(job, partial)
        shutil.rmtree(job["dir"], ignore_errors=True)  # finished with other settings
        os.rename(partial, job["dir"])
        return job, stored, None, False
    except SequenceProblem as exc:
        return job, None, str(exc), False
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def run_jobs(jobs, workers, report):
    """``convert_sequence`` over ``jobs`` (in ``workers`` processes); results in ``jobs`` order."""
    if workers == 1 or len(jobs) <= 1:
        results = (convert_sequence(job) for job in jobs)
        return [report(result) for result in results]
    try:
        with ProcessPoolExecutor(min(workers, len(jobs))) as pool:
            futures = [pool.submit(convert_sequence, job) for job in jobs]
            try:
                for future in as_completed(futures):  # the progress bar moves as sequences finish
                    report(future.result())
            except BaseException:
                # A failure that is not one skipped video (disk full, a bug, Ctrl-C) ends the run
                # now: the sequences still queued are dropped, those being converted finish.
                pool.shutdown(cancel_futures=True)
                raise
    except BrokenProcessPool:
        raise UserError(
            "a worker process died (out of memory? try fewer --workers); run the same "
            "command again to resume: finished sequences are kept"
        ) from None
    return [future.result() for future in futures]


def link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, target)


def assemble(out, split_dir, results):
    """``IMG/%05d.jpg`` (links to the sequences' frames) and the split's cache, written last."""
    entries, image_dir = [], os.path.join(out, "ECCV18_Challenge", split_dir, "IMG")
    fresh, old = image_dir + ".partial", image_dir + ".old"  # either may be left by a crash
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    os.makedirs(fresh)
    for job, stored, _, _ in results:
        for entry in stored["entries"]:
            image = f"{len(entries) + 1:05d}.jpg"
            link_or_copy(os.path.join(job["dir"], f"{entry['frame']:06d}.jpg"), os.path.join(fresh, image))
            entries.append({**entry, "image": image})
    if os.path.isdir(image_dir):
        os.rename(image_dir, old)
        os.rename(fresh, image_dir)
        shutil.rmtree(old)
    else:
        os.rename(fresh, image_dir)

    def write(tmp):
        with open(tmp, "wb") as handle:
            pickle.dump(entries, handle, protocol=4)

    atomic_write(cache_path(out, split_dir), write)
    return len(entries)


def stale_sequences(out, jobs):
    """Sequence folders in ``<out>/sequences`` that no job of this run uses: left by a run with
    other subjects (or videos since removed), and half-done ones of those."""
    used = {job["dir"] for job in jobs}
    found = glob.glob(os.path.join(glob.escape(os.path.join(out, "sequences")), "S*", "*"))
    return sorted(p for p in found if os.path.isdir(p) and p.removesuffix(".partial") not in used)


def report_stale(out, jobs, remove):
    """Name the stale sequence folders (by subject), and delete them with ``remove``."""
    stale = stale_sequences(out, jobs)
    if not stale:
        return stale
    where = os.path.join(out, "sequences")
    counts = Counter(os.path.basename(os.path.dirname(path)) for path in stale)
    listed = ", ".join(f"{subject}: {n}" for subject, n in sorted(counts.items()))
    if not remove:
        print(
            f"notice: {where} holds {len(stale)} sequence folder(s) that this run does not use ({listed}), "
            f"e.g. of an earlier subject list; kept (--remove_stale deletes them)"
        )
        return stale
    for path in stale:
        shutil.rmtree(path)
    for subject in counts:
        if not os.listdir(os.path.join(where, subject)):
            os.rmdir(os.path.join(where, subject))
    print(f"removed {len(stale)} sequence folder(s) that this run does not use from {where} ({listed})")
    return stale


def main(argv=None):
    args = parse_args(argv)
    args.out = os.path.abspath(args.out)
    jobs, problems = plan(args)
    if not jobs:
        raise UserError(
            f"no video with its pose files found under {args.src} for subjects "
            f"{args.train_subjects + args.test_subjects} (expected S1/Videos/*.mp4 and "
            f"S1/MyPoseFeatures/D2_Positions, D3_Positions_mono)"
        )
    claim_output(args.out)
    for line in problems:
        print(f"skipped: {line}", flush=True)
    from progress.bar import Bar

    bar = Bar("prepare_h36m", max=len(jobs), file=sys.stderr)  # the stderr of now (not of import time)
    start, counts = time.time(), {"frames": 0}

    def report(result):
        job, stored, skipped, _ = result
        if skipped:
            problems.append(skipped)
            print(f"\nskipped: {skipped}", flush=True)
        else:
            counts["frames"] += len(stored["entries"])
        bar.suffix = f"%(index)d/%(max)d sequences | {counts['frames']} frames | {bar.elapsed_td} | ETA {bar.eta_td}"
        bar.next()
        return result

    results = run_jobs(jobs, args.workers, report)
    bar.finish()
    done = [r for r in results if r[1] is not None]
    sizes = {}
    for split_dir, which in SPLITS:
        split_results = [r for r in done if r[0]["split"] == split_dir]
        if not split_results:
            raise UserError(f"no {which} frames converted ({split_dir}); see the lines above")
        sizes[split_dir] = assemble(args.out, split_dir, split_results)
    reused = sum(r[3] for r in done)
    seconds = time.time() - start
    print(
        f"prepare_h36m: {len(done)} sequences ({reused} reused), Train {sizes['Train']} frames "
        f"(subjects {args.train_subjects}, step {args.train_step}), Val {sizes['Val']} frames "
        f"(subjects {args.test_subjects}, step {args.test_step}); "
        f"{'crops' if args.crop else 'full frames'} as JPEG quality {args.jpeg_quality}; "
        f"largest fitted-vs-true 2D gap {max(r[1]['fit_error'] for r in done):.2f} px; "
        f"pinhole fit residual up to {max(r[1]['intrinsics']['rms_px'] for r in done):.2f} px rms; "
        f"{seconds:.1f} s; written to {args.out}"
    )
    if problems:
        print(f"{len(problems)} skipped:\n  " + "\n  ".join(problems))
    notices = [r[1]["intrinsics"]["notice"] for r in done if r[1]["intrinsics"]["notice"]]
    for line in notices:
        print(f"notice: {line}")
    # .get: training sequences converted before the calibration was stored are reused as they are
    uncalibrated = [r[1]["uncalibrated"] for r in done if r[1].get("uncalibrated")]
    if uncalibrated:  # one line: without the world-frame pose files it would be every test video
        print(
            f"notice: {len(uncalibrated)} test video(s) without the release's calibration, whose frames "
            f"--test --multiview leaves out; first: {uncalibrated[0]}"
        )
    stale = report_stale(args.out, jobs, args.remove_stale)
    return {
        "sizes": sizes,
        "problems": problems,
        "notices": notices,
        "uncalibrated": uncalibrated,
        "sequences": len(done),
        "reused": reused,
        "stale": stale,
    }
