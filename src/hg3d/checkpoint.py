"""Checkpoint files: safe strict loading with clear errors, and atomic saving.

Files are ``{'epoch': int, 'state_dict': ..., 'optimizer': ...?}`` or a bare state dict, written by
any PyTorch from 0.4 (legacy serialization) on. Loading uses ``weights_only=True``, so a file from
the internet cannot run code.
"""

import io
import os
import re
from collections import Counter

import torch

from .archs import MOBILENET, RESNET_STAGES, heads_for
from .errors import UserError
from .files import atomic_write, write_bytes
from .model import create_model


def read_checkpoint(path):
    """Return ``(state_dict, epoch, optimizer_state)`` of a checkpoint file (tensors on the CPU)."""
    if not os.path.isfile(path):
        raise UserError(
            f"checkpoint {path} does not exist: check --load_model (a released model goes by its "
            f"name, e.g. --load_model fusion_3d_var: models/README.md)"
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files; all mean "unreadable"
        raise UserError(f"cannot read checkpoint {path}: {_load_failure(exc)}") from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        state, epoch, optimizer = data["state_dict"], data.get("epoch", 0), data.get("optimizer")
    elif isinstance(data, dict) and data and all(torch.is_tensor(v) for v in data.values()):
        state, epoch, optimizer = data, 0, None
    else:
        raise UserError(f"cannot read checkpoint {path}: it holds no 'state_dict' of tensors")
    state = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}
    return state, int(epoch), optimizer


def _load_failure(exc):
    """Why torch.load refused a file, in one line (without torch's advice to drop weights_only)."""
    text = str(exc)
    match = re.search(r"unsupported (?:global: )?GLOBAL ([\w.]+)", text, re.IGNORECASE)
    if match:
        return (
            f"it refers to code ({match.group(1)}) that a weights file never needs; refusing "
            f"to load it (only tensors and plain containers are accepted)"
        )
    for line in text.splitlines():
        if line.strip().startswith(("_pickle.UnpicklingError", "EOFError", "RuntimeError")):
            return f"not a PyTorch checkpoint, or truncated ({line.strip()[:120]})"
    return f"not a PyTorch checkpoint, or truncated ({type(exc).__name__})"


def guess_arch(state):
    """'--arch A --task T' that a state dict fits, or None when it is no known layout."""
    task = "human3d" if "depth.weight" in state else "human2d"
    if "features.0.0.weight" in state and "deconv_layers.0.weight" in state:
        return f"--arch {MOBILENET} --task {task}"
    stages = tuple(len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    bottleneck = "layer1.0.conv3.weight" in state
    for depth, (kind, layers) in RESNET_STAGES.items():
        if tuple(layers) == stages and (kind == "bottleneck") == bottleneck:
            return f"--arch msra_{depth} --task {task}"
    return None


def describe_mismatch(model_state, state):
    """Counts and first examples of missing, unexpected and wrongly shaped entries."""
    missing = [k for k in model_state if k not in state]
    unexpected = [k for k in state if k not in model_state]
    shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(model_state[k].shape)}"
        for k in model_state
        if k in state and state[k].shape != model_state[k].shape
    ]
    parts = [
        f"{len(items)} {what} (e.g. {items[0]})"
        for what, items in (("missing", missing), ("unexpected", unexpected), ("with another shape", shape))
        if items
    ]
    return ", ".join(parts)


def check_same_body(model, model_state, state, path):
    """Seeding training may add or drop output heads, nothing else: the backbone and deconv layers
    (every layer that is not a head) must match in name and shape, or the file is another arch."""
    heads = set(getattr(model, "heads", ()))
    model_layers = {k.split(".")[0] for k in model_state}
    other = [k for k in model_state if k.split(".")[0] not in heads and k not in state]
    other += [k for k in state if k not in model_state and k.split(".")[0] in model_layers]
    other += [k for k in model_state if k in state and state[k].shape != model_state[k].shape]
    if other:
        guess = guess_arch(state)
        raise UserError(
            f"checkpoint {path} is another network ({describe_mismatch(model_state, state)}; "
            f"it fits {guess or 'no hg3d model'}): --load_model can leave only output "
            f"heads at their initialisation, so pick the same --arch"
        )


def load_weights(model, path, strict=True, log=print):
    """Load a checkpoint into ``model``; returns the checkpoint's epoch and optimizer state.

    ``strict=True`` (testing, demo, resume) refuses any difference with a one-line error naming
    the file, what differs and the ``--arch``/``--task`` it fits. ``strict=False`` (seeding a
    training run, e.g. a 2D checkpoint into a 3D model) accepts added or dropped output heads
    only, and reports the layers left at their initialisation and those not used.
    """
    state, epoch, optimizer = read_checkpoint(path)
    model_state = model.state_dict()
    difference = describe_mismatch(model_state, state)
    if difference and strict:
        guess = guess_arch(state)
        hint = f"; it fits {guess}" if guess else "; it is not an hg3d/msra pose network"
        raise UserError(f"checkpoint {path} does not match the model ({difference}){hint}")
    if difference:
        check_same_body(model, model_state, state, path)
        fitting = {k: v for k, v in state.items() if k in model_state}
        model.load_state_dict(fitting, strict=False)

        def layers(keys):
            counts = sorted(Counter(k.split(".")[0] for k in keys).items())
            return ", ".join(f"{name} ({n} tensors)" for name, n in counts) or "none"

        log(
            f"loaded {path} partly: layers left at init: "
            f"{layers(k for k in model_state if k not in fitting)}; layers of the checkpoint not "
            f"used: {layers(k for k in state if k not in fitting)}"
        )
        return epoch, None
    model.load_state_dict(state, strict=True)
    log(f"loaded {path} (epoch {epoch})")
    return epoch, optimizer


def load_model(path, arch, task, device="cpu", log=lambda _: None):
    """The network of ``arch``/``task`` with the weights of ``path``, loaded strictly, on ``device``
    in eval mode: the one way a finished checkpoint becomes a model (the Estimator, ``--test``,
    export, the ONNX Runtime backend). Any difference is a one-line UserError naming the file and
    the ``--arch``/``--task`` it fits; a missing, truncated or unsafe file likewise. ``log`` gets
    the line naming the file and its epoch."""
    model = create_model(arch, heads_for(task))
    load_weights(model, path, strict=True, log=log)
    return model.to(device).eval()


def save_checkpoint(path, model, epoch, **training_state):
    """Write ``{'epoch', 'state_dict'}`` atomically (unwrapping DataParallel/DDP).

    ``training_state`` (``Trainer.state_dict``: the optimizer's state dict, ``best``, ``scaler``)
    is stored beside them for ``--resume``. The file is serialised in memory first: torch's own
    file writer turns a full disk into an unspecific RuntimeError, Python's file object into ENOSPC
    (see ``files.atomic_write``).
    """
    model = getattr(model, "module", model)
    data = {"epoch": epoch, "state_dict": model.state_dict(), **training_state}
    buffer = io.BytesIO()
    torch.save(data, buffer)
    atomic_write(path, lambda tmp: write_bytes(tmp, buffer.getbuffer()))


def checkpoint_epoch(path):
    """The epoch stored in a checkpoint file, or '?' when it cannot be read (memory-mapped: fast
    also for a large file)."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("epoch", 0))
    except Exception:  # unreadable, legacy format or a bare state dict: the epoch is unknown
        return "?"


def read_training_state(path):
    """The ``training_state`` entries that ``save_checkpoint`` stored in ``path`` (a dict)."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v for k, v in data.items() if k not in ("epoch", "state_dict", "optimizer")}
