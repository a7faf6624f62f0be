"""Reading features and labels from .npz, .npy and CSV files."""

from __future__ import annotations

import csv
import dataclasses
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError, DataFileNotFoundError

_FEATURE_KEYS = ("features", "x", "X", "data")
_LABEL_KEYS = ("labels", "y", "Y", "target")


@dataclasses.dataclass
class Dataset:
    """Features (one row per example) and, when the file has them, labels."""

    features: np.ndarray
    labels: np.ndarray | None = None


def load_dataset(
    path: str | Path,
    *,
    label_column: str | int | None = None,
    labels_path: str | Path | None = None,
) -> Dataset:
    """Loads a data file.

    ``.npz``: features under ``features``/``x``/``X``/``data``, labels under
    ``labels``/``y``/``Y``/``target``. ``.npy``: features only; labels may come from
    ``labels_path``. ``.csv``: numbers only, an optional header row; ``label_column`` (a
    header name or a 0-based index, negative counts from the end) is split off as
    labels.
    """
    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise DataFileNotFoundError(f"data file {path} {what}; check the path")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        data = _load_npz(path)
    elif suffix == ".npy":
        data = Dataset(_load_npy(path))
    elif suffix == ".csv":
        data = _load_csv(path, label_column)
    else:
        raise DataError(
            f"data file {path} has suffix {path.suffix!r}; expected .npz, .npy or .csv"
        )
    if suffix != ".csv" and label_column is not None:
        raise DataError(f"label_column applies to CSV files only; {path} is {suffix}")
    if labels_path is not None:
        if data.labels is not None:
            raise DataError(
                f"{path} already holds labels; do not pass a labels file too"
            )
        data.labels = load_dataset(labels_path).features
    if data.labels is not None and len(data.labels) != len(data.features):
        raise DataError(
            f"{len(data.features)} feature rows but {len(data.labels)} labels; "
            "they must match one to one"
        )
    return data


# What numpy and zipfile raise for a truncated, damaged or hostile .npy/.npz file.
_NUMPY_READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    MemoryError,  # a header that declares an impossible shape
    zipfile.BadZipFile,
    zlib.error,
    AttributeError,  # an .npz member that is not an .npy array
)


def _load_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except _NUMPY_READ_ERRORS as e:
        raise DataError(
            f"{path} is not a readable .npy array ({type(e).__name__}: {e})"
        ) from e
    return _at_least_1d(array, path)


def _at_least_1d(array, where) -> np.ndarray:
    if not isinstance(array, np.ndarray) or array.ndim == 0:
        raise DataError(
            f"{where} holds a scalar; expected an array with one row per example"
        )
    return array


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except _NUMPY_READ_ERRORS as e:
        raise DataError(
            f"{path} is not a readable .npz archive ({type(e).__name__}: {e})"
        ) from e
    arrays = {k: _at_least_1d(v, f"{path}[{k!r}]") for k, v in arrays.items()}
    features = next((arrays[k] for k in _FEATURE_KEYS if k in arrays), None)
    if features is None:
        raise DataError(
            f"{path} has arrays {sorted(arrays)}; expected features under one of "
            f"{', '.join(_FEATURE_KEYS)}"
        )
    labels = next((arrays[k] for k in _LABEL_KEYS if k in arrays), None)
    return Dataset(features, labels)


def _load_csv(path: Path, label_column: str | int | None) -> Dataset:
    # Blank lines are skipped, so each row keeps the file line it came from for
    # messages. utf-8-sig drops the byte-order mark that spreadsheet exports add.
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            numbered = [
                (reader.line_num, r) for r in reader if r and any(c.strip() for c in r)
            ]
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text ({e}); save it as UTF-8 CSV") from e
    except csv.Error as e:
        raise DataError(f"{path} is not a readable CSV file ({e})") from e
    if not numbered:
        raise DataError(f"{path} holds no rows")

    # The first row is a header only if none of its cells is a number; a row of numbers
    # with one bad cell is data with an error, reported below, not a header.
    header = None
    if not any(_is_number(c) for c in numbered[0][1]):
        header, numbered = [c.strip() for c in numbered[0][1]], numbered[1:]
    if not numbered:
        raise DataError(f"{path} has a header but no data rows")
    width = len(header) if header else len(numbered[0][1])
    values = np.empty((len(numbered), width), dtype=np.float64)
    for i, (line, row) in enumerate(numbered):
        if len(row) != width:
            raise DataError(
                f"{path} line {line} has {len(row)} fields, expected {width}"
            )
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                column = header[j] if header else j
                raise DataError(
                    f"{path} line {line}, column {column!r}: {cell!r} is not a "
                    "number; encode it numerically first"
                ) from None
    if label_column is None:
        return Dataset(values)
    index = _column_index(path, label_column, header, width)
    return Dataset(np.delete(values, index, axis=1), values[:, index])


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_index(
    path: Path, column: str | int, header: list[str] | None, width: int
) -> int:
    if isinstance(column, str) and not column.lstrip("-").isdigit():
        if header is None or column not in header:
            raise DataError(
                f"{path} has no column named {column!r}; columns: "
                f"{header if header else 'none named (no header row)'}"
            )
        return header.index(column)
    index = int(column)
    if not -width <= index < width:
        raise DataError(
            f"label column {index} is out of range for {path}, which has {width} "
            "columns"
        )
    return index % width
