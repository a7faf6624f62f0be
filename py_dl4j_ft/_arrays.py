"""numpy <-> ND4J conversion, and the checks that run before any array crosses.

Going to Java, an array is first brought to C order, native byte order and the model's
dtype; numpy copies only when the input is not already in that form (Fortran order,
strided views, big-endian data, float64 or integer input each cost one numpy copy). The
bytes then go into ND4J memory in one memcpy. Coming back, ND4J's bytes are copied once
into a new numpy array that Python owns. Either way a target from an earlier call can be
reused (``out=``), which saves allocating fresh memory: on the machines we measured that
costs more than the copy.
"""

from __future__ import annotations

import numpy as np

from . import _jvm
from .errors import ArgumentError, DataError

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


def to_java(array: np.ndarray, out=None):
    """An INDArray holding a copy of ``array``, an output of :func:`prepare`.

    With ``out``, an INDArray of the same shape and type from an earlier call, the bytes
    go into it and it is returned: reusing it saves ND4J's allocation, which costs more
    than the copy itself.
    """
    with _jvm.java_errors(f"copying a {array.shape} array to ND4J"):
        if out is None:
            return _jvm.helper("ArrayBridge").fromBuffer(
                _jvm.direct_buffer(array),
                _jvm.long_array(array.shape),
                _ND4J[array.dtype],
            )
        shape = tuple(int(d) for d in out.shape())
        kind = str(out.dataType().toString())
        if shape != array.shape or kind != _ND4J[array.dtype]:
            raise ArgumentError(
                f"out must be an INDArray of shape {list(array.shape)} and type "
                f"{_ND4J[array.dtype]}; got {list(shape)} {kind}. Pass the one an "
                "earlier call returned for data of this shape, or no out"
            )
        _jvm.helper("ArrayBridge").copyFrom(_jvm.direct_buffer(array), out)
        return out


def from_java(indarray, out: np.ndarray | None = None) -> np.ndarray:
    """A numpy array with the contents of ``indarray``: a new one, or ``out``.

    ``out`` must be a writeable, C-contiguous array of the same shape and dtype; filling
    one that already exists skips the cost of fresh memory.
    """
    dtype = numpy_dtype(str(indarray.dataType().toString()))
    shape = tuple(int(d) for d in indarray.shape())
    if out is None:
        out = np.empty(shape, dtype=dtype)
    elif not (
        isinstance(out, np.ndarray)
        and out.shape == shape
        and out.dtype == dtype
        and out.flags.c_contiguous
        and out.flags.writeable
    ):
        got = (
            f"{out.shape} {out.dtype}"
            + ("" if out.flags.c_contiguous else ", not C-contiguous")
            + ("" if out.flags.writeable else ", read-only")
            if isinstance(out, np.ndarray)
            else type(out).__name__
        )
        raise ArgumentError(
            f"out must be a writeable C-contiguous numpy array of shape {shape} and "
            f"dtype {dtype}; got {got}. Make it with np.empty({shape}, "
            f"dtype=np.{dtype}) once and reuse it"
        )
    with _jvm.java_errors("copying an ND4J array to numpy"):
        _jvm.helper("ArrayBridge").copyInto(indarray, _jvm.direct_buffer(out))
    return out
