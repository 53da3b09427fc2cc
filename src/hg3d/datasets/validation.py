"""Checking every entry of an annotation file when a dataset is opened, not when a sample is read.

A bad entry (missing key, wrong shape, NaN, non-positive box) stops with one line naming the file,
the entry index (and image), the field and what is wrong, instead of a traceback from the crop code
or a plausible-looking metric computed on NaN. The checks are vectorised over chunks of entries:
the fast path stacks a field and tests the whole array at once; only when that fails is the chunk
walked entry by entry to name the first bad one. Keys other than the checked ones are ignored.
"""

import numpy as np

from ..errors import UserError

CHUNK = 65536  # entries per stacked array (bounds the memory of the check on huge caches)


class EntryChecker:
    """Checks of ``entries`` (a list of dicts) read from ``path``, which must hold ``required`` keys.

    ``name(i)`` says which image entry ``i`` is about (or None), for the error message.
    """

    def __init__(self, entries, path, kind, required, name=None):
        if not isinstance(entries, list) or not entries:
            raise UserError(f"{path} is not {kind}: expected a non-empty list of samples")
        self.entries, self.path, self.kind, self.required, self.name = entries, path, kind, required, name

    def fail(self, index, key, problem):
        image = self.name(index) if self.name is not None else None
        where = f"entry {index}" + (f" (image {image})" if image else "")
        raise UserError(f"{self.path}: {where}: {key} {problem} (fix or remove this entry)")

    def column(self, key, start=0, stop=None):
        """Field ``key`` of entries ``start:stop``; names the first entry lacking a required key."""
        try:
            return [entry[key] for entry in self.entries[start:stop]]
        except (KeyError, TypeError, IndexError):
            for index, entry in enumerate(self.entries):
                missing = [k for k in self.required if not isinstance(entry, dict) or k not in entry]
                if missing:
                    raise UserError(
                        f"{self.path}: entry {index} lacks {', '.join(missing)} (not {self.kind})"
                    ) from None
            raise

    def numbers(self, key, shapes=((),), positive=False):
        """Field ``key`` of every entry is a finite number array of one of ``shapes`` (one shape
        for the whole file), and > 0 everywhere with ``positive``."""
        expected = (
            "a number" if tuple(shapes) == ((),) else "an array of shape " + " or ".join(str(tuple(s)) for s in shapes)
        )
        first_shape = None
        for start in range(0, len(self.entries), CHUNK):
            values = self.column(key, start, start + CHUNK)
            try:
                array = np.asarray(values, np.float64)
            except (ValueError, TypeError):
                array = None
            if (
                array is None
                or array.shape[1:] not in shapes
                or (first_shape is not None and array.shape[1:] != first_shape)
            ):
                self._name_bad_shape(start, values, key, shapes, expected, first_shape)
            first_shape = array.shape[1:]
            flat = array.reshape(len(array), -1)
            bad = ~np.isfinite(flat).all(1)
            if positive:
                bad |= ~(flat > 0).all(1)
            if bad.any():
                offset = int(np.argmax(bad))
                value = np.asarray(values[offset], np.float64)
                problem = "is not a finite number" if not np.isfinite(value).all() else "is not > 0"
                shown = value.item() if value.ndim == 0 else "an array with such values"
                self.fail(start + offset, key, f"{problem} ({shown})")
        return self

    def _name_bad_shape(self, start, values, key, shapes, expected, first_shape):
        """Walk a chunk that did not stack and report its first bad entry."""
        for offset, value in enumerate(values):
            try:
                shape = np.asarray(value, np.float64).shape
            except (ValueError, TypeError):
                self.fail(start + offset, key, f"is not {expected} ({_short(value)})")
            if shape not in shapes:
                self.fail(start + offset, key, f"has shape {shape}, expected {expected}")
            if first_shape is None:
                first_shape = shape
            if shape != first_shape:
                self.fail(
                    start + offset,
                    key,
                    f"has shape {shape} while earlier entries have {first_shape} (one shape per file)",
                )
        raise AssertionError("a chunk that did not stack has no bad entry")  # cannot happen

    def strings(self, key):
        """Field ``key`` of every entry is a non-empty string."""
        for index, value in enumerate(self.column(key)):
            if not isinstance(value, str) or not value:
                self.fail(index, key, f"is not a file name ({_short(value)})")
        return self


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
