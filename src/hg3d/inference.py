"""The predictor: a model -> crops -> flip test -> decoded poses, over a dataset or on images.

No Trainer is needed to run a model: ``--test`` (``predict_dataset``), validation during training,
the demo and the Python API (``Estimator``) all run the network through ``network_forward`` and
``flip_test_forward`` and decode with ``decode.decode_crops``.

    from hg3d.inference import Estimator
    estimator = Estimator.from_checkpoint("models/fusion_3d_var.pth", arch="msra_50")
    people = estimator.predict(bgr_image, boxes=[[x, y, w, h], ...])  # boxes=None: whole image
"""

import contextlib

import numpy as np
import torch

from .camera import CameraPolicy
from .checkpoint import load_model
from .decode import decode_crops, flip_merge
from .deploy import BACKENDS, PRECISIONS
from .deploy.fold import prepare_for_inference
from .errors import UserError
from .geometry import adjust_aspect_ratio, crop_and_normalize
from .joints import BONE_SUM_RANGE_MM, H36M_BONE_SUM_MM
from .placement import place_person
from .skeleton import h36m_scale, to_h36m_order

BOX_MARGIN = 1.25  # like MPII's scale: the crop is 1.25 x the person box


def uses_autocast(amp, device):
    """Whether ``--amp`` runs the network in mixed precision on ``device`` (CUDA only)."""
    return bool(amp) and torch.device(device).type == "cuda"


def network_forward(model, inputs, memory_format=torch.channels_last, autocast=False):
    """The last stack's maps of a batch, as float32 (float64 for a float64 model).

    NHWC (``channels_last``) inputs: faster convolutions with oneDNN on CPUs and on tensor cores
    (``scripts/bench.py``); the model should be converted once with
    ``model.to(memory_format=...)``. ``autocast``: mixed precision (``uses_autocast``).
    """
    inputs = inputs.contiguous(memory_format=memory_format)
    with torch.autocast(inputs.device.type) if autocast else contextlib.nullcontext():
        output = model(inputs)[-1]
    return {k: v if v.dtype == torch.float64 else v.float() for k, v in output.items()}


@torch.no_grad()
def flip_test_forward(forward, inputs, flip_test=True):
    """Network maps of a batch: (plain, merged), merged averaging in the mirrored input's maps
    when ``flip_test`` is on (one forward pass over both halves)."""
    if not flip_test:
        output = forward(inputs)
        return output, output
    n = len(inputs)
    output = forward(torch.cat([inputs, inputs.flip(-1)]))
    return ({k: v[:n] for k, v in output.items()}, {k: flip_merge(v[:n], v[n:]) for k, v in output.items()})


@torch.no_grad()
def predict_dataset(forward, loader, device, flip_test=True, on_plain=None, progress=None, monitor=None):
    """Per-sample predictions of ``forward`` (a batch of inputs -> maps, e.g. ``network_forward``)
    over ``loader``'s dataset items, with the flip test unless ``flip_test`` is off.

    Returns arrays with one row per sample: ``index``, ``pred_2d`` (16, 2) image pixels,
    ``pred_3d`` (16, 3) crop units relative to the pelvis (depth head only), ``center`` and
    ``scale`` (the crop box), ``maxval`` (heatmap peaks), ``pck_dist`` (``monitor(maps, batch)``
    of each batch's merged maps, e.g. ``monitor.accuracy_monitor``, when given); and ``loss``, empty:
    only the inputs go to the device. ``on_plain(maps, batch)`` sees each batch's un-flipped maps
    (the validation loss); ``progress(it)`` is called after batch ``it``.
    """
    parts = []
    for it, batch in enumerate(loader):
        plain, merged = flip_test_forward(forward, batch["input"].to(device, non_blocking=True), flip_test)
        if on_plain is not None:
            on_plain(plain, batch)
        parts.append(batch_predictions(merged, batch, monitor))
        if progress is not None:
            progress(it)
    result = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
    result["loss"] = {}
    return result


def batch_predictions(maps, batch, monitor=None):
    """``predict_dataset``'s arrays for one batch of items from its merged maps."""
    centers, sizes = batch["center"].numpy(), batch["scale"].numpy()
    decoded = decode_crops(maps, centers, sizes)
    part = {
        "index": batch["index"].numpy(),
        "pred_2d": decoded["joints_2d"].astype(np.float32),
        "center": centers,
        "scale": sizes,
        "maxval": decoded["confidence"],
    }
    if "pred_3d" in decoded:
        part["pred_3d"] = decoded["pred_3d"]
    if monitor is not None:
        part["pck_dist"] = monitor(maps, batch)
    return part


def crop_box(image_shape, box, input_w, input_h):
    """(center, size) of the network crop: the whole image, centred, for ``box=None``; else the
    box x, y, w, h grown to the input's aspect ratio and by ``BOX_MARGIN``."""
    aspect = input_w / input_h
    if box is None:
        h, w = image_shape[:2]
        side = max(h, w)
        return np.array([w / 2, h / 2], np.float32), adjust_aspect_ratio((side, side), aspect)
    x, y, w, h = box
    return (np.array([x + w / 2, y + h / 2], np.float32), adjust_aspect_ratio((w, h), aspect) * BOX_MARGIN)


def whole_image_crop(image, input_w, input_h):
    """The network input of a whole BGR image (no box), as ``Estimator.predict`` makes it."""
    return crop_and_normalize(image, *crop_box(image.shape, None, input_w, input_h), 0, input_w, input_h)


def box_outside(box, image_shape):
    """Why a person box cannot be used on an image of ``image_shape`` (it misses it), or None."""
    if box is None:
        return None
    height, width = image_shape[:2]
    x, y, w, h = box
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        return f"box {[float(v) for v in box]} lies outside the {width}x{height} image"
    return None


def decode_people(maps, centers, sizes, bone_sum_mm=H36M_BONE_SUM_MM):
    """One dict per crop from merged network maps: ``joints_2d`` (16, 2) image px, ``confidence``
    (16,) heatmap peaks and, with a depth head, ``joints_3d_mm`` (16, 3) / ``joints_3d_h36m_mm``
    (17, 3) root-relative mm with bones summing to ``bone_sum_mm``, or None for both when every
    joint decodes to one point (no bone to scale by)."""
    decoded = decode_crops(maps, centers, sizes)
    people = []
    for i, (center, size) in enumerate(zip(centers, sizes)):
        person = {
            "joints_2d": decoded["joints_2d"][i],
            "confidence": decoded["confidence"][i].astype(np.float64),
            "crop_center": np.asarray(center, np.float64),
            "crop_size": np.asarray(size, np.float64),
        }
        if "pred_3d" in decoded:
            pose = decoded["pred_3d"][i]
            scale = h36m_scale(pose, bone_sum_mm)  # 0 for a degenerate pose (see skeleton.degenerate)
            usable = bool(scale > 0)
            person["joints_3d_mm"] = pose.astype(np.float64) * scale if usable else None
            person["joints_3d_h36m_mm"] = to_h36m_order(pose).astype(np.float64) * scale if usable else None
        people.append(person)
    return people


class Estimator:
    """A pose model ready to run on BGR images (NumPy arrays as OpenCV reads them).

    ``predict(image, boxes)`` returns one dict per person with the demo JSON's numbers:
    ``box`` [x, y, w, h] px (the whole image when no box was given), ``crop_center``/``crop_size``
    (the network crop), ``joints_2d`` (16, 2) px in MPII order, ``confidence`` (16,),
    ``joints_3d_mm`` (16, 3) and ``joints_3d_h36m_mm`` (17, 3) root-relative, camera axes
    (x right, y down, z forward), bones summing to ``bone_sum_mm`` (4000 mm; 3D checkpoints only;
    None when degenerate), and the person placed in the camera frame (``place_person``):
    ``root_cam_mm`` (3,), ``joints_3d_cam_mm`` (17, 3), ``placement_note``. The camera is
    ``intrinsics`` (a ``camera.Intrinsics``) given to ``predict``, else what ``camera`` (an
    ``Intrinsics`` or a ``camera.CameraPolicy``; default: the policy's field of view) gives the image.
    """

    def __init__(
        self,
        model,
        input_w=256,
        input_h=256,
        device="cpu",
        flip_test=True,
        camera=None,
        bone_sum_mm=H36M_BONE_SUM_MM,
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()  # see network_forward
        self.input_w, self.input_h, self.flip_test = input_w, input_h, flip_test
        if not BONE_SUM_RANGE_MM[0] <= bone_sum_mm <= BONE_SUM_RANGE_MM[1]:
            raise UserError(
                "bone sum {:g} mm: needs to lie from {:g} to {:g} (an adult's is about 4000)".format(
                    bone_sum_mm, *BONE_SUM_RANGE_MM
                )
            )
        self.camera, self.bone_sum_mm = camera or CameraPolicy(), float(bone_sum_mm)

    @classmethod
    def from_checkpoint(
        cls,
        path,
        arch="msra_50",
        task="human3d",
        input_w=256,
        input_h=256,
        device="cpu",
        backend="torch",
        log=print,
        precision="fp32",
        calibration=None,
        **kwargs,
    ):
        """The network of ``arch``/``task`` with the weights of ``path`` (``checkpoint.load_model``:
        one-line UserError on a missing, corrupt or other-arch file), run by ``backend``: ``torch``
        (batch norms folded into the convolutions, ``deploy.fold``), or ``onnxruntime`` (exported
        once and cached, ``deploy.onnx_runtime``). ``kwargs``: ``flip_test``, ``camera``,
        ``bone_sum_mm``; ``log``: the export's notices. ``precision="int8"`` (onnxruntime only): the
        network quantized, calibrated on ``calibration``, a list of BGR images (each taken whole, as
        ``predict`` takes an image without boxes); it trades accuracy for speed (``docs/benchmarks.md``)."""
        if precision not in PRECISIONS:
            raise UserError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
        if precision != "fp32" and backend != "onnxruntime":
            raise UserError(f"precision {precision} runs on the onnxruntime backend only: add --backend onnxruntime")
        if backend == "onnxruntime":
            from .deploy.onnx_runtime import OnnxRuntimeModel  # here: onnxruntime is an optional extra

            if precision == "int8":
                log("warning: --precision int8 trades accuracy for speed (its drift: docs/benchmarks.md)")
                calibration = [whole_image_crop(image, input_w, input_h) for image in calibration or ()]
            model = OnnxRuntimeModel.from_checkpoint(
                path, arch, task, input_w, input_h, log=log, precision=precision, calibration=calibration
            )
        elif backend == "torch":
            model = prepare_for_inference(load_model(path, arch, task))
        else:
            raise UserError(f"backend '{backend}' is not one of {', '.join(BACKENDS)}")
        return cls(model, input_w, input_h, device, **kwargs)

    def forward(self, inputs):
        """The last stack's maps of a batch, as float32 (in inference mode: no autograd bookkeeping)."""
        with torch.inference_mode():
            return network_forward(self.model, inputs)

    def predict(self, image, boxes=None, intrinsics=None):
        """People in one BGR image: ``boxes`` a list of [x, y, w, h] (None: the whole image)."""
        return self.predict_batch([image], [boxes], [intrinsics])[0]

    def predict_batch(self, images, boxes_per_image, intrinsics_per_image=None):
        """People in several images; every crop of every image goes through the network together
        (with the flip test). An image whose box list is empty gives no people.
        ``intrinsics_per_image``: one ``Intrinsics`` or None per image (see the class)."""
        crops, owners = [], []
        for index, (image, boxes) in enumerate(zip(images, boxes_per_image)):
            for box in [None] if boxes is None else boxes:
                problem = box_outside(box, image.shape)
                if problem:
                    raise UserError(problem)
                crops.append((box, *crop_box(image.shape, box, self.input_w, self.input_h)))
                owners.append(index)
        results = [[] for _ in images]
        if not crops:
            return results
        inputs = np.stack(
            [crop_and_normalize(images[i], c, s, 0, self.input_w, self.input_h) for i, (_, c, s) in zip(owners, crops)]
        )
        _, maps = flip_test_forward(self.forward, torch.from_numpy(inputs).to(self.device), self.flip_test)
        people = decode_people(maps, [c for _, c, _ in crops], [s for _, _, s in crops], self.bone_sum_mm)
        given = intrinsics_per_image or [None] * len(images)
        cameras = [camera or self.camera.for_frame(image.shape) for image, camera in zip(images, given)]
        for owner, (box, _, _), person in zip(owners, crops, people):
            if box is None:
                h, w = images[owner].shape[:2]
                box = [0.0, 0.0, float(w), float(h)]
            results[owner].append(place_person({"box": np.asarray(box, np.float64), **person}, cameras[owner]))
        return results
