"""A restricted unpickler for annotation and body-model files (msra cache, 3DPW sequences, SMPL).

Pickles from the internet can run arbitrary code when loaded with plain ``pickle``. These files
only ever hold plain containers, numbers, strings and NumPy arrays, so nothing else is let in.
Python 2 pickles are read with ``encoding='latin1'`` (what NumPy arrays written by Python 2 need).
"""

import importlib
import pickle

from .errors import UserError

# (module, name) of every global such files legitimately refer to; NumPy moved numpy.core to
# numpy._core in 2.0, and both spellings occur in files in the wild.
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
    ("__builtin__", "set"),
    ("__builtin__", "frozenset"),
}
_RENAMED = {
    "numpy.core.multiarray": "numpy._core.multiarray",
    "numpy.core.numeric": "numpy._core.numeric",
    "__builtin__": "builtins",
}


class RestrictedUnpickler(pickle.Unpickler):
    """Lets in only the globals above; subclasses (hg3d.smpl) may admit a few more."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a data file never needs")
        return getattr(importlib.import_module(_RENAMED.get(module, module)), name)


def load_pickle(path, what="annotation file", unpickler=RestrictedUnpickler):
    """Load a data pickle safely; any failure is a one-line ``UserError`` naming the file."""
    try:
        with open(path, "rb") as handle:
            return unpickler(handle, encoding="latin1").load()
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist (see data/README.md for the layout)") from None
    except Exception as exc:  # truncated, not a pickle, or a forbidden global
        raise UserError(f"cannot read {what} {path}: {exc}") from None
