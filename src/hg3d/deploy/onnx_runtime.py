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
"""

import hashlib
import importlib.metadata
import json
import os
import stat

import torch

from ..checkpoint import load_model, read_checkpoint
from ..errors import UserError
from ..files import write_json
from .export import export_model

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


def file_digest(path):
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
            and record.get("onnx_sha256") == file_digest(export_path)
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
    def from_checkpoint(cls, checkpoint, arch, task, input_w, input_h, threads=None, log=print):
        """The network of ``checkpoint`` (as ``checkpoint.load_model`` builds it), exported once into
        the cache; a trusted cached export is loaded without building the torch model at all (only a
        checkpoint that loaded as ``arch``/``task`` was ever exported, so the check is not lost)."""
        _onnxruntime()
        if not os.path.isfile(checkpoint):
            read_checkpoint(checkpoint)  # its one-line error, as with the torch backend
        digest = file_digest(checkpoint)
        expected = {
            "checkpoint_sha256": digest,
            "arch": arch,
            "task": task,
            "input_h": input_h,
            "input_w": input_w,
            "versions": package_versions(),
        }
        path = cached_export_path(digest, arch, task, input_w, input_h)
        if not trusted(path, expected):
            what = "its record differs" if os.path.exists(path) else "once"
            log(f"notice: exporting {checkpoint} to ONNX ({what}), cached as {path}")
            _export(checkpoint, expected, path)
        try:
            return cls(path, threads)
        except Exception:  # onnxruntime refuses a file its exporter wrote (its own types): export again
            log(f"notice: {path} is unreadable; exporting {checkpoint} again")
            _export(checkpoint, expected, path)
            return cls(path, threads)

    def forward(self, inputs):
        """[{head: maps}] for a batch (N, 3, input_h, input_w), like the torch model's last stack."""
        feed = {"input": inputs.detach().float().cpu().contiguous().numpy()}
        maps = self.session.run(None, feed)
        return [{head: torch.from_numpy(m).to(inputs.device) for head, m in zip(self.heads, maps)}]


def _export(checkpoint, expected, path):
    """Export ``checkpoint`` to ``path`` and write its record (after the file: a record always
    describes a complete export)."""
    model = load_model(checkpoint, expected["arch"], expected["task"])
    try:
        export_model(model, "onnx", path, expected["input_h"], expected["input_w"])
    except ImportError as exc:
        raise UserError(f"--backend onnxruntime cannot export the network ({exc}): {INSTALL_HINT}") from None
    write_json(record_path(path), {**expected, "onnx_sha256": file_digest(path)})
