"""Reading images quietly, usable folders, and safe writes: results and checkpoints are never
left half-written (a uniquely named temporary + rename), a failed write leaves the previous file as
it was, written files get the mode the umask gives, nothing is written through a symbolic link, and
line files (JSON Lines) always end on a whole line."""

import contextlib
import errno
import hashlib
import json
import os
import secrets
import sys

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
        import cv2  # here: modules that only write files (weights, options) stay light

        return cv2.imread(path, cv2.IMREAD_COLOR)


def sha256_of(path):
    """SHA-256 of a file's bytes, hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path, what):
    """Parsed json of ``path``, or a one-line ``UserError`` naming ``what`` the file is (also for
    a file nested deeper than Python's parser goes)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None
    except RecursionError:
        raise UserError(f"cannot read {what} {path}: nested too deeply") from None


def refuse_symlink(path):
    """A one-line ``UserError`` when ``path`` is a symbolic link: hg3d never writes through a link,
    which someone else may have planted to make it overwrite the link's target."""
    if os.path.islink(path):
        raise UserError(
            f"{path} is a symbolic link: hg3d does not write through links; remove it or choose another output"
        )


def create_temp_beside(path):
    """A new, empty, uniquely named temporary file in ``path``'s folder (created if needed).

    Its name is ``.tmp-<stem>.<random><ext>``: recognisable as ours, unique to this write (two runs
    writing the same output never share one), and ending in the target's extension, which OpenCV
    and scipy look at. It is created like ``open()`` creates a file (mode 0666 less the umask),
    not 0600 as ``tempfile.mkstemp`` would make it.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    stem, ext = os.path.splitext(os.path.basename(path))
    while True:
        tmp = os.path.join(directory, f"{TEMP_PREFIX}{stem[:48]}.{secrets.token_hex(6)}{ext}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666))
            return tmp
        except FileExistsError:
            continue


def atomic_write(path, write):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    A failing write (disk full, I/O error) removes the temporary file, leaves ``path`` as it was
    and becomes a one-line ``UserError`` saying so. A symbolic link at ``path`` is refused.
    """
    refuse_symlink(path)
    tmp = None
    try:
        tmp = create_temp_beside(path)
        write(tmp)
        refuse_symlink(path)
        os.replace(tmp, path)
    except OSError as exc:
        kept = "the previous file is unchanged" if os.path.exists(path) else "nothing was written"
        raise UserError(f"cannot write {path}: {exc.strerror or exc}; {kept}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def disk_of(path):
    """The mount point of the file system that holds ``path`` (named when that disk is full)."""
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.ismount(folder):
        folder = os.path.dirname(folder)
    return folder


class LineFile:
    """A text file written a whole line at a time (e.g. JSON Lines): each line goes to the file in
    one ``write`` call, and a line that fails (disk full) is cut off again, so the file always ends
    on a whole line. Opening it never follows a symbolic link (a one-line ``UserError``)."""

    def __init__(self, path, append=False):
        self.path = path
        refuse_symlink(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
        try:
            self.fd = os.open(path, flags, 0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                refuse_symlink(path)
            raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None

    def write_line(self, text):
        """Append ``text`` and a newline; on a failed write the file is truncated back to where it
        ended and the failure is a one-line ``UserError`` naming the file and its disk."""
        data = memoryview(text.rstrip("\n").encode("utf-8") + b"\n")
        end = os.lseek(self.fd, 0, os.SEEK_END)
        try:
            while data:  # a short write is followed by the call that names the error
                data = data[os.write(self.fd, data) :]
        except OSError as exc:
            os.ftruncate(self.fd, end)
            full = f" (the disk at {disk_of(self.path)} is full)" if exc.errno == errno.ENOSPC else ""
            raise UserError(
                f"cannot write {self.path}: {exc.strerror or exc}{full}; it ends on its last whole line"
            ) from None

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


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
