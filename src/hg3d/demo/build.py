"""What every demo run is built from, once per command: the pose network (on the backend
``--backend`` names: ``make_estimator``), the person detector when some input needs one, and the
camera policy (``--intrinsics``, else a photo's EXIF, else ``--fov``)."""

from ..backends import OnnxRuntimeModel
from ..camera import CameraPolicy
from ..files import writable_dir
from ..inference import Estimator
from .detection import PersonDetector, resolve_weights


def make_estimator(opt, log=print):
    """The pose network of ``--load_model`` on ``--backend``: the one place the runtime is chosen."""
    settings = {"flip_test": opt.flip_test, "bone_sum_mm": opt.bone_sum_mm}
    if opt.backend == "onnxruntime":
        model = OnnxRuntimeModel.from_checkpoint(opt.load_model, opt.arch, opt.task, opt.input_w, opt.input_h, log=log)
        return Estimator(model, opt.input_w, opt.input_h, opt.device, **settings)
    return Estimator.from_checkpoint(
        opt.load_model, opt.arch, opt.task, opt.input_w, opt.input_h, opt.device, **settings
    )


def build(opt, need_detector, log=print):
    """(estimator, detector or None, camera policy) for the demo's options; ``--out_dir`` is made
    once they load (a bad checkpoint leaves no folder behind)."""
    estimator = make_estimator(opt, log)
    detector = None
    if need_detector:
        name, state = resolve_weights(opt.detector, opt.detector_weights, log, device=opt.device)
        if name:
            detector = PersonDetector(
                name, state, opt.device, opt.det_thresh, opt.max_people, opt.min_box, opt.det_size
            )
    writable_dir(opt.out_dir, "--out_dir")
    camera = CameraPolicy(opt.camera_file, use_exif=not opt.no_exif, fov_deg=opt.fov)
    return estimator, detector, camera
