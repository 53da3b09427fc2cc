"""The pose network run by ONNX Runtime instead of torch (``--backend onnxruntime``).

``OnnxRuntimeModel`` is called like the torch model (a batch of normalised crops in, a list with
one dict of head maps out), so ``Estimator(model=OnnxRuntimeModel.from_checkpoint(...))`` runs it
unchanged. The network is exported (hg3d.export) once per checkpoint content, arch, task and input
size into a cache folder; later runs load the cached file, so only the first run pays for the
export. It runs on the CPU
(the onnxruntime package's provider); inputs and outputs stay on the caller's device.
"""

import hashlib
import os

import torch

from .checkpoint import read_checkpoint
from .errors import UserError
from .export import export_model

BACKENDS = ("torch", "onnxruntime")
CACHE_ENV = "HG3D_CACHE"
INSTALL_HINT = "pip install 'hg3d[export]' (onnx, onnxruntime, onnxscript)"


def cache_dir():
    """Where exported networks are kept: ``$HG3D_CACHE``, else ``$XDG_CACHE_HOME/hg3d``, else
    ``~/.cache/hg3d``."""
    if os.environ.get(CACHE_ENV):
        return os.path.abspath(os.path.expanduser(os.environ[CACHE_ENV]))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hg3d")


def file_digest(path):
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_export_path(checkpoint, arch, task, input_w, input_h):
    """The ONNX file of ``checkpoint`` as ``arch``/``task`` at ``input_h`` x ``input_w``: named by the
    checkpoint's content (a copied or renamed checkpoint shares it, a retrained one does not)."""
    name = f"{file_digest(checkpoint)[:24]}-{arch}-{task}-{input_h}x{input_w}.onnx"
    return os.path.join(cache_dir(), "onnx", name)


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise UserError(f"--backend onnxruntime needs the onnxruntime package: {INSTALL_HINT}") from None
    return onnxruntime


class OnnxRuntimeModel(torch.nn.Module):
    """An exported pose network (``scripts/export.py``'s ONNX) as an ONNX Runtime session on
    ``threads`` CPU threads (default: torch's count, so that both backends get the same cores).

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
        """The network of ``checkpoint`` (as ``Estimator.from_checkpoint`` builds it), exported once
        into the cache; a cached export is loaded without building the torch model at all (only a
        checkpoint that loaded as ``arch``/``task`` was ever exported, so the check is not lost)."""
        _onnxruntime()
        if not os.path.isfile(checkpoint):
            read_checkpoint(checkpoint)  # its one-line error, as with the torch backend
        path = cached_export_path(checkpoint, arch, task, input_w, input_h)
        if not os.path.isfile(path):
            log(f"notice: exporting {checkpoint} to ONNX once, cached as {path}")
            _export(checkpoint, arch, task, input_w, input_h, path)
        try:
            return cls(path, threads)
        except Exception:  # a damaged cache file (onnxruntime raises its own types): export again
            log(f"notice: {path} is unreadable; exporting {checkpoint} again")
            _export(checkpoint, arch, task, input_w, input_h, path)
            return cls(path, threads)

    def forward(self, inputs):
        """[{head: maps}] for a batch (N, 3, input_h, input_w), like the torch model's last stack."""
        feed = {"input": inputs.detach().float().cpu().contiguous().numpy()}
        maps = self.session.run(None, feed)
        return [{head: torch.from_numpy(m).to(inputs.device) for head, m in zip(self.heads, maps)}]


def _export(checkpoint, arch, task, input_w, input_h, path):
    from .inference import Estimator  # here: inference may use this module

    model = Estimator.from_checkpoint(checkpoint, arch, task, input_w, input_h).model
    try:
        export_model(model, "onnx", path, input_h, input_w)
    except ImportError as exc:
        raise UserError(f"--backend onnxruntime cannot export the network ({exc}): {INSTALL_HINT}") from None
