"""Reading images quietly, and atomic writes: results and checkpoints are never left half-written
(temp file + rename)."""
import contextlib
import json
import os
import sys
import tempfile

import cv2


@contextlib.contextmanager
def c_stderr_silenced():
    """Silence what C libraries print on file descriptor 2 (libjpeg's 'Premature end of JPEG')."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. some notebooks): nothing to silence
        yield
        return
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def imread_bgr(path):
    """An 8-bit 3-channel BGR image (grey, 16-bit and RGBA converted, EXIF orientation applied),
    or None when the file cannot be decoded; the decoders' own warnings are not printed."""
    with c_stderr_silenced():
        return cv2.imread(path, cv2.IMREAD_COLOR)


def read_json(path, what):
    """Parsed json of ``path``, or a one-line ``UserError`` naming ``what`` the file is."""
    from .errors import UserError

    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None


def atomic_write(path, write):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path, data):
    def write(tmp):
        with open(tmp, "w") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
    atomic_write(path, write)


def write_h5(path, arrays, attrs=None):
    """Datasets ``name -> array`` (and file attributes) in an HDF5 file."""
    import h5py

    def write(tmp):
        with h5py.File(tmp, "w") as handle:
            for name, array in arrays.items():
                handle.create_dataset(name, data=array)
            for name, value in (attrs or {}).items():
                handle.attrs[name] = value
    atomic_write(path, write)


def write_mat(path, arrays):
    """A MATLAB .mat file of ``name -> array`` (scipy)."""
    import scipy.io

    atomic_write(path, lambda tmp: scipy.io.savemat(tmp, arrays))
