import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from hg3d.errors import UserError
from hg3d.safe_pickle import load_pickle


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_data_roundtrips(tmp_path, protocol):
    data = {
        "a": [1, 2.5, "x", None, (3, 4)],
        "b": np.arange(6, dtype=np.float32).reshape(2, 3),
        "c": OrderedDict(k=np.float64(1.5)),
        "d": {1, 2},
        "e": b"bytes",
    }
    path = tmp_path / "d.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    loaded = load_pickle(str(path))
    np.testing.assert_array_equal(loaded["b"], data["b"])
    assert loaded["a"] == data["a"] and loaded["c"] == data["c"] and loaded["e"] == b"bytes"


def test_python2_style_numpy_module_names(tmp_path):
    """Files written by Python 2 / NumPy 1 name numpy.core.multiarray; they must still load."""
    blob = pickle.dumps(np.arange(3.0), protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path = tmp_path / "py2.pkl"
    path.write_bytes(blob)
    np.testing.assert_array_equal(load_pickle(str(path)), np.arange(3.0))


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


def test_code_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([_Payload()]))
    with pytest.raises(UserError, match="system"):
        load_pickle(str(path))


def test_missing_and_truncated(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_pickle(str(tmp_path / "none.pkl"))
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps(list(range(100)))[:20])
    with pytest.raises(UserError, match="cannot read"):
        load_pickle(str(path))
