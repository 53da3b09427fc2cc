"""Finding people: torchvision's COCO detectors, their weights, input size, and box filtering.

Weights come through torchvision's weights enums and torch's hub cache
(``$TORCH_HOME/hub/checkpoints/<file>``, downloaded on first use where the network allows), or
from a local state-dict file (``--detector_weights``, the same file the cache holds).

``auto`` picks by device: the accurate Faster R-CNN ResNet-50 on CUDA; on a CPU, where that one
costs dozens of pose-network passes a frame, SSDlite at 320 px, a fraction of one
(docs/detectors.md).
"""

import os
import socket
import threading
from collections import namedtuple

import numpy as np
import torch

from ..errors import UserError
from .options import DETECTORS

DOWNLOAD_TIMEOUT_S = 20  # a blocked network gives up instead of hanging the demo
COCO_PERSON = 1
MIN_DET_SIZE = 64  # below this a standing person is a few feature cells on the detectors' coarsest maps
AUTO_DETECTOR = {"cuda": "fasterrcnn", "cpu": "ssdlite"}

# builder, COCO weights enum member, and the builder's keyword for its lowest kept score
Spec = namedtuple("Spec", "builder weights score_keyword")


def _specs():
    """name -> Spec; imported late: torchvision detection is heavy."""
    from torchvision.models import detection as tvd

    return {
        "fasterrcnn": Spec(
            tvd.fasterrcnn_resnet50_fpn_v2, tvd.FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1, "box_score_thresh"
        ),
        "fasterrcnn_mobile": Spec(
            tvd.fasterrcnn_mobilenet_v3_large_fpn,
            tvd.FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1,
            "box_score_thresh",
        ),
        "fasterrcnn_mobile_320": Spec(
            tvd.fasterrcnn_mobilenet_v3_large_320_fpn,
            tvd.FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1,
            "box_score_thresh",
        ),
        "ssdlite": Spec(
            tvd.ssdlite320_mobilenet_v3_large, tvd.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1, "score_thresh"
        ),
    }


def weights_url(name):
    return _specs()[name].weights.url


def auto_detector(device):
    """The detector ``--detector auto`` runs on ``device``: accurate on CUDA, fast elsewhere."""
    return AUTO_DETECTOR["cuda" if torch.device(device).type == "cuda" else "cpu"]


def cached_weights_path(name):
    """Where torch's hub cache keeps (or would keep) the COCO weights of detector ``name``."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights_url(name)))


def download_weights(name):
    """Fetch the weights into the hub cache, checked against the SHA-256 prefix in torchvision's file
    name (``<model>-<prefix>.pth``)."""
    path = cached_weights_path(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)  # torch.hub writes <path>.<id>.partial there first
    hash_in_name = torch.hub.HASH_REGEX.search(os.path.basename(path))
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(
            weights_url(name), path, hash_prefix=hash_in_name.group(1) if hash_in_name else None, progress=True
        )
    finally:
        socket.setdefaulttimeout(previous)


def guess_detector(state, path=""):
    """Which detector a state dict belongs to (by its keys), or None. Both MobileNet Faster R-CNNs
    have the same layers; the 320 px one is told apart by its file name (torchvision's has
    ``_320_`` in it)."""
    if any(k.startswith("backbone.body.layer1.") for k in state):
        return "fasterrcnn"
    if any(k.startswith("backbone.body.0.") for k in state):
        return "fasterrcnn_mobile_320" if "_320_" in os.path.basename(path) else "fasterrcnn_mobile"
    if any(k.startswith("head.classification_head.") for k in state):
        return "ssdlite"
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


def resolve_weights(choice, weights_path, log=print, device="cpu"):
    """(detector name, state dict) for ``--detector``/``--detector_weights``, or (None, None) for no
    detector. ``auto`` takes the kind of ``--detector_weights``, else picks by ``device`` and says
    which in one notice line, falling back to the whole image when no weights can be had; an
    explicitly chosen detector without weights is a one-line error naming the file and the URL."""
    if choice == "none":
        return None, None
    if weights_path:
        state = read_weights(weights_path)
        name = guess_detector(state, weights_path) if choice == "auto" else choice
        if name is None:
            raise UserError(
                f"--detector_weights {weights_path} is the state dict of none of {', '.join(DETECTORS)} "
                f"(pick one with --detector)"
            )
        return name, state
    name = auto_detector(device) if choice == "auto" else choice
    picked = f"--detector auto picked {name} for the {torch.device(device).type.upper()}"
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
                f"notice: no person detector ({picked}): {path} is missing and {weights_url(name)} could "
                f"not be downloaded; using the whole image as one person (put the file there, or pass "
                f"--detector_weights FILE, --detector none to silence this)"
            )
            return None, None
    if choice == "auto":
        log(f"notice: {picked} (docs/detectors.md lists the others)")
    return name, read_weights(path)


class PersonDetector:
    """A COCO detector kept to people: boxes x, y, w, h with score >= ``threshold``, at least
    ``min_height`` px high, the ``max_people`` best per image. ``det_size`` is the side the frame's
    shorter side is resized to (the longer one in proportion, within the detector's own ratio);
    0 keeps the detector's own (800 px for the Faster R-CNNs, 320 for the 320 px ones)."""

    def __init__(self, name, state, device="cpu", threshold=0.5, max_people=10, min_height=32, det_size=0):
        if det_size and det_size < MIN_DET_SIZE:
            raise UserError(f"--det_size must be 0 (the detector's own) or >= {MIN_DET_SIZE} px, got {det_size}")
        spec = _specs()[name]
        # torchvision's own cut (0.05 for the Faster R-CNNs) would hide boxes below it from --det_thresh;
        # any cut up to the threshold keeps the same people (NMS only suppresses lower scores)
        model = spec.builder(
            weights=None, weights_backbone=None, num_classes=91, **{spec.score_keyword: min(threshold, 0.05)}
        )
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0][:160]
            raise UserError(f"the detector weights do not fit --detector {name} ({first})") from None
        if det_size:
            set_input_size(model.transform, det_size)
        self.name, self.device = name, torch.device(device)
        self.model = model.to(self.device).eval()
        self.threshold, self.max_people, self.min_height = threshold, max_people, min_height
        self.lock = threading.Lock()  # one call at a time: the pipeline's stage and the pose stage may both call

    @property
    def input_size(self):
        """(shorter side, longest side) px the detector resizes a frame to."""
        transform = self.model.transform
        return transform.min_size[-1], transform.max_size

    @torch.no_grad()
    def __call__(self, images):
        """People in BGR uint8 images: per image (boxes (N, 4) x, y, w, h, scores (N,)), best first.

        One image at a time: torchvision pads a batch to its largest image, which would make an
        image's people depend on the other images of its batch (and batching gains nothing on CPUs).
        """
        with self.lock:
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


def random_detector_state(name, person_logit=None):
    """The state dict of detector ``name`` with random (seeded) weights, for tests and benchmarks
    where no COCO weights can be had; with ``person_logit`` (e.g. 8) every box it proposes scores
    as a person."""
    torch.manual_seed(0)
    model = _specs()[name].builder(weights=None, weights_backbone=None, num_classes=91)
    if person_logit is not None:
        if name == "ssdlite":  # one classifier per feature map, num_anchors x 91 outputs each
            heads = model.head.classification_head.module_list
            biases = [layer[1].bias.view(-1, 91)[:, COCO_PERSON] for layer in heads]
        else:
            biases = [model.roi_heads.box_predictor.cls_score.bias[COCO_PERSON : COCO_PERSON + 1]]
        with torch.no_grad():
            for bias in biases:
                bias.fill_(person_logit)
    return model.state_dict()


def set_input_size(transform, size):
    """Make torchvision's GeneralizedRCNNTransform resize a frame's shorter side to ``size`` px,
    keeping its longest-side cap in proportion (SSD's square input becomes ``size`` x ``size``)."""
    transform.max_size = round(transform.max_size * size / transform.min_size[-1])
    transform.min_size = (size,)
    if transform.fixed_size is not None:
        transform.fixed_size = (size, size)
