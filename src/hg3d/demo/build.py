"""What every demo run is built from, once per command: the pose network (on the backend
``--backend`` names: ``make_estimator``), the person detector when some input needs one, and the
camera policy (``--intrinsics``, else a photo's EXIF, else ``--fov``)."""

from ..camera import CameraPolicy
from ..files import writable_dir
from ..inference import Estimator
from ..weights import checkpoint_path
from .calibration import calibration_images
from .detection import PersonDetector, resolve_weights


def make_estimator(opt, log=print, inputs=()):
    """The pose network of ``--load_model`` on ``--backend`` and ``--precision``: the one place the
    runtime is chosen (``inputs``: the demo's input paths, which calibrate int8 without
    ``--calibration``)."""
    settings = {"flip_test": opt.flip_test, "bone_sum_mm": opt.bone_sum_mm, "backend": opt.backend, "log": log}
    if opt.precision == "int8":
        settings.update(precision="int8", calibration=calibration_images(opt.calibration, list(inputs)))
    opt.load_model = checkpoint_path(opt.load_model, log)  # a release's file, fetched now (the JSON names it)
    return Estimator.from_checkpoint(
        opt.load_model, opt.arch, opt.task, opt.input_w, opt.input_h, opt.device, **settings
    )


def build(opt, need_detector, log=print, inputs=()):
    """(estimator, detector or None, camera policy) for the demo's options and input paths;
    ``--out_dir`` is made once they load (a bad checkpoint leaves no folder behind)."""
    estimator = make_estimator(opt, log, inputs)
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
