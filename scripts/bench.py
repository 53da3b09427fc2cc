"""hg3d benchmarks: every figure is a ratio measured in this run on this machine, with the absolute
numbers beside it. Prints a Markdown table (the one in docs/benchmarks.md).

    python scripts/bench.py            # many minutes on 2 CPU cores: the demo rows run a ResNet-50 on 60 frames
    python scripts/bench.py --quick    # fewer repetitions and a 20-frame clip
    python scripts/bench.py --only mobile --peer mediapipe   # the pose networks beside BlazePose
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from hg3d.archs import heads_for  # noqa: E402
from hg3d.datasets import get_dataset  # noqa: E402
from hg3d.evaluate import build_loader, predict_and_score  # noqa: E402
from hg3d.losses import BONE_GROUPS, bone_variance_loss  # noqa: E402
from hg3d.model import create_model  # noqa: E402
from hg3d.temporal import NUM_FEATURES, RECEPTIVE_FIELDS, TemporalModel  # noqa: E402
from hg3d.train_options import parse_opts  # noqa: E402
from hg3d.trainer import Trainer, to_device  # noqa: E402

ROWS = []


def row(name, value, detail):
    ROWS.append((name, value, detail))
    print(f"  {name}: {value} ({detail})", flush=True)


def best_time(fn, repeat):
    """Fastest of ``repeat`` runs (seconds): the least disturbed by other work on the machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def variance_loss_loop(depth, xy, visible, reg_mask, var_weight):
    """Reference: the formula of the reference spec, one sample and one bone at a time."""
    total = depth.new_zeros(())
    for b in range(depth.shape[0]):
        if reg_mask[b].sum() > 0:
            continue
        for group in BONE_GROUPS:
            lengths = []
            for (i, j), weight in group:
                if visible[b, i, 0] > 0.5 and visible[b, j, 0] > 0.5:
                    planar = ((xy[b, i] - xy[b, j]) ** 2).sum()
                    lengths.append(weight * torch.sqrt(planar + (depth[b, i, 0] - depth[b, j, 0]) ** 2))
            if not lengths:
                continue
            mean = sum(lengths) / len(lengths)
            for length in lengths:
                if length > 0:
                    total = total + (length - mean) ** 2 / 2 / len(lengths)
    return var_weight * total / depth.shape[0]


def bench_variance_loss(repeat):
    print("variance loss, batch 32 (forward + backward)")
    rng = torch.Generator().manual_seed(0)
    depth = torch.randn(32, 16, 1, generator=rng)
    xy = torch.rand(32, 16, 2, generator=rng)
    visible = (torch.rand(32, 16, 1, generator=rng) > 0.1).float()
    mask = torch.zeros(32, 16)
    mask[:8] = 1  # a quarter of the batch has 3D labels

    def run(fn):
        d = depth.clone().requires_grad_(True)
        loss = fn(d, xy, visible, mask, 0.01)
        loss.backward()
        return loss.detach(), d.grad

    (loss_b, grad_b), (loss_l, grad_l) = run(bone_variance_loss), run(variance_loss_loop)
    t_batched = best_time(lambda: run(bone_variance_loss), repeat * 10)
    t_loop = best_time(lambda: run(variance_loss_loop), repeat)
    diff = max((loss_b - loss_l).abs().item(), (grad_b - grad_l).abs().max().item())
    row(
        "variance loss: batched vs loop",
        f"{t_loop / t_batched:.0f}x",
        f"{t_batched * 1e3:.2f} ms vs {t_loop * 1e3:.1f} ms; max abs difference {diff:.1e}",
    )


def fixture_opts(*extra):
    data = os.environ.get("HG3D_GOLDEN", os.path.join(REPO, "tests", "golden"))
    return parse_opts(
        [
            "--task",
            "human3d",
            "--dataset",
            "fusion_3d",
            "--gpus",
            "-1",
            "--num_workers",
            "0",
            "--data_dir",
            os.path.join(data, "fixture_data"),
            *extra,
        ],
        log=lambda _: None,
    )


def bench_test_batching(repeat):
    print("H36M test with flip on the fixture (20 samples, ResNet-50, 256x256)")
    torch.manual_seed(0)
    model = create_model("msra_50", {"hm": 16, "depth": 16}).eval()
    results = {}
    for batch, memory_format in ((1, torch.contiguous_format), (1, torch.channels_last), (16, torch.channels_last)):
        opt = fixture_opts("--full_test", "--test_batch_size", str(batch), "--print_iter", "1000")
        dataset = get_dataset(opt, "val")
        trainer = Trainer(opt, model)
        trainer.memory_format = memory_format
        model.to(memory_format=memory_format)
        key = (batch, memory_format)
        seconds = best_time(
            lambda key=key, opt=opt, trainer=trainer, dataset=dataset: results.__setitem__(
                key, predict_and_score(opt, trainer.predict, dataset)[0]
            ),
            repeat,
        )
        results[key] = (seconds, results[key]["mpjpe"])
    (t_nchw, m_nchw), (t1, m1), (t16, m16) = results.values()
    row(
        "H36M test: channels_last vs NCHW (batch 1)",
        f"{t_nchw / t1:.2f}x",
        f"{20 / t1:.1f} vs {20 / t_nchw:.1f} samples/s; MPJPE difference {abs(m1 - m_nchw):.1e} mm",
    )
    row(
        "H36M test: batch 16 vs batch 1",
        f"{t1 / t16:.2f}x",
        f"{20 / t16:.1f} vs {20 / t1:.1f} samples/s; MPJPE difference {abs(m1 - m16):.1e} mm",
    )


def bench_input_pipeline(repeat):
    import cv2

    torch.set_num_threads(1)
    for name, extra in (("H36M", ()), ("MPII", ())):
        opt = fixture_opts("--ratio_3d", "1", *extra)
        fusion = get_dataset(opt, "train")
        dataset = fusion.datasets_3d[0] if name == "H36M" else fusion.dataset_2d
        paths = [
            dataset.image_path(int(dataset.indices[i])) if name == "H36M" else dataset.image_path(i)
            for i in range(len(dataset))
        ]
        n = len(dataset)
        np.random.seed(0)
        t_decode = best_time(lambda paths=paths: [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths], repeat)
        t_items = best_time(lambda dataset=dataset, n=n: [dataset[i] for i in range(n)], repeat)
        row(
            f"{name} training items vs bare decode (1 core)",
            f"{t_items / t_decode:.2f}x the decode",
            f"{n / t_items:.0f} items/s vs {n / t_decode:.0f} images/s (cv2.imread); "
            f"{(t_items - t_decode) / n * 1e3:.1f} ms/item for augmentation, crop and targets",
        )
    torch.set_num_threads(os.cpu_count() or 1)


def bench_training_step(repeat):
    print("training step on the CPU (ResNet-18, batch 8, 256x256)")
    torch.manual_seed(0)
    opt = fixture_opts(
        "--arch", "msra_18", "--weight_3d", "0.1", "--weight_var", "0.01", "--ratio_3d", "1", "--batch_size", "8"
    )
    model = create_model("msra_18", opt.heads)
    trainer = Trainer(opt, model, torch.optim.Adam(model.parameters(), 1e-4))
    loader = build_loader(opt, get_dataset(opt, "train"), train=True)
    batch = next(iter(loader))

    def step():
        device_batch = to_device(batch, opt.device)
        loss, _ = trainer.loss(trainer.forward(device_batch["input"]), device_batch)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()

    model.train()
    step()
    t_step = best_time(step, repeat)
    t_load = best_time(lambda: next(iter(loader)), repeat)
    row(
        "training step, CPU fp32 (channels_last)",
        f"{8 / t_step:.1f} img/s",
        f"{t_step * 1e3:.0f} ms per batch of 8 on {torch.get_num_threads()} threads",
    )
    trainer.memory_format = torch.contiguous_format
    model.to(memory_format=torch.contiguous_format)
    t_nchw = best_time(step, repeat)
    row(
        "training step: channels_last vs NCHW (CPU)",
        f"{t_nchw / t_step:.2f}x",
        f"{8 / t_step:.1f} vs {8 / t_nchw:.1f} img/s",
    )
    row(
        "data loading vs step (CPU, --num_workers 0)",
        f"{t_load / t_step:.2f}x the step",
        "loading one batch in the main process; below 1x the step is not loader-bound",
    )
    if torch.cuda.is_available():
        row("training step, GPU fp32 vs --amp", "see the GPU section", "run on a GPU machine")
    else:
        row("training step, GPU fp32 vs --amp + channels_last", "not measured", "no GPU on this machine")


def bench_h36m_conversion():
    """prepare_h36m on a generated official-layout tree of full-size (1000 x 1002) videos."""
    import tempfile

    from hg3d.tools.h36m_sample import write_official_h36m
    from hg3d.tools.prepare_h36m import main as prepare

    print("Human3.6M conversion (1 worker)")
    with tempfile.TemporaryDirectory() as tmp:
        layout = ((1, "Directions 1", ("54138969",)), (9, "Directions 1", ("54138969",)))
        write_official_h36m(
            os.path.join(tmp, "src"), np.random.default_rng(0), frames=126, width=1000, layout=layout, quirks=False
        )
        for crop in ((), ("--crop",)):
            out = os.path.join(tmp, f"out{len(crop)}")
            start = time.perf_counter()
            prepare(
                [
                    "--src",
                    os.path.join(tmp, "src"),
                    "--out",
                    out,
                    "--train_subjects",
                    "1",
                    "--test_subjects",
                    "9",
                    "--test_step",
                    "5",
                    "--workers",
                    "1",
                    *crop,
                ]
            )
            seconds = time.perf_counter() - start
            kept = [
                os.path.join(d, f)
                for d, _, files in os.walk(os.path.join(out, "sequences"))
                for f in files
                if f.endswith(".jpg")
            ]
            row(
                f"H36M conversion{' --crop' if crop else ', full frames'} (step 5)",
                f"{252 / seconds:.0f} video frames/s",
                f"{len(kept) / seconds:.1f} kept frames/s; "
                f"{sum(map(os.path.getsize, kept)) / len(kept) / 1e3:.0f} kB per JPEG (quality 95)",
            )


def bench_annotation_check(count):
    """Opening an H36M msra cache of ``count`` entries (the full train cache has ~300k): the time
    the per-entry validation adds to reading the pickle."""
    import pickle
    import tempfile

    from hg3d.datasets.h36m import check_annotations
    from hg3d.safe_pickle import load_pickle

    rng = np.random.default_rng(0)
    joints = rng.normal(size=(1000, 18, 3)) * 100
    entries = [
        {
            "image": f"s_09_act_02_subact_01_ca_01/{i:06d}.jpg",
            "center_x": 500.0 + i % 7,
            "center_y": 500.0,
            "width": 200.0,
            "height": 400.0,
            "joints_3d": joints[i % 1000].copy(),
            "joints_3d_vis": np.ones((18, 3)),
            "joints_3d_relative": joints[(i + 1) % 1000].copy(),
            "joints_3d_relative_vis": np.ones((18, 3)),
        }
        for i in range(count)
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "cache.pkl")
        with open(path, "wb") as handle:
            pickle.dump(entries, handle, protocol=2)
        del entries
        start = time.perf_counter()
        entries = load_pickle(path)
        load = time.perf_counter() - start
    check = best_time(lambda: check_annotations(entries, path), 2)
    row(
        f"opening an H36M cache of {count // 1000}k entries: validation",
        f"{check:.2f} s",
        f"{check / count * 1e6:.1f} us/entry, every field of every entry; reading the pickle itself takes {load:.1f} s",
    )


def bench_host_syncs(repeat):
    print("training loop: loss read-out every step vs once per 4 steps (CPU, ResNet-18, batch 4, 64x64)")
    opt = fixture_opts(
        "--arch",
        "msra_18",
        "--weight_3d",
        "0.1",
        "--ratio_3d",
        "1",
        "--batch_size",
        "4",
        "--input_h",
        "64",
        "--input_w",
        "64",
    )
    loader = build_loader(opt, get_dataset(opt, "train"), train=True)
    batches = list(loader)  # the same 4 batches every time: only the loop is measured
    steps = len(batches)
    times = {}
    for every in (1, steps):
        opt.print_iter = every
        torch.manual_seed(0)
        model = create_model("msra_18", opt.heads)
        trainer = Trainer(opt, model, torch.optim.SGD(model.parameters(), 1e-4))
        trainer.quiet = True
        trainer.train_epoch(batches, 0)
        times[every] = best_time(lambda trainer=trainer: trainer.train_epoch(batches, 1), repeat) / steps
    t_each, t_batched = times[1], times[steps]
    row(
        f"training step: syncs every {steps} steps vs every step (CPU)",
        f"{t_each / t_batched:.2f}x",
        f"{t_batched * 1e3:.1f} vs {t_each * 1e3:.1f} ms per step; on the CPU a sync costs little, "
        f"on a GPU it stalls the queue",
    )


DEMO_GOALS = {"every frame": 1.6, "every 5th frame": 1.2}  # at most this x the time without a detector
ONNX_GOAL = 1.15  # at least this x torch's frames/s


def bench_demo(frames, passes, pipeline_only=False):
    """The video demo end to end (start-up included) on a generated 640x480 clip, 2 threads, each
    setting run ``passes`` times in turns (the fastest counts: the least disturbed by other work).
    Random weights (none can be downloaded here); the detector's 'person' logit is raised and
    --max_people is 1, so the pose network sees one person per frame. ``pipeline_only``: only the
    pipelined and sequential runs with the detector on every frame."""
    import tempfile

    print(f"demo on a {frames}-frame 640x480 clip (2 threads, best of {passes})")
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="hg3d-bench-") as tmp:
        os.environ["HG3D_CACHE"] = os.path.join(tmp, "cache")  # the ONNX export is timed, not reused
        _bench_demo_in(tmp, frames, passes, pipeline_only)


def write_clip(path, frames, rng):
    import cv2

    from hg3d.tools.synthetic import random_scene

    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 480))
    for _ in range(frames):
        writer.write(random_scene(rng, 640, 480)["image"])
    writer.release()


def time_demo_runs(runs, passes):
    """({setting: fastest seconds of ``run_demo(argv)``, or the one-line error it raised},
    {setting: the CPU seconds of that fastest run, all threads})."""
    from hg3d.demo import run_demo

    seconds, cpu = {}, {}
    for _ in range(passes):
        for name, argv in runs.items():
            if isinstance(seconds.get(name), str):
                continue
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                run_demo(argv)
            except Exception as exc:  # a crashing setting is a row saying so, not the end of the bench
                seconds[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                continue
            wall, used = time.perf_counter() - start, time.process_time() - start_cpu
            if wall < seconds.get(name, float("inf")):
                seconds[name], cpu[name] = wall, used
    return seconds, cpu


def _bench_demo_in(tmp, frames, passes, pipeline_only):
    from hg3d.checkpoint import save_checkpoint
    from hg3d.demo.detection import auto_detector, random_detector_state
    from hg3d.deploy.onnx_runtime import OnnxRuntimeModel

    rng = np.random.default_rng(0)
    clip, ckpt, ckpt18, det = (os.path.join(tmp, n) for n in ("clip.mp4", "m50.pth", "m18.pth", "det.pth"))
    write_clip(clip, frames, rng)
    torch.manual_seed(0)
    save_checkpoint(ckpt, create_model("msra_50", {"hm": 16, "depth": 16}), 1)
    save_checkpoint(ckpt18, create_model("msra_18", {"hm": 16, "depth": 16}), 1)
    default = auto_detector("cpu")
    torch.save(random_detector_state(default, person_logit=8.0), det)
    if not pipeline_only:
        start = time.perf_counter()
        OnnxRuntimeModel.from_checkpoint(ckpt, "msra_50", "human3d", 256, 256, log=lambda _: None)  # first run's export
        row(
            "ONNX export, first run only",
            f"{time.perf_counter() - start:.0f} s",
            "ResNet-50 at 256x256; later runs load the cached file",
        )
    common = ["--demo", clip, "--load_model", ckpt, "--arch", "msra_50", "--gpus", "-1", "--out_dir", tmp]
    no_det = [*common, "--detector", "none"]
    with_det = [*common, "--detector", default, "--detector_weights", det, "--max_people", "1"]
    frcnn320 = os.path.join(tmp, "det320.pth")
    torch.save(random_detector_state("fasterrcnn_mobile_320", person_logit=8.0), frcnn320)
    with_frcnn320 = [*with_det, "--detector", "fasterrcnn_mobile_320", "--detector_weights", frcnn320]
    # setting: (flags, goal as a ratio to "no detector": ("time", at most) or ("speed", at least))
    runs = {
        "no detector": (no_det, None),
        f"{default} every frame": (with_det, ("time", DEMO_GOALS["every frame"])),
        f"{default} every frame, --pipeline on": ([*with_det, "--pipeline", "on"], ("time", None)),
        f"{default} every frame, --pipeline off": ([*with_det, "--pipeline", "off"], ("time", None)),
        f"{default} every 5th frame": ([*with_det, "--det_every", "5"], ("time", DEMO_GOALS["every 5th frame"])),
        "ONNX Runtime, no detector": ([*no_det, "--backend", "onnxruntime"], ("speed", ONNX_GOAL)),
        f"ONNX Runtime, {default} every frame": ([*with_det, "--backend", "onnxruntime"], ("time", None)),
        "fasterrcnn_mobile_320 every frame": (with_frcnn320, ("time", None)),
        "no flip test, no detector": ([*no_det, "--no_flip_test"], ("speed", None)),
        "ResNet-18, no detector": ([*no_det, "--load_model", ckpt18, "--arch", "msra_18"], ("speed", None)),
    }
    # --pipeline auto, the default, is either of them by the machine: the pair names both
    pair = (f"{default} every frame, --pipeline on", f"{default} every frame, --pipeline off")
    if pipeline_only:
        runs = {name: runs[name] for name in pair}
    seconds, cpu = time_demo_runs({name: argv for name, (argv, _) in runs.items()}, passes)
    base = seconds.get("no detector", "not run")
    for name, (_, goal) in runs.items():
        t = seconds[name]
        if isinstance(t, str):
            row(f"demo video, {name}", "error", t)
        else:
            detail = f"{frames} frames in {t:.1f} s{_against(t, base, goal)}"
            row(f"demo video, {name}", f"{frames / t:.2f} frames/s", detail)
    piped, sequential = (seconds[name] for name in pair)
    if isinstance(piped, float) and isinstance(sequential, float):
        row(
            f"demo video, {default} every frame: pipelined vs sequential",
            f"{sequential / piped:.2f}x",
            f"{frames / piped:.2f} vs {frames / sequential:.2f} frames/s: reading, detection and pose in threads "
            f"(--pipeline on) vs one after another (--pipeline off); CPU time {cpu[pair[0]] / frames * 1e3:.0f} vs "
            f"{cpu[pair[1]] / frames * 1e3:.0f} ms per frame (all threads)",
        )
    if not pipeline_only:
        bench_frame_costs(ckpt, base / frames if isinstance(base, float) else None, passes + 1)


def bench_frame_costs(ckpt, t_frame, repeat):
    """Per 640x480 frame: the pose network (torch and ONNX Runtime) against the whole frame of the
    no-detector run, each detector against the pose network, and the pictures."""
    from hg3d.demo.detection import DETECTORS, PersonDetector, random_detector_state
    from hg3d.deploy.onnx_runtime import OnnxRuntimeModel
    from hg3d.inference import Estimator
    from hg3d.tools.synthetic import random_scene
    from hg3d.visualize import draw_people_2d, draw_people_3d

    frame = random_scene(np.random.default_rng(1), 640, 480)["image"]
    estimator = Estimator.from_checkpoint(ckpt, "msra_50", device="cpu")
    people = estimator.predict(frame)
    for index, person in enumerate(people):
        person.update(index=index, track_id=1)
    box = [people[0]["box"]]
    by_onnx = Estimator(OnnxRuntimeModel.from_checkpoint(ckpt, "msra_50", "human3d", 256, 256, log=lambda _: None))
    detectors = {name: PersonDetector(name, random_detector_state(name)) for name in DETECTORS}
    costs = interleaved_best_times(
        {
            "torch": lambda: estimator.predict(frame, box),
            "onnxruntime": lambda: by_onnx.predict(frame, box),
            **{name: (lambda d=detector: d.detect(frame)) for name, detector in detectors.items()},
        },
        repeat,
    )
    t_pose = costs["torch"]
    t_draw = best_time(lambda: (draw_people_2d(frame, people), draw_people_3d(people)), 10)
    share = f"{t_pose / t_frame:.0%} of the whole frame ({t_frame * 1e3:.0f} ms)" if t_frame else "no whole frame"
    row(
        "pose network per frame: torch / ONNX Runtime",
        f"{t_pose * 1e3:.0f} / {costs['onnxruntime'] * 1e3:.0f} ms",
        f"ResNet-50, one person, flip test; ONNX Runtime"
        f"{_against(costs['onnxruntime'], t_pose, ('speed', ONNX_GOAL), of='torch')}; torch's is {share} "
        f"without a detector; pictures (2D overlay + 3D panel) {t_draw * 1e3:.1f} ms",
    )
    bench_motion_cost(people[0], t_frame, repeat)
    for name, detector in detectors.items():
        side, longest = detector.input_size
        row(
            f"detector per frame: {name}",
            f"{costs[name] * 1e3:.0f} ms",
            f"{costs[name] / t_pose:.2f}x the pose network; the 640x480 frame resized to a {side} px shorter side "
            f"(at most {longest})",
        )


def bench_motion_cost(person, t_frame, repeat, frames=300):
    """The motion outputs (--angles --trc --c3d: the floor fit, angles, contacts and the four
    files) of one track of ``frames`` frames, per frame, against the whole demo frame (goal < 5%)."""
    import tempfile

    from hg3d.motion import track_motion, write_angles_csv, write_c3d, write_mot, write_trc

    rng = np.random.default_rng(2)
    pose = np.asarray(person["joints_3d_h36m_mm"], np.float64)
    poses = pose + rng.normal(0, 5.0, (frames, *pose.shape))
    root = person.get("root_cam_mm")
    roots = np.asarray(root if root is not None else (0.0, 0.0, 3000.0), np.float64) + np.linspace(0, 3000, frames)[
        :, None
    ] * [1, 0, 0]
    times = {f: f / 25.0 for f in range(frames)}

    def outputs(folder):
        _, _, motions = track_motion({1: (0, poses, roots)}, 25.0)
        write_angles_csv(os.path.join(folder, "a.csv"), motions, times)
        write_mot(os.path.join(folder, "a.mot"), motions[1], times)
        write_trc(os.path.join(folder, "a.trc"), motions[1], times, 25.0)
        write_c3d(os.path.join(folder, "a.c3d"), motions[1], 25.0)

    with tempfile.TemporaryDirectory(prefix="hg3d-bench-motion-") as folder:
        t_motion = best_time(lambda: outputs(folder), repeat) / frames
    share = (
        f"{t_motion / t_frame:.1%} of the whole frame ({t_frame * 1e3:.0f} ms; goal < 5%: "
        + ("met)" if t_motion / t_frame < 0.05 else "NOT met)")
        if t_frame
        else "no whole frame"
    )
    row(
        "motion outputs per frame (--angles --trc --c3d)",
        f"{t_motion * 1e3:.2f} ms",
        f"one {frames}-frame track: floor fit, angles, contacts, CSV, MOT, TRC, C3D; {share}",
    )


def interleaved_best_times(fns, repeat):
    """{name: fastest of ``repeat`` calls (s)}, the calls taken in turns so that a burst of other
    work on the machine slows them alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def bench_folding(repeat):
    """The torch backend's pose network with batch norms folded into the convolutions (what
    ``Estimator.from_checkpoint`` runs) against the same network unfolded, one 640x480 frame."""
    import tempfile

    from hg3d.checkpoint import load_model, save_checkpoint
    from hg3d.inference import Estimator
    from hg3d.tools.synthetic import random_scene

    print("torch backend: batch norms folded vs unfolded (one person, 256x256, flip test)")
    frame = random_scene(np.random.default_rng(1), 640, 480)["image"]
    for arch in ("msra_50", "msra_18"):
        with tempfile.TemporaryDirectory(prefix="hg3d-bench-") as tmp:
            path = os.path.join(tmp, f"{arch}.pth")
            torch.manual_seed(0)
            save_checkpoint(path, create_model(arch, {"hm": 16, "depth": 16}), 1)
            folded = Estimator.from_checkpoint(path, arch)
            unfolded = Estimator(load_model(path, arch, "human3d"))
        estimators = {"folded": folded, "unfolded": unfolded}
        costs = interleaved_best_times({k: (lambda e=e: e.predict(frame)) for k, e in estimators.items()}, repeat)
        drift = np.abs(folded.predict(frame)[0]["joints_2d"] - unfolded.predict(frame)[0]["joints_2d"]).max()
        row(
            f"torch {arch}: folded vs unfolded batch norms",
            f"{costs['unfolded'] / costs['folded']:.2f}x",
            f"{costs['folded'] * 1e3:.0f} vs {costs['unfolded'] * 1e3:.0f} ms per frame on {torch.get_num_threads()} "
            f"threads; joints differ by at most {drift:.1e} px",
        )


def bench_mobile(repeat, peer=None):
    """``--arch mobilenet_v3`` without the flip test (torch, folded, and ONNX Runtime) and ResNet-50
    with it on ONNX Runtime (fp32 and int8, calibrated on 32 generated frames) against the faithful
    ResNet-50 on torch with it, on one 640x480 frame, the whole frame as the person's box; random
    weights (none are released for the mobile network). ``peer`` ("mediapipe"): BlazePose full
    timed on the same frame (a photo of a person) in its own environment, and every row also as
    a ratio to it."""
    import tempfile

    from hg3d.checkpoint import save_checkpoint
    from hg3d.inference import Estimator
    from hg3d.tools.synthetic import random_scene

    print("mobilenet_v3 without flip, ResNet-50 int8 vs ResNet-50 with flip on torch (one person, 256x256)")
    with tempfile.TemporaryDirectory(prefix="hg3d-bench-") as tmp:
        python, frame, peer_result = peer_setup(peer, tmp)
        os.environ["HG3D_CACHE"] = os.path.join(tmp, "cache")
        paths = {arch: os.path.join(tmp, f"{arch}.pth") for arch in ("mobilenet_v3", "msra_50")}
        for arch, path in paths.items():
            torch.manual_seed(0)
            save_checkpoint(path, create_model(arch, {"hm": 16, "depth": 16}), 1)
        quiet = {"log": lambda _: None}
        calibration = [random_scene(np.random.default_rng(seed), 640, 480)["image"] for seed in range(2, 34)]
        estimators = {
            "ResNet-50, flip, torch": Estimator.from_checkpoint(paths["msra_50"], "msra_50"),
            "ResNet-50, flip, onnxruntime": Estimator.from_checkpoint(
                paths["msra_50"], "msra_50", backend="onnxruntime", **quiet
            ),
            "ResNet-50, flip, onnxruntime int8": Estimator.from_checkpoint(
                paths["msra_50"], "msra_50", backend="onnxruntime", precision="int8", calibration=calibration, **quiet
            ),
            **{
                f"mobilenet_v3, no flip, {backend}": Estimator.from_checkpoint(
                    paths["mobilenet_v3"], "mobilenet_v3", backend=backend, flip_test=False, **quiet
                )
                for backend in ("torch", "onnxruntime")
            },
        }
        timings = {k: (lambda e=e: e.predict(frame)) for k, e in estimators.items()}
        costs, peer_result = timed_beside_peer(timings, python, frame, repeat, tmp, peer_result)
    base = costs["ResNet-50, flip, torch"]
    peer_seconds = peer_result.get("seconds_per_frame") if isinstance(peer_result, dict) else None
    for name, seconds in costs.items():
        row(
            f"pose network per frame: {name}",
            f"{seconds * 1e3:.0f} ms",
            f"{base / seconds:.2f}x the speed of ResNet-50 with the flip test (torch, folded) on "
            f"{torch.get_num_threads()} threads{against_peer(name, seconds, peer_seconds)}",
        )
    if peer:
        peer_row(peer_result)


def bench_int8_accuracy(checkpoint, data_dir, arch, size):
    """What int8 costs in accuracy on a trained network: ``checkpoint`` (a human3d ``arch`` at
    ``size`` x ``size``, by default the quickstart's) on the H36M validation set under ``data_dir``
    (``--test --full_test``, with the flip test), in ONNX Runtime fp32 and int8. int8 is calibrated
    as the demo does by default, on the first 32 crops of its input (here: the validation set's)."""
    import tempfile

    from hg3d import metrics
    from hg3d.deploy.onnx_runtime import OnnxRuntimeModel
    from hg3d.evaluate import test_predictor

    print(f"int8 vs fp32 on a trained network: {checkpoint} on {data_dir}")
    name = "int8 vs fp32, trained network"
    if not os.path.isfile(checkpoint) or not os.path.isdir(os.path.join(data_dir, "h36m")):
        row(name, "not measured", f"no {checkpoint} or no {data_dir}/h36m: run scripts/quickstart.sh or give both")
        return
    flags = ["--test", "--full_test", "--load_model", checkpoint, "--arch", arch, "--input_h", str(size)]
    opt = fixture_opts(*flags, "--input_w", str(size), "--data_dir", data_dir)
    dataset = get_dataset(opt, "val")
    calibration = np.stack([np.asarray(dataset[i]["input"]) for i in range(min(32, len(dataset)))])
    results = {}
    with tempfile.TemporaryDirectory(prefix="hg3d-bench-") as tmp:
        os.environ["HG3D_CACHE"] = tmp
        for precision in ("fp32", "int8"):
            model = OnnxRuntimeModel.from_checkpoint(
                checkpoint,
                arch,
                "human3d",
                size,
                size,
                log=lambda _: None,
                precision=precision,
                calibration=calibration,
            )
            predictions = test_predictor(opt, model)(build_loader(opt, dataset, train=False))
            results[precision] = (predictions, *metrics.score(dataset, predictions))
    (p32, s32, a32), (p8, s8, a8) = results["fp32"], results["int8"]
    assert np.array_equal(p32["index"], p8["index"])
    moved_2d = np.linalg.norm(p8["pred_2d"] - p32["pred_2d"], axis=-1)
    moved_3d = np.linalg.norm(a8["pred_3d"] - a32["pred_3d"], axis=-1)
    row(
        f"{name}: MPJPE",
        f"{s8['mpjpe']:.1f} vs {s32['mpjpe']:.1f} mm",
        f"int8 {s8['mpjpe'] - s32['mpjpe']:+.1f} mm (PA-MPJPE {s8['pa_mpjpe']:.1f} vs {s32['pa_mpjpe']:.1f} mm); "
        f"{s32['num_3d']} H36M validation samples, {arch} at {size}x{size}, flip test, ONNX Runtime",
    )
    row(
        f"{name}: joints moved by int8",
        f"{moved_2d.mean():.2f} px, {moved_3d.mean():.1f} mm",
        f"mean distance of int8's joints from fp32's: 2D in image pixels (median {np.median(moved_2d):.2f}, "
        f"max {moved_2d.max():.1f}), 3D root-relative H36M-17 in mm (median {np.median(moved_3d):.1f}); "
        f"calibrated on the first {len(calibration)} validation crops",
    )


# The peer (--peer mediapipe): BlazePose in an environment of its own, as mediapipe 0.10.21 (the last
# release whose wheel holds its pose model) needs NumPy < 2; scikit-image gives the photo it is timed on.
PEER_NAME = "MediaPipe BlazePose full"
PEER_PACKAGES = ("mediapipe==0.10.21", "numpy<2", "scikit-image==0.25.2")
PEER_SCRIPT = os.path.join(REPO, "scripts", "bench_peer_mediapipe.py")
PEER_GOALS = {"mobilenet_v3, no flip, onnxruntime": 1.0, "ResNet-50, flip, onnxruntime int8": 4.0}  # x its time
PEER_VIDEO_FRAMES = 30


class PeerMissing(Exception):
    """Why the peer cannot be measured: its environment could not be made, or it failed."""


def peer_venv():
    """The peer's environment: ``$HG3D_PEER_VENV``, else ``~/.cache/hg3d-bench/mediapipe-0.10.21``."""
    default = os.path.join(os.path.expanduser("~"), ".cache", "hg3d-bench", "mediapipe-0.10.21")
    return os.environ.get("HG3D_PEER_VENV") or default


def _peer_run(args, what, timeout=1800):
    """stdout of a step that makes or runs the peer; ``PeerMissing`` with its last error line when it fails."""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerMissing(f"{what} failed: {exc}") from None
    if proc.returncode:
        lines = [line.strip() for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")]
        raise PeerMissing(f"{what} failed: {(errors or lines or ['no output'])[-1][:200]}")
    return proc.stdout


def peer_python(log=print):
    """The Python of the peer's environment, made with pip on first use (a marker file says it was
    made whole); ``PeerMissing`` saying why when it cannot be (offline, no wheel for this Python)."""
    folder = peer_venv()
    python, marker = os.path.join(folder, "bin", "python"), os.path.join(folder, ".hg3d-peer-complete")
    if not os.path.isfile(marker):
        log(f"making the peer's environment in {folder}: {' '.join(PEER_PACKAGES)}")
        _peer_run([sys.executable, "-m", "venv", "--without-pip", "--clear", folder], f"making a venv in {folder}")
        install = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", *PEER_PACKAGES]
        _peer_run(install, f"pip install {' '.join(PEER_PACKAGES)}")
        open(marker, "w").close()
    return python


def peer_setup(peer, folder):
    """(the peer's Python or None, the frame to time, why the peer is not measured or None): with
    the peer, the frame is its photo of a person (BlazePose's cost depends on finding one; hg3d's
    does not); else a generated scene."""
    from hg3d.tools.synthetic import random_scene

    scene = random_scene(np.random.default_rng(1), 640, 480)["image"]
    if peer is None:
        return None, scene, None
    try:
        python = peer_python()
        path = os.path.join(folder, "photo.npy")
        _peer_run([python, PEER_SCRIPT, "photo", path], "writing the peer's photo")
        return python, np.load(path)[0], None
    except PeerMissing as exc:
        return None, scene, str(exc)


class Peer:
    """BlazePose in a process of the peer's environment, kept open so that its passes over
    ``frame`` played as a video take turns with hg3d's timings; ``figures``: the last pass's,
    with the fastest pass's seconds per frame."""

    def __init__(self, python, frame, folder):
        path = os.path.join(folder, "frames.npy")
        np.save(path, np.repeat(frame[None], PEER_VIDEO_FRAMES, 0))
        args = [python, PEER_SCRIPT, "serve", path]
        # its log goes to a file: a pipe nobody reads while it runs could fill and stall it
        self.log = open(os.path.join(folder, "peer.log"), "w+")  # noqa: SIM115 (closed by close())
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.passes, self.fastest = 0, float("inf")
        try:
            self.figures = self._read()  # the warm-up pass
        except PeerMissing:
            self.close()
            raise

    def _read(self):
        line = self.process.stdout.readline()
        try:
            return json.loads(line)
        except ValueError:  # it ended (no line), or printed something else
            self.log.seek(0)
            errors = [text.strip() for text in (self.log.read() + line).splitlines() if text.strip()]
            raise PeerMissing(f"running BlazePose failed: {(errors or ['no output'])[-1][:200]}") from None

    def timed_pass(self):
        self.process.stdin.write("pass\n")
        self.process.stdin.flush()
        figures = self._read()
        self.passes += 1
        self.fastest = min(self.fastest, figures["seconds_per_frame"])
        self.figures = {**self.figures, **figures, "seconds_per_frame": self.fastest, "passes": self.passes}

    def close(self):
        self.process.stdin.close()
        self.process.kill()
        self.process.wait()
        self.log.close()


def timed_beside_peer(timings, python, frame, repeat, folder, peer_result):
    """(``interleaved_best_times`` of ``timings``, the peer's figures or why it is missing), the
    peer's passes taking turns with them when its ``python`` is there."""
    if not python:
        return interleaved_best_times(timings, repeat), peer_result
    try:
        peer = Peer(python, frame, folder)
    except (OSError, PeerMissing) as exc:
        return interleaved_best_times(timings, repeat), str(exc)
    try:
        costs = interleaved_best_times({**timings, PEER_NAME: peer.timed_pass}, repeat)
        costs.pop(PEER_NAME)  # its own clock counts, without the pipe
        return costs, peer.figures
    except PeerMissing as exc:
        return interleaved_best_times(timings, repeat), str(exc)
    finally:
        peer.close()


def against_peer(name, seconds, peer_seconds):
    """'; 0.52x the time of MediaPipe BlazePose full (goal <= 1.0x: met)' for an hg3d row (a goal
    where the issue set one), '' when the peer was not measured."""
    if peer_seconds is None:
        return ""
    return _against(seconds, peer_seconds, ("time", PEER_GOALS.get(name)), of=PEER_NAME)


def peer_row(result):
    """The peer's own row: its time per frame, or 'not measured' and why."""
    name = f"pose network per frame: {PEER_NAME} (peer)"
    if isinstance(result, str):
        row(name, "not measured", result)
        return
    row(
        name,
        f"{result['seconds_per_frame'] * 1e3:.1f} ms",
        f"mediapipe {result['mediapipe']} in its own environment, model_complexity 1 (full), world landmarks on "
        f"{result['world_landmarks']} of {result['frames']} frames: the same photo played as a video (tracking "
        f"mode), fastest of {result['passes']} passes taken in turns with hg3d's rows, on its own threads",
    )


def _against(t, base, goal, of="torch, ResNet-50, flip test, no detector"):
    """'; 1.40x the time of torch, ResNet-50, flip test, no detector (goal <= 1.6x: met)'."""
    if goal is None or isinstance(base, str):
        return ""
    kind, limit = goal
    if kind == "time":
        ratio, what, sign, met = t / base, "the time", "<=", limit is None or t / base <= limit
    else:
        ratio, what, sign, met = base / t, "the speed", ">=", limit is None or base / t >= limit
    verdict = f" (goal {sign} {limit}x: {'met' if met else 'NOT met'})" if limit else ""
    return f"; {ratio:.2f}x {what} of {of}{verdict}"


def bench_temporal(repeat, length=300):
    """The temporal model's cost per frame (a whole sequence at once, as --test and an offline
    track run it) against the frame model's forward pass of one image, both on the CPU."""
    print(f"temporal model per frame vs the frame model (CPU, a {length}-frame sequence)")
    torch.manual_seed(0)
    frame_model = create_model("msra_50", heads_for("human3d")).eval()
    image = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        t_frame = best_time(lambda: frame_model(image), repeat)
    features = np.random.default_rng(0).normal(size=(length, NUM_FEATURES)).astype(np.float32)
    for frames in RECEPTIVE_FIELDS:
        model = TemporalModel(frames).eval()
        t = best_time(lambda model=model: model.predict_sequence(features), repeat) / length
        row(
            f"temporal model, {frames} frames, per frame (CPU)",
            f"{100 * t / t_frame:.2f}% of the frame model (goal under 5%)",
            f"{t * 1e3:.3f} ms per frame vs {t_frame * 1e3:.0f} ms for one ResNet-50 256x256 forward pass (no flip), "
            f"{torch.get_num_threads()} threads, 256 channels",
        )


SECTIONS = {
    "variance_loss": lambda args, repeat: bench_variance_loss(repeat),
    "test_batching": lambda args, repeat: bench_test_batching(max(1, repeat // 2)),
    "input_pipeline": lambda args, repeat: bench_input_pipeline(repeat),
    "training_step": lambda args, repeat: bench_training_step(repeat),
    "h36m_conversion": lambda args, repeat: bench_h36m_conversion(),
    "annotation_check": lambda args, repeat: bench_annotation_check(args.cache_entries),
    "host_syncs": lambda args, repeat: bench_host_syncs(repeat),
    "folding": lambda args, repeat: bench_folding(repeat * 2),
    "mobile": lambda args, repeat: bench_mobile(repeat * 2, args.peer),
    "temporal": lambda args, repeat: bench_temporal(repeat),
    "int8_accuracy": lambda args, repeat: bench_int8_accuracy(args.checkpoint, args.data_dir, args.arch, args.size),
    "demo": lambda args, repeat: bench_demo(20 if args.quick else 60, 1 if args.quick else 2),
    "pipeline": lambda args, repeat: bench_demo(20 if args.quick else 60, 3, pipeline_only=True),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--cache_entries", type=int, default=500000, help="size of the generated H36M cache whose opening is timed"
    )
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument(
        "--peer",
        choices=["mediapipe"],
        help="also time MediaPipe's BlazePose full (installed into its own environment on first use) in the mobile "
        "section, and give its rows as ratios to it",
    )
    quickstart = parser.add_argument_group("int8_accuracy: a trained network and its data (default: the quickstart's)")
    quickstart.add_argument(
        "--checkpoint", default=os.path.join(REPO, "exp", "quickstart_fusion_3d_var", "model_last.pth")
    )
    quickstart.add_argument("--data_dir", default=os.path.join(REPO, "data"))
    quickstart.add_argument("--arch", default="msra_18")
    quickstart.add_argument("--size", type=int, default=64, help="its input size (square)")
    args = parser.parse_args()
    repeat = 2 if args.quick else 5
    start, load = time.time(), os.getloadavg()[0]
    for name in args.only or SECTIONS:
        SECTIONS[name](args, repeat)
    cpu = platform.processor() or platform.machine()
    print(
        f"\nMachine: {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{time.strftime('%Y-%m-%d')}, {time.time() - start:.0f} s; load average (1 min) "
        f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (other processes on these cores)\n"
    )
    print("| benchmark | result | details |\n|---|---|---|")
    for name, value, detail in ROWS:
        print(f"| {name} | {value} | {detail} |")


if __name__ == "__main__":
    main()
