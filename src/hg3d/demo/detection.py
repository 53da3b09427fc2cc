"""Finding people: torchvision's COCO Faster R-CNN detectors, their weights, and box filtering.

Weights come through torchvision's weights enums and torch's hub cache
(``$TORCH_HOME/hub/checkpoints/<file>``, downloaded on first use where the network allows), or
from a local state-dict file (``--detector_weights``, the same file the cache holds).
"""

import os
import socket

import numpy as np
import torch

from ..errors import UserError

DOWNLOAD_TIMEOUT_S = 20  # a blocked network gives up instead of hanging the demo
COCO_PERSON = 1


def _specs():
    """name -> (builder, weights enum member); imported late: torchvision detection is heavy."""
    from torchvision.models import detection

    return {
        "fasterrcnn": (detection.fasterrcnn_resnet50_fpn_v2, detection.FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1),
        "fasterrcnn_mobile": (
            detection.fasterrcnn_mobilenet_v3_large_fpn,
            detection.FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1,
        ),
    }


DETECTORS = ("fasterrcnn", "fasterrcnn_mobile")


def weights_url(name):
    return _specs()[name][1].url


def cached_weights_path(name):
    """Where torch's hub cache keeps (or would keep) the COCO weights of detector ``name``."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights_url(name)))


def download_weights(name):
    """Fetch the weights into the hub cache (checked against the hash in their file name)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(weights_url(name), cached_weights_path(name), progress=True)
    finally:
        socket.setdefaulttimeout(previous)


def guess_detector(state):
    """Which detector a state dict belongs to (by its backbone's keys), or None."""
    if any(k.startswith("backbone.body.layer1.") for k in state):
        return "fasterrcnn"
    if any(k.startswith("backbone.body.features.") or k.startswith("backbone.body.0.") for k in state):
        return "fasterrcnn_mobile"
    return None


def read_weights(path):
    if not os.path.isfile(path):
        raise UserError(f"--detector_weights {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files; all mean "unreadable"
        raise UserError(
            f"cannot read --detector_weights {path}: not a PyTorch state dict ({type(exc).__name__})"
        ) from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise UserError(f"--detector_weights {path} holds no state dict of tensors")
    return state


def resolve_weights(choice, weights_path, log=print):
    """(detector name, state dict) for ``--detector``/``--detector_weights``, or (None, None) for no
    detector. ``auto`` falls back to the whole image with a notice when no weights can be had; an
    explicitly chosen detector without weights is a one-line error naming the file and the URL."""
    if choice == "none":
        return None, None
    if weights_path:
        state = read_weights(weights_path)
        name = guess_detector(state) if choice == "auto" else choice
        if name is None:
            raise UserError(
                f"--detector_weights {weights_path} is neither a fasterrcnn nor a "
                f"fasterrcnn_mobile state dict (pick one with --detector)"
            )
        return name, state
    name = "fasterrcnn" if choice == "auto" else choice
    path = cached_weights_path(name)
    if not os.path.isfile(path):
        try:
            download_weights(name)
        except Exception as exc:  # no network, refused, timed out, hash mismatch
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
            if choice != "auto":
                raise UserError(
                    f"--detector {name}: no weights at {path} and the download of "
                    f"{weights_url(name)} failed ({reason}); put that file there or "
                    f"pass --detector_weights FILE"
                ) from None
            log(
                f"notice: no person detector: {path} is missing and {weights_url(name)} could not "
                f"be downloaded; using the whole image as one person (put the file there, or pass "
                f"--detector_weights FILE, --detector none to silence this)"
            )
            return None, None
    return name, read_weights(path)


class PersonDetector:
    """COCO Faster R-CNN kept to people: boxes x, y, w, h with score >= ``threshold``, at least
    ``min_height`` px high, the ``max_people`` best per image."""

    def __init__(self, name, state, device="cpu", threshold=0.5, max_people=10, min_height=32):
        builder = _specs()[name][0]
        # box_score_thresh: torchvision's own cut (0.05) would hide boxes below it from --det_thresh.
        model = builder(weights=None, weights_backbone=None, num_classes=91, box_score_thresh=min(threshold, 0.05))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0][:160]
            raise UserError(f"the detector weights do not fit --detector {name} ({first})") from None
        self.name, self.device = name, torch.device(device)
        self.model = model.to(self.device).eval()
        self.threshold, self.max_people, self.min_height = threshold, max_people, min_height

    @torch.no_grad()
    def __call__(self, images):
        """People in BGR uint8 images: per image (boxes (N, 4) x, y, w, h, scores (N,)), best first.

        One image at a time: torchvision pads a batch to its largest image, which would make an
        image's people depend on the other images of its batch (and batching gains nothing on CPUs).
        """
        return [self.detect(image) for image in images]

    @torch.no_grad()
    def detect(self, image):
        tensor = torch.from_numpy(np.ascontiguousarray(image[:, :, ::-1])).to(self.device)
        out = self.model([tensor.permute(2, 0, 1).float().div_(255)])[0]
        boxes, scores = out["boxes"].cpu().numpy(), out["scores"].cpu().numpy()
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).astype(np.float64)
        keep = (
            (out["labels"].cpu().numpy() == COCO_PERSON) & (scores >= self.threshold) & (xywh[:, 3] >= self.min_height)
        )
        order = np.argsort(-scores[keep], kind="stable")[: self.max_people]
        return xywh[keep][order], scores[keep][order].astype(np.float64)
