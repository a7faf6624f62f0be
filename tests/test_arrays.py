"""numpy <-> ND4J conversion through the real ND4J backend."""

from __future__ import annotations

import numpy as np
import pytest

from py_dl4j_ft import _arrays
from py_dl4j_ft.errors import DataError

pytestmark = pytest.mark.jvm

VALUES = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7 - 1


def _round_trip(array, dtype=np.float32):
    prepared = _arrays.prepare(array, np.dtype(dtype), "features")
    return _arrays.from_java(_arrays.to_java(prepared))


@pytest.mark.parametrize(
    "layout", ["c", "fortran", "strided", "big-endian", "float64", "int", "readonly"]
)
def test_every_layout_arrives_with_the_same_values(jvm, layout):
    a = VALUES.astype(np.float32)
    if layout == "fortran":
        a = np.asfortranarray(a)
    elif layout == "strided":
        a = np.ascontiguousarray(np.repeat(a, 2, axis=2))[:, :, ::2]
    elif layout == "big-endian":
        a = a.astype(">f4")
    elif layout == "float64":
        a = VALUES.copy()
    elif layout == "int":
        a = (VALUES * 7).round().astype(np.int16)
    elif layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
    out = _round_trip(a)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert out.shape == a.shape
    assert np.array_equal(out, np.asarray(a, dtype=np.float32))


def test_shape_is_read_in_c_order_by_nd4j(jvm):
    a = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    java = _arrays.to_java(_arrays.prepare(a, np.dtype(np.float32), "x"))
    # ND4J's own C-order element i must be numpy's a.flat[i] whatever numpy's layout
    # was.
    assert list(java.shape()) == [2, 3]
    rows = [list(java.getRow(i).toDoubleVector()) for i in range(2)]
    assert rows == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_half_and_double_models(jvm, dtype):
    out = _round_trip(VALUES, dtype)
    assert out.dtype == dtype
    assert np.array_equal(out, VALUES.astype(dtype))


def test_a_strided_nd4j_view_comes_back_as_its_own_values(jvm):
    matrix = VALUES.reshape(4, 6).astype(np.float32)
    java = _arrays.to_java(_arrays.prepare(matrix, np.dtype(np.float32), "x"))
    column = java.getColumn(1)  # a strided view into ND4J memory, not the whole buffer
    assert np.array_equal(_arrays.from_java(column), matrix[:, 1])


def test_no_copy_when_already_in_form(jvm):
    a = np.ones((3, 4), dtype=np.float32)
    assert _arrays.prepare(a, np.dtype(np.float32), "x") is a
    assert _arrays.prepare(a.astype(np.float64), np.dtype(np.float32), "x") is not a


def test_input_is_not_modified(jvm):
    a = VALUES.astype(np.float32)
    before = a.copy()
    _arrays.to_java(_arrays.prepare(a, np.dtype(np.float32), "x")).addi(5)
    assert np.array_equal(a, before)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.float32(3), "at least one dimension"),
        (np.zeros((0, 4), np.float32), r"is empty \(shape \(0, 4\)\)"),
        (np.array([["a", "b"]]), "must be numeric.*<U1"),
        (np.array([[1.0, np.nan]]), r"contains nan at index \(0, 1\)"),
        (np.array([[np.inf, 1.0]]), r"contains inf at index \(0, 0\)"),
        (np.array([[1 + 2j]]), "must be numeric"),
    ],
)
def test_bad_arrays_are_refused_before_crossing(bad, message):
    with pytest.raises(DataError, match=message):
        _arrays.prepare(bad, np.dtype(np.float32), "features")


def test_reused_targets_are_filled_in_place(jvm):
    first = _arrays.prepare(VALUES, np.dtype(np.float32), "features")
    second = _arrays.prepare(VALUES * 3, np.dtype(np.float32), "features")
    target = _arrays.to_java(first)
    assert _arrays.to_java(second, out=target) is target
    back = np.full(VALUES.shape, np.nan, dtype=np.float32)
    assert _arrays.from_java(target, out=back) is back
    np.testing.assert_array_equal(back, second)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: np.empty((2, 3, 5), np.float32), r"shape \(2, 3, 4\)"),
        (lambda: np.empty((2, 3, 4), np.float64), "dtype float32"),
        (lambda: np.empty((2, 4, 3), np.float32).transpose(0, 2, 1), "C-contiguous"),
        (lambda: [0.0] * 24, "got list"),
    ],
)
def test_a_reused_numpy_target_must_fit(jvm, make, words):
    from py_dl4j_ft.errors import ArgumentError

    array = _arrays.to_java(_arrays.prepare(VALUES, np.dtype(np.float32), "x"))
    with pytest.raises(ArgumentError, match=words):
        _arrays.from_java(array, out=make())


def test_a_reused_indarray_target_must_fit(jvm):
    from py_dl4j_ft.errors import ArgumentError

    small = _arrays.to_java(_arrays.prepare(VALUES[:1], np.dtype(np.float32), "x"))
    with pytest.raises(ArgumentError, match=r"shape \[2, 3, 4\] and type FLOAT"):
        _arrays.to_java(_arrays.prepare(VALUES, np.dtype(np.float32), "x"), out=small)
