"""Export a checkpoint for deployment: ONNX (named outputs ``hm``, ``depth``) or TorchScript.
The library; ``hg3d-export``'s flags are in ``deploy.cli``.

Both take a batch of normalised crops (N, 3, input_h, input_w) — see geometry.crop_and_normalize —
and return the heatmaps (and depth maps) of the network, without the flip test or decoding.
"""

import warnings

import torch
from torch import nn

from ..checkpoint import load_model
from ..files import atomic_write


class MapsOnly(nn.Module):
    """The network with a tuple output (hm[, depth]) instead of a list of dicts."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.heads = sorted(model.heads, key=lambda h: h != "hm")  # 'hm' first

    def forward(self, x):
        out = self.model(x)[0]
        return tuple(out[head] for head in self.heads)


def export_model(model, fmt, path, input_h, input_w, log=None):
    """Write ``model`` (eval mode, CPU) to ``path`` in ``fmt``; returns the wrapped module.
    ``log``: told in one line when this torch deprecates TorchScript (instead of its warnings)."""
    wrapped = MapsOnly(model).eval()  # eval on the wrapper: exporters restore its mode recursively
    example = torch.zeros(2, 3, input_h, input_w)
    if fmt == "torchscript":
        with torch.no_grad():
            traced = traced_quietly(wrapped, example, log)
        atomic_write(path, lambda tmp: traced.save(tmp))
    else:
        atomic_write(
            path,
            lambda tmp: torch.onnx.export(
                wrapped,
                (example,),
                tmp,
                input_names=["input"],
                output_names=wrapped.heads,
                # positional: torch 2.6 reads a dict's keys as input_names, later versions as parameters
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
                # one file: weights in a sidecar would keep the temporary file's name in the model
                external_data=False,
                verbose=False,
            ),
        )
    return wrapped


def traced_quietly(module, example, log):
    """``torch.jit.trace`` without the deprecation warnings recent torch releases give for each of
    its calls (one line on ``log`` says it instead); any other warning is passed on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = torch.jit.trace(module, example)
    deprecated = [w for w in caught if issubclass(w.category, FutureWarning) and "deprecated" in str(w.message)]
    for w in caught:
        if w not in deprecated:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if deprecated and log:
        log(
            f"notice: torch {torch.__version__} deprecates TorchScript; the .pt file loads with torch.jit.load "
            f"and LibTorch, and --format onnx is the route that lasts"
        )
    return traced


def export_checkpoint(checkpoint, arch, task, fmt, path, input_h, input_w, log=None):
    """Load ``checkpoint`` strictly as ``arch``/``task`` and write it to ``path`` in ``fmt``;
    returns the names of the outputs. ``log``: as ``export_model``'s."""
    model = load_model(checkpoint, arch, task)
    return export_model(model, fmt, path, input_h, input_w, log).heads
