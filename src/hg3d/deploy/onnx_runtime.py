"""The pose network run by ONNX Runtime instead of torch (``--backend onnxruntime``).

``OnnxRuntimeModel`` is called like the torch model (a batch of normalised crops in, a list with
one dict of head maps out), so ``Estimator(model=OnnxRuntimeModel.from_checkpoint(...))`` runs it
unchanged. The network is exported (``deploy.export``) once per checkpoint content, arch, task and
input size into a cache folder; later runs load the cached file, so only the first run pays for the
export. It runs on the CPU (the onnxruntime package's provider); inputs and outputs stay on the
caller's device.

The cache is trusted only as far as it can be: its folder must be the user's own and writable by
no one else, and each export has a record beside it (the checkpoint's SHA-256, arch, task, input
size, the versions of hg3d, torch and onnx that made it, and the SHA-256 of the ``.onnx`` file). An
export whose record is missing or differs in anything is made again, so a model planted under the
expected name is never run.

``precision="int8"`` quantizes an export of the same network whose deconvolutions are sub-pixel
convolutions (``deploy.fold``; ONNX Runtime has no int8 transposed convolution) with ONNX Runtime's
tools (static, QDQ format, int8 weights per output channel, uint8 activations whose ranges are
calibrated on given crops) and caches the result beside it, keyed and recorded the same way plus
the calibration crops' SHA-256.
"""

import functools
import hashlib
import importlib.metadata
import json
import os
import stat

import torch

from ..checkpoint import load_model, read_checkpoint
from ..errors import UserError
from ..files import atomic_write, sha256_of, write_json
from .export import export_model
from .fold import fold_batch_norms, subpixel_deconvolutions

CACHE_ENV = "HG3D_CACHE"
INSTALL_HINT = "pip install 'hg3d[export]' (onnx, onnxruntime, onnxscript)"


def cache_dir():
    """Where exported networks are kept: ``$HG3D_CACHE``, else ``$XDG_CACHE_HOME/hg3d``, else
    ``~/.cache/hg3d``."""
    if os.environ.get(CACHE_ENV):
        return os.path.abspath(os.path.expanduser(os.environ[CACHE_ENV]))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hg3d")


def private_export_dir():
    """``<cache>/onnx``, created private (0700) when missing; a one-line UserError when it belongs to
    another user or others may write in it (then anyone could have put a model there)."""
    path = os.path.join(cache_dir(), "onnx")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError as exc:
        raise UserError(f"cannot use the ONNX cache folder {path}: {exc.strerror} (set {CACHE_ENV})") from None
    if not hasattr(os, "getuid"):  # Windows: no POSIX owner and mode to check
        return path
    foreign = info.st_uid != os.getuid()
    if foreign or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        whose = "belongs to another user" if foreign else f"is writable by others (mode {stat.S_IMODE(info.st_mode):o})"
        raise UserError(
            f"the ONNX cache folder {path} {whose}, so a model in it cannot be trusted: remove it "
            f"(it is made again, private) or set {CACHE_ENV} to a folder of your own"
        )
    return path


def package_versions():
    """The versions of the packages that make an export (a change in any of them exports anew)."""
    from .. import __version__

    try:
        onnx = importlib.metadata.version("onnx")
    except importlib.metadata.PackageNotFoundError:
        onnx = None
    return {"hg3d": __version__, "torch": torch.__version__, "onnx": onnx}


def cached_export_path(checkpoint_digest, arch, task, input_w, input_h):
    """The ONNX file of a checkpoint (by its SHA-256) as ``arch``/``task`` at ``input_h`` x
    ``input_w``: named by the checkpoint's content (a copied or renamed checkpoint shares it, a
    retrained one does not). Its record is the same name with ``.json``."""
    name = f"{checkpoint_digest[:24]}-{arch}-{task}-{input_h}x{input_w}.onnx"
    return os.path.join(private_export_dir(), name)


def record_path(export_path):
    return os.path.splitext(export_path)[0] + ".json"


def trusted(export_path, expected):
    """Whether ``export_path`` and its record exist, the record says ``expected`` and the file's
    SHA-256 is the one recorded."""
    try:
        with open(record_path(export_path)) as handle:
            record = json.load(handle)
        return (
            isinstance(record, dict)
            and {k: v for k, v in record.items() if k != "onnx_sha256"} == expected
            and record.get("onnx_sha256") == sha256_of(export_path)
        )
    except (OSError, ValueError):
        return False


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise UserError(f"--backend onnxruntime needs the onnxruntime package: {INSTALL_HINT}") from None
    return onnxruntime


class OnnxRuntimeModel(torch.nn.Module):
    """An exported pose network (``hg3d-export``'s ONNX) as an ONNX Runtime session on ``threads``
    CPU threads (default: torch's count, so that both backends get the same cores).

    An ``nn.Module`` without parameters: ``.to()``, ``.eval()`` and memory formats are no-ops, so it
    stands wherever the torch model does.
    """

    def __init__(self, path, threads=None):
        super().__init__()
        onnxruntime = _onnxruntime()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        # idle threads sleep instead of spinning: spinning kept the cores from the video decoding,
        # drawing and encoding between frames (a 60-frame demo: 1.03x torch's speed with it, 1.13x without)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.heads = [output.name for output in self.session.get_outputs()]

    @classmethod
    def from_checkpoint(
        cls, checkpoint, arch, task, input_w, input_h, threads=None, log=print, precision="fp32", calibration=None
    ):
        """The network of ``checkpoint`` (as ``checkpoint.load_model`` builds it), exported once into
        the cache; a trusted cached export is loaded without building the torch model at all (only a
        checkpoint that loaded as ``arch``/``task`` was ever exported, so the check is not lost).
        ``precision="int8"``: that export quantized, its activations calibrated on ``calibration``
        (normalised crops, float32 (N, 3, input_h, input_w)), also made once and cached."""
        _onnxruntime()
        if not os.path.isfile(checkpoint):
            read_checkpoint(checkpoint)  # its one-line error, as with the torch backend
        digest = sha256_of(checkpoint)
        expected = {
            "checkpoint_sha256": digest,
            "arch": arch,
            "task": task,
            "input_h": input_h,
            "input_w": input_w,
            "versions": package_versions(),
        }
        path = cached_export_path(digest, arch, task, input_w, input_h)
        make = functools.partial(_export, checkpoint, expected, path)
        made_by = f"exporting {checkpoint} to ONNX"
        if precision == "int8":
            # ONNX Runtime has no int8 transposed convolution: what is quantized is the export whose
            # deconvolutions are sub-pixel convolutions (the same function, deploy.fold)
            expected = {**expected, "deconvolutions": "subpixel"}
            path = f"{os.path.splitext(path)[0]}-subpixel.onnx"
            make = functools.partial(_export, checkpoint, expected, path, subpixel=True)
            _cached(path, expected, make, made_by, log)
            calibration = calibration_inputs(calibration, input_w, input_h)
            expected = {
                **expected,
                "precision": "int8",
                "calibration_sha256": hashlib.sha256(calibration.tobytes()).hexdigest(),
                "versions": {**expected["versions"], "onnxruntime": _onnxruntime().__version__},
            }
            fp32_path, path = path, f"{os.path.splitext(path)[0]}-int8-{expected['calibration_sha256'][:16]}.onnx"
            make = functools.partial(_quantize, fp32_path, calibration, expected, path)
            made_by = f"quantizing {checkpoint} to int8 on {len(calibration)} calibration crops"
        _cached(path, expected, make, made_by, log)
        try:
            return cls(path, threads)
        except Exception:  # onnxruntime refuses a file its exporter wrote (its own types): make it again
            log(f"notice: {path} is unreadable; {made_by} again")
            make()
            return cls(path, threads)

    def forward(self, inputs):
        """[{head: maps}] for a batch (N, 3, input_h, input_w), like the torch model's last stack."""
        feed = {"input": inputs.detach().float().cpu().contiguous().numpy()}
        maps = self.session.run(None, feed)
        return [{head: torch.from_numpy(m).to(inputs.device) for head, m in zip(self.heads, maps)}]


def _cached(path, expected, make, made_by, log):
    """Run ``make`` (which writes ``path`` and its record) unless ``path`` is a trusted file of ``expected``."""
    if not trusted(path, expected):
        what = "its record differs" if os.path.exists(path) else "once"
        log(f"notice: {made_by} ({what}), cached as {path}")
        make()


def calibration_inputs(calibration, input_w, input_h):
    """The calibration crops as one C-contiguous float32 array, or a one-line error."""
    import numpy as np

    crops = np.ascontiguousarray(calibration if calibration is not None else np.zeros((0,)), np.float32)
    if crops.ndim != 4 or crops.shape[1:] != (3, input_h, input_w) or not len(crops):
        raise UserError(
            f"int8 quantization needs calibration crops of shape (N, 3, {input_h}, {input_w}), got "
            f"{crops.shape}: give images to calibrate on"
        )
    return crops


def _quantize(fp32_path, calibration, expected, path):
    """Quantize the export ``fp32_path`` into ``path`` (static QDQ, per-channel int8 weights,
    uint8 activations calibrated by min/max on ``calibration``), then write its record."""
    from onnxruntime import quantization

    class Crops(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration[i : i + 8] for i in range(0, len(calibration), 8))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"input": batch}

    atomic_write(
        path,
        lambda tmp: quantization.quantize_static(
            fp32_path,
            tmp,
            Crops(),
            quant_format=quantization.QuantFormat.QDQ,
            per_channel=True,
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8,
        ),
    )
    write_json(record_path(path), {**expected, "onnx_sha256": sha256_of(path)})


def _export(checkpoint, expected, path, subpixel=False):
    """Export ``checkpoint`` to ``path`` and write its record (after the file: a record always
    describes a complete export). ``subpixel``: batch norms folded and deconvolutions as sub-pixel
    convolutions first (``deploy.fold``), for int8."""
    model = load_model(checkpoint, expected["arch"], expected["task"])
    if subpixel:
        model = subpixel_deconvolutions(fold_batch_norms(model))
    try:
        export_model(model, "onnx", path, expected["input_h"], expected["input_w"])
    except ImportError as exc:
        raise UserError(f"--backend onnxruntime cannot export the network ({exc}): {INSTALL_HINT}") from None
    write_json(record_path(path), {**expected, "onnx_sha256": sha256_of(path)})
