"""The pose network run by ONNX Runtime instead of torch (``--backend onnxruntime``).

``OnnxRuntimeModel`` is called like the torch model (a batch of normalised crops in, a list with
one dict of head maps out), so ``Estimator(model=OnnxRuntimeModel(...))`` runs it unchanged. The
network is exported (hg3d.export) once per checkpoint content and input size into a cache folder;
later runs load the cached file, so only the first run pays for the export. It runs on the CPU
(the onnxruntime package's provider); inputs and outputs stay on the caller's device.
"""

import hashlib
import os

import torch

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


def cached_export_path(checkpoint, input_h, input_w):
    """The ONNX file of ``checkpoint`` at ``input_h`` x ``input_w``: named by the checkpoint's
    content (a copied or renamed checkpoint shares it, a retrained one does not) and the size."""
    return os.path.join(cache_dir(), "onnx", f"{file_digest(checkpoint)[:24]}-{input_h}x{input_w}.onnx")


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise UserError(f"--backend onnxruntime needs the onnxruntime package: {INSTALL_HINT}") from None
    return onnxruntime


class OnnxRuntimeModel(torch.nn.Module):
    """``model`` (loaded from ``checkpoint``) as an ONNX Runtime session on ``threads`` CPU threads
    (default: torch's count, so that both backends get the same cores).

    An ``nn.Module`` without parameters: ``.to()``, ``.eval()`` and memory formats are no-ops, so it
    stands wherever the torch model does.
    """

    def __init__(self, model, checkpoint, input_h, input_w, threads=None, log=print):
        super().__init__()
        onnxruntime = _onnxruntime()
        self.path = cached_export_path(checkpoint, input_h, input_w)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        if not os.path.isfile(self.path):
            self.export(model, input_h, input_w, log, f"exporting {checkpoint} to ONNX once, cached as {self.path}")
        try:
            self.session = onnxruntime.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        except Exception:  # a damaged cache file (onnxruntime raises its own types): export again
            self.export(model, input_h, input_w, log, f"{self.path} is unreadable; exporting {checkpoint} again")
            self.session = onnxruntime.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        self.heads = [output.name for output in self.session.get_outputs()]

    def export(self, model, input_h, input_w, log, message):
        log(f"notice: {message}")
        device = next(model.parameters()).device
        try:
            export_model(model.cpu(), "onnx", self.path, input_h, input_w)
        except ImportError as exc:
            raise UserError(f"--backend onnxruntime cannot export the network ({exc}): {INSTALL_HINT}") from None
        finally:
            model.to(device)

    def forward(self, inputs):
        """[{head: maps}] for a batch (N, 3, input_h, input_w), like the torch model's last stack."""
        feed = {"input": inputs.detach().float().cpu().contiguous().numpy()}
        maps = self.session.run(None, feed)
        return [{head: torch.from_numpy(m).to(inputs.device) for head, m in zip(self.heads, maps)}]
