"""Reading images quietly, usable folders, and atomic writes: results and checkpoints are never
left half-written (temp file + rename), and a failed write leaves the previous file as it was."""

import contextlib
import json
import os
import sys
import tempfile

import cv2

from .errors import UserError

TEMP_PREFIX = ".tmp-"  # temporary files of atomic_write; a kill during a write can leave one


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
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None


def atomic_write(path, write):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    A failing write (disk full, I/O error) removes the temporary file, leaves ``path`` as it was
    and becomes a one-line ``UserError`` saying so.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=os.path.splitext(path)[1], dir=directory)
        os.close(fd)
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        kept = "the previous file is unchanged" if os.path.exists(path) else "nothing was written"
        raise UserError(f"cannot write {path}: {exc.strerror or exc}; {kept}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(path, data):
    """Write ``data`` to ``path`` through Python's file object, so that a full disk is an
    ``OSError`` (ENOSPC) that ``atomic_write`` reports, not a library's generic error."""
    with open(path, "wb") as handle:
        handle.write(data)


def writable_dir(path, flag):
    """``path`` as a folder this process can write into (created if needed), or a one-line
    ``UserError`` naming ``flag`` and the path."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{flag} {path} is a file, not a folder: pass a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{flag} {path} cannot be created ({exc.strerror or exc}): pass another folder") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path} is not writable: pass a folder you can write to")
    return path


def readable_dir(path, flag):
    """``path`` as an existing folder this process can read, or a one-line ``UserError``."""
    if not os.path.exists(path):
        raise UserError(f"{flag} {path} does not exist (see data/README.md for the layout)")
    if not os.path.isdir(path):
        raise UserError(f"{flag} {path} is a file, not a folder: pass the folder that holds the datasets")
    if not os.access(path, os.R_OK | os.X_OK):
        raise UserError(f"{flag} {path} is not readable: check its permissions")
    return path


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
