"""Reading .npz, .npy and CSV data files (no JVM)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import checkpoint

from py_dl4j_ft import load_dataset
from py_dl4j_ft.errors import DataError, DataFileNotFoundError


def test_csv_with_header_and_named_label_column():
    data = load_dataset(
        checkpoint("kam2018__ai-agent-service/synthetic_loan_data.csv"),
        label_column="label",
    )
    assert data.features.shape == (1000, 4)
    assert data.features[0].tolist() == [775, 31026, 23309, 1]
    assert data.labels[:2].tolist() == [0, 0]


def test_csv_without_header_label_by_index():
    data = load_dataset(
        checkpoint("deeplearning4j__dl4j-test-resources/moon_data_eval.csv"),
        label_column=0,
    )
    assert data.features.shape == (1000, 2)
    assert set(np.unique(data.labels)) == {0.0, 1.0}


def test_csv_negative_index_and_no_labels(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("1,2,3\n4,5,6\n")
    assert load_dataset(f, label_column=-1).labels.tolist() == [3, 6]
    plain = load_dataset(f)
    assert plain.labels is None and plain.features.tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize(
    "text, column, message",
    [
        ("a,b\n1,yes\n", "b", r"line 2, column 'b': 'yes' is not a number"),
        ("a,b\n1,2\n3\n", "b", r"line 3 has 1 fields, expected 2"),
        ("a,b\n1,2\n", "c", r"no column named 'c'.*\['a', 'b'\]"),
        ("1,2\n", "label", r"no column named 'label'.*no header"),
        ("1,2\n", 5, r"label column 5 is out of range.*2 columns"),
        ("a,b\n", None, r"header but no data rows"),
    ],
)
def test_csv_errors_say_where(tmp_path, text, column, message):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=message):
        load_dataset(f, label_column=column)


def test_npz_keys_and_npy_with_labels(tmp_path):
    x, y = np.arange(6.0).reshape(3, 2), np.array([0, 1, 0])
    np.savez(tmp_path / "d.npz", x=x, y=y)
    data = load_dataset(tmp_path / "d.npz")
    assert np.array_equal(data.features, x) and np.array_equal(data.labels, y)
    np.savez(tmp_path / "odd.npz", a=x)
    with pytest.raises(DataError, match=r"arrays \['a'\]; expected features"):
        load_dataset(tmp_path / "odd.npz")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y[:2])
    with pytest.raises(DataError, match="3 feature rows but 2 labels"):
        load_dataset(tmp_path / "x.npy", labels_path=tmp_path / "y.npy")


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="does not exist") as caught:
        load_dataset(tmp_path / "none.csv")
    assert isinstance(caught.value, FileNotFoundError)
    (tmp_path / "d.parquet").write_bytes(b"x")
    with pytest.raises(DataError, match=r"'.parquet'; expected .npz, .npy or .csv"):
        load_dataset(tmp_path / "d.parquet")


def test_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="not a readable .npy"):
        load_dataset(tmp_path / "obj.npy")


def test_byte_order_mark_and_a_bad_first_row(tmp_path):
    f = tmp_path / "bom.csv"
    f.write_bytes(b"\xef\xbb\xbfa,label\n1,0\n2,1\n")
    data = load_dataset(f, label_column="label")
    assert data.features.ravel().tolist() == [1, 2] and data.labels.tolist() == [0, 1]
    # One bad cell in a row of numbers is an error, not a header that hides a row.
    f.write_text("1,,0\n5,6,1\n")
    with pytest.raises(DataError, match=r"line 1, column 1: '' is not a number"):
        load_dataset(f, label_column=-1)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("cut.npz", None, "not a readable .npz"),
        ("empty.npy", b"", "not a readable .npy"),
        ("utf16.csv", "a,b\n1,2\n".encode("utf-16"), "not UTF-8 text"),
    ],
)
def test_damaged_files_get_named_errors(tmp_path, name, content, message):
    f = tmp_path / name
    if content is None:
        np.savez_compressed(f, x=np.arange(1000.0))
        f.write_bytes(f.read_bytes()[:300])
    else:
        f.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_dataset(f)


def test_scalar_arrays_and_directories(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.float64(3.0))
    with pytest.raises(DataError, match=r"holds a scalar"):
        load_dataset(tmp_path / "s.npz")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataFileNotFoundError, match="is not a file"):
        load_dataset(tmp_path / "d.csv")
