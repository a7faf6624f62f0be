"""What a model file is, decided in pure Python (no JVM), for every shared file."""

from __future__ import annotations

import csv
import struct
import zipfile

import numpy as np
import pytest
from conftest import CHECKPOINTS, checkpoint

from py_dl4j_ft import _checkpoint
from py_dl4j_ft.errors import CheckpointNotFoundError, NotACheckpointError


def _manifest() -> list[dict]:
    path = CHECKPOINTS / "MANIFEST.tsv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


MODELS = [
    r for r in _manifest() if r["kind"] in ("MultiLayerNetwork", "ComputationGraph")
]


@pytest.mark.skipif(
    not MODELS, reason="../shared/checkpoints/MANIFEST.tsv is not present"
)
@pytest.mark.parametrize("row", MODELS, ids=[r["relative_path"] for r in MODELS])
def test_kind_matches_manifest(row):
    found = _checkpoint.inspect(checkpoint(row["relative_path"]))
    assert found.kind == row["kind"]
    assert found.has_updater_state == ("updaterState.bin" in row["extra_entries"])


@pytest.mark.parametrize(
    "relative, words",
    [
        (
            "braeunlich__anagnostes/empty_at_4eca7f4/model.zip",
            r"empty file \(0 bytes\)",
        ),
        ("mladenkralev__AI-Rest-Server/trained_mnist_model.zip", "Git LFS pointer"),
        ("KonduitAI__dl4j-test-resources/empty_zip.zip", "empty zip archive"),
        ("deeplearning4j__deeplearning4j-examples/simple_mlp.h5", "Keras/HDF5"),
        ("wutzebaer__dl4j-0.4-examples/updater.bin", "Java-serialized"),
        ("wutzebaer__dl4j-0.4-examples/conf.json", "DL4J 0.4 model"),
        ("wutzebaer__dl4j-0.4-examples/coefficients.bin", "DL4J 0.4 model"),
        ("kam2018__ai-agent-service/synthetic_loan_data.csv", "not a zip archive"),
    ],
)
def test_non_models_are_named(relative, words):
    path = checkpoint(relative)
    with pytest.raises(NotACheckpointError, match=words) as caught:
        _checkpoint.inspect(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_truncated_zip_is_named(tmp_path):
    whole = checkpoint("sawfly29__S_M/MyMultiLayerNetwork.zip").read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(NotACheckpointError, match="truncated or damaged zip"):
        _checkpoint.inspect(cut)


def test_zip_without_model_entries(tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(
        NotACheckpointError,
        match="lacks configuration.json and coefficients.bin.*readme.txt",
    ):
        _checkpoint.inspect(other)


def test_missing_and_directory(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="does not exist") as caught:
        _checkpoint.inspect(tmp_path / "nope.zip")
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(CheckpointNotFoundError, match="is not a file"):
        _checkpoint.inspect(tmp_path)


def test_legacy_zero_dropout_is_patched_in_a_copy_only():
    path = checkpoint("sawfly29__S_M/MyComputationGraph.zip")
    before = path.read_bytes()
    found = _checkpoint.inspect(path)
    assert found.legacy_dropout
    with _checkpoint.loadable_copy(found) as copy:
        assert copy != path
        with zipfile.ZipFile(copy) as z:
            assert b'"dropOut"' not in z.read("configuration.json")
            assert z.read("coefficients.bin") == zipfile.ZipFile(path).read(
                "coefficients.bin"
            )
    assert not copy.exists()
    assert path.read_bytes() == before


def test_modern_graph_is_loaded_as_is():
    found = _checkpoint.inspect(
        checkpoint(
            "KonduitAI__dl4j-test-resources/SyntheticBidirectionalRNNGraph_100b6.bin"
        )
    )
    assert found.kind == "ComputationGraph" and not found.legacy_dropout
    assert not found.moved_classes
    with _checkpoint.loadable_copy(found) as same:
        assert same == found.path
    # An M1 graph naming Keras preprocessors by their pre-M2 package gets a copy.
    m1 = _checkpoint.inspect(
        checkpoint("Hwanghyebin99__Refresh_RestApi_Server/MyMultiLayerNetwork.zip")
    )
    assert m1.moved_classes and not m1.legacy_dropout
    with _checkpoint.loadable_copy(m1) as copy:
        assert copy != m1.path
        config = zipfile.ZipFile(copy).read("configuration.json")
        assert b"modelimport.keras.preprocessors" not in config
        assert b"org.deeplearning4j.preprocessors.ReshapePreprocessor" in config


def _with_entry(source, tmp_path, name, transform):
    """A copy of ``source`` whose entry ``name`` is replaced by ``transform(bytes)``."""
    out = tmp_path / f"mutated-{name}.zip"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, transform(data) if item.filename == name else data)
    return out


def _patch(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


# Offsets in the M2.1 loan model's coefficients.bin (MIXED_DATA_TYPES, rank 1, 117
# floats): shape-buffer length at 18, shape at 40, stride at 48, data length at 98.
@pytest.mark.parametrize(
    "offset, value, words",
    [
        (98, struct.pack(">q", 2**40), r"needs 117 values, header says 1099511627776"),
        (98, struct.pack(">q", 50), r"needs 117 values, header says 50"),
        (48, struct.pack(">q", 2), r"strides \[2\] do not fit shape \[117\]"),
        (18, struct.pack(">q", 2**20), r"rank 1 in 1048576 values"),
    ],
)
def test_array_headers_that_would_crash_dl4j_are_refused(
    tmp_path, offset, value, words
):
    source = checkpoint("kam2018__ai-agent-service/loan_approval_model.zip")
    original = zipfile.ZipFile(source).read("coefficients.bin")
    assert struct.unpack(">q", original[98:106])[0] == 117
    bad = _with_entry(
        source, tmp_path, "coefficients.bin", lambda b: _patch(b, offset, value)
    )
    with pytest.raises(NotACheckpointError, match=words):
        _checkpoint.inspect(bad)


def test_trailing_or_missing_data_bytes_are_refused(tmp_path):
    source = checkpoint(
        "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
    )
    for _name, change in (
        ("longer", lambda b: b + b"\0" * 4),
        ("shorter", lambda b: b[:-4]),
    ):
        bad = _with_entry(source, tmp_path, "coefficients.bin", change)
        with pytest.raises(NotACheckpointError, match="39 FLOAT values need"):
            _checkpoint.inspect(bad)


# Header fields that DL4J trusts and that make it read or write outside the data.
@pytest.mark.parametrize(
    "offset, value, words",
    [
        (72, struct.pack(">q", ord("x")), "order code 120 is neither 'c' nor 'f'"),
        (28, b"HALF", "shape information is typed HALF, not INT or LONG"),
    ],
)
def test_other_header_fields_are_checked(tmp_path, offset, value, words):
    source = checkpoint("kam2018__ai-agent-service/loan_approval_model.zip")
    bad = _with_entry(
        source, tmp_path, "coefficients.bin", lambda b: _patch(b, offset, value)
    )
    with pytest.raises(NotACheckpointError, match=words):
        _checkpoint.inspect(bad)


def test_stored_type_must_match_the_declared_one(tmp_path):
    source = checkpoint("kam2018__ai-agent-service/loan_approval_model.zip")

    # The data buffer's type name sits after its length: "FLOAT" -> "HALF" + shorter.
    def as_half(data: bytes) -> bytes:
        head = data.index(b"\x00\x05FLOAT")
        values = np.frombuffer(data[head + 7 :], ">f4").astype(">f2").tobytes()
        return data[:head] + b"\x00\x04HALF" + values

    bad = _with_entry(source, tmp_path, "coefficients.bin", as_half)
    with pytest.raises(
        NotACheckpointError, match="stored as HALF but its configuration"
    ):
        _checkpoint.inspect(bad)
