"""numpy <-> ND4J conversion, and the checks that run before any array crosses.

Going to Java, an array is first brought to C order, native byte order and the model's
dtype; numpy copies only when the input is not already in that form (Fortran order,
strided views, big-endian data, float64 or integer input each cost one numpy copy). The
bytes then go into ND4J memory in one memcpy. Coming back, ND4J's bytes are copied once
into a new numpy array that Python owns.
"""

from __future__ import annotations

import numpy as np

from . import _jvm
from .errors import DataError

# ND4J data type names for the numpy dtypes a model can hold.
_ND4J = {
    np.dtype(np.float32): "FLOAT",
    np.dtype(np.float64): "DOUBLE",
    np.dtype(np.float16): "HALF",
}
_NUMPY = {v: k for k, v in _ND4J.items()}
MAX_BYTES = 2**31 - 1  # one java.nio.ByteBuffer


def numpy_dtype(nd4j_type: str) -> np.dtype:
    try:
        return _NUMPY[nd4j_type]
    except KeyError:
        raise DataError(
            f"the model holds {nd4j_type} parameters; py_dl4j_ft handles "
            "FLOAT, DOUBLE and HALF models"
        ) from None


def prepare(values, dtype: np.dtype, what: str) -> np.ndarray:
    """``values`` as a C-ordered, native-endian array of ``dtype``, checked for use.

    Raises :class:`DataError` for ragged, 0-d, empty, non-numeric or NaN/inf input, and
    for values beyond the range of ``dtype``.
    """
    try:
        array = np.asarray(values)
    except ValueError as e:  # ragged nested lists
        raise DataError(f"{what} cannot form a regular array ({e})") from e
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise DataError(
            f"{what} must be numeric; got an array of dtype {array.dtype}. "
            "Convert categories to numbers first"
        )
    if array.ndim == 0:
        raise DataError(
            f"{what} must have at least one dimension (one row per example); "
            f"got a scalar {array!r}"
        )
    if array.size == 0:
        raise DataError(
            f"{what} is empty (shape {array.shape}); pass at least one example"
        )
    if array.size * dtype.itemsize > MAX_BYTES:
        raise DataError(
            f"{what} would take {array.size * dtype.itemsize / 2**30:.1f} GiB; one "
            "hand-over is limited to 2 GiB, so split it into smaller parts"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(array, dtype=dtype)
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        original = array[index]
        if np.isfinite(original):
            raise DataError(
                f"{what} holds {float(original):g} at index {index}, beyond the range "
                f"of the model's {dtype.name}; rescale the data"
            )
        raise DataError(
            f"{what} contains {original} at index {index}; remove or impute "
            "non-finite values first"
        )
    return out


def to_java(array: np.ndarray):
    """A new INDArray holding a copy of ``array``, an output of :func:`prepare`."""
    with _jvm.java_errors(f"copying a {array.shape} array to ND4J"):
        return _jvm.helper("ArrayBridge").fromBuffer(
            _jvm.direct_buffer(array), _jvm.long_array(array.shape), _ND4J[array.dtype]
        )


def from_java(indarray) -> np.ndarray:
    """A new numpy array with the contents of ``indarray``."""
    dtype = numpy_dtype(str(indarray.dataType().toString()))
    out = np.empty(tuple(int(d) for d in indarray.shape()), dtype=dtype)
    with _jvm.java_errors("copying an ND4J array to numpy"):
        _jvm.helper("ArrayBridge").copyInto(indarray, _jvm.direct_buffer(out))
    return out
