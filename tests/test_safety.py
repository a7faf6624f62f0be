"""Safe loading: Java-serialized entries, the JVM-wide deserialization filter, class
names in configuration.json, zip limits, and files that are not models."""

from __future__ import annotations

import shutil
import struct
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import checkpoint, sha256

from py_dl4j_ft import PreTrainedModel, ZipLimits, inspect_checkpoint
from py_dl4j_ft.cli import cli
from py_dl4j_ft.errors import (
    CheckpointError,
    CorruptCheckpointError,
    NotACheckpointError,
    UnknownClassError,
    UnsafeCheckpointError,
)

LOAN = "kam2018__ai-agent-service/loan_approval_model.zip"
IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"


def with_entries(tmp_path, entries: dict[str, bytes], source: str = LOAN, name="m.zip"):
    """A copy of a real checkpoint with ``entries`` added."""
    path = tmp_path / name
    shutil.copy(checkpoint(source), path)
    with zipfile.ZipFile(path, "a") as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    return path


def java_serialized(jvm, java_object) -> bytes:
    """``java_object`` as Java's ObjectOutputStream writes it (never filtered)."""
    out = jvm.jclass("java.io.ByteArrayOutputStream")()
    stream = jvm.jclass("java.io.ObjectOutputStream")(out)
    stream.writeObject(java_object)
    stream.close()
    return bytes(out.toByteArray())


def a_list(jvm):
    items = jvm.jclass("java.util.ArrayList")()
    items.add(jvm.jclass("java.lang.String")("payload"))
    return items


# Java-serialized entries.


@pytest.mark.parametrize(
    "entry", ["preprocessor.bin", "objects/listener", "updater.bin"]
)
def test_serialized_entries_are_refused_before_java(tmp_path, entry):
    path = with_entries(tmp_path, {entry: b"\xac\xed\x00\x05whatever"})

    with pytest.raises(UnsafeCheckpointError) as raised:
        PreTrainedModel.load(path)
    message = str(raised.value)
    assert entry in message and "Java-serialized" in message
    assert "trust_serialized=True" in message and "--trust-serialized" in message
    # info describes the file without deserializing anything.
    assert inspect_checkpoint(path).serialized_entries == [entry]


def test_trusted_load_deserializes_a_preprocessor(jvm, tmp_path):
    scaler = jvm.jclass(
        "org.nd4j.linalg.dataset.api.preprocessor.ImagePreProcessingScaler"
    )(0.0, 1.0)
    path = with_entries(tmp_path, {"preprocessor.bin": java_serialized(jvm, scaler)})

    model = PreTrainedModel.load(path, trust_serialized=True)

    assert model.n_params == 117
    x = np.array([[700, 50_000, 10_000, 5]], dtype=np.float32)
    reference = PreTrainedModel.load(checkpoint(LOAN)).predict(x)
    np.testing.assert_array_equal(model.predict(x), reference)


def test_filter_rejects_a_payload_that_reaches_java_by_another_path(jvm, tmp_path):
    """Bypassing the Python checks, DL4J's own loader still cannot deserialize."""
    guard = jvm.helper("SafeDeserialization")
    assert guard.isInstalled()
    payload = java_serialized(jvm, a_list(jvm))
    path = with_entries(tmp_path, {"preprocessor.bin": payload})
    before = int(guard.rejectedCount())

    # DL4J's ModelSerializer reads preprocessor.bin with ObjectInputStream.
    network = jvm.jclass("org.deeplearning4j.nn.multilayer.MultiLayerNetwork")
    with pytest.raises(CorruptCheckpointError, match="filter status: REJECTED"):
        with jvm.java_errors("loading", default=CorruptCheckpointError):
            network.load(jvm.jclass("java.io.File")(str(path)), True)

    # A plain ObjectInputStream anywhere in the JVM.
    stream = jvm.jclass("java.io.ObjectInputStream")(jvm.input_stream(payload))
    with pytest.raises(CorruptCheckpointError, match="REJECTED"):
        with jvm.java_errors("reading", default=CorruptCheckpointError):
            stream.readObject()
    assert int(guard.rejectedCount()) == before + 2

    # Trusted on this thread only while asked: the same bytes then deserialize.
    with jvm.trusted_deserialization(True):
        again = jvm.jclass("java.io.ObjectInputStream")(jvm.input_stream(payload))
        assert str(again.readObject()) == "[payload]"
    # ... and are refused again afterwards; the JVM keeps working.
    stream = jvm.jclass("java.io.ObjectInputStream")(jvm.input_stream(payload))
    with pytest.raises(CorruptCheckpointError, match="REJECTED"):
        with jvm.java_errors("reading", default=CorruptCheckpointError):
            stream.readObject()
    assert PreTrainedModel.load(checkpoint(LOAN)).n_params == 117


def test_normal_loads_work_with_the_filter_on(jvm):
    # Updater state, a normalizer inside the zip, and a separate normalizer file.
    rejected = int(jvm.helper("SafeDeserialization").rejectedCount())
    model = PreTrainedModel.load(checkpoint("ermao3__testdl/lstm.mod"))
    assert model.normalizer is not None
    PreTrainedModel.load(
        checkpoint(LOAN),
        normalizer=checkpoint("kam2018__ai-agent-service/normalizer.bin"),
    )
    assert int(jvm.helper("SafeDeserialization").rejectedCount()) == rejected


def test_cli_refuses_serialized_entries_unless_trusted(jvm, tmp_path):
    scaler = jvm.jclass(
        "org.nd4j.linalg.dataset.api.preprocessor.ImagePreProcessingScaler"
    )(0.0, 1.0)
    path = with_entries(tmp_path, {"preprocessor.bin": java_serialized(jvm, scaler)})
    np.save(tmp_path / "x.npy", np.ones((2, 4), dtype=np.float32))
    runner = CliRunner()

    refused = runner.invoke(
        cli, ["predict", str(path), "--data", str(tmp_path / "x.npy")]
    )
    assert refused.exit_code == 4
    assert "Java-serialized entries (preprocessor.bin)" in refused.stderr

    trusted = runner.invoke(
        cli,
        ["predict", str(path), "--data", str(tmp_path / "x.npy"), "--trust-serialized"],
    )
    assert trusted.exit_code == 0, trusted.stderr
    rows = [line for line in trusted.stdout.splitlines() if line.strip()]
    assert len(rows) == 2


# Class names.


def _with_class(tmp_path, old: str, new: str):
    path = tmp_path / "renamed.zip"
    with (
        zipfile.ZipFile(checkpoint(LOAN)) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "configuration.json":
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode())
            dst.writestr(item.filename, data)
    return path


@pytest.mark.parametrize(
    "old, new",
    [
        # A gadget class as an activation: refused before Jackson could build it.
        (
            "org.nd4j.linalg.activations.impl.ActivationReLU",
            "com.sun.rowset.JdbcRowSetImpl",
        ),
        (
            "org.nd4j.linalg.learning.config.Adam",
            "org.springframework.context.support.FileSystemXmlApplicationContext",
        ),
        # A name in DL4J's own packages that DL4J does not have.
        (
            "org.deeplearning4j.nn.conf.layers.DenseLayer",
            "org.deeplearning4j.nn.conf.layers.NoSuchLayer",
        ),
    ],
)
def test_unknown_classes_are_refused_and_named(jvm, tmp_path, old, new):
    path = _with_class(tmp_path, old, new)

    with pytest.raises(UnknownClassError) as raised:
        PreTrainedModel.load(path)
    assert new in str(raised.value)
    assert "--extra-jar" in str(raised.value)
    assert raised.value.classes == [new]
    assert inspect_checkpoint(path).foreign_classes == (
        [] if new.startswith("org.deeplearning4j.") else [new]
    )


def test_a_class_from_an_added_jar_passes_the_check(tmp_path):
    """The check itself: a class in an --extra-jar is allowed, and only that one."""
    from py_dl4j_ft import _jvm, _safety

    jar = tmp_path / "custom.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("com/example/MyLayer.class", b"\xca\xfe\xba\xbe")
        archive.writestr("com/example/MyLayer$Builder.class", b"\xca\xfe\xba\xbe")
    config = {"confs": [{"layer": {"@class": "com.example.MyLayer"}}]}

    _safety.check_classes(tmp_path / "m.zip", config, [*_jvm.classpath(), jar])
    with pytest.raises(UnknownClassError, match="com.example.MyLayer"):
        _safety.check_classes(tmp_path / "m.zip", config, _jvm.classpath())


# Zip limits.


def test_zip_bomb_entry_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("configuration.json", '{"confs": []}')
        archive.writestr("coefficients.bin", bytes(40 << 20))  # 40 MiB of zeros

    with pytest.raises(UnsafeCheckpointError, match="zip bomb") as raised:
        inspect_checkpoint(path)
    assert "coefficients.bin" in str(raised.value)
    with pytest.raises(UnsafeCheckpointError, match="zip bomb"):
        PreTrainedModel.load(path)


def test_forged_sizes_are_refused_from_the_table_of_contents(tmp_path):
    path = tmp_path / "forged.zip"
    shutil.copy(checkpoint(IRIS), path)
    data = bytearray(path.read_bytes())
    # Claim 3 GiB for coefficients.bin in the central directory.
    at = data.index(b"PK\x01\x02")
    while data[at + 46 : at + 46 + 16] != b"coefficients.bin":
        at = data.index(b"PK\x01\x02", at + 4)
    data[at + 24 : at + 28] = struct.pack("<I", 3 << 30)
    path.write_bytes(bytes(data))

    with pytest.raises(UnsafeCheckpointError, match="zip bomb or a forged header"):
        inspect_checkpoint(path)


@pytest.mark.parametrize(
    "limits, phrase",
    [
        (ZipLimits(max_entry_bytes=1000), "per-entry limit of 1,000"),
        (ZipLimits(max_total_bytes=5000), "limit of 5,000"),
        (ZipLimits(max_config_bytes=100), "configuration.json unpacks to"),
        (ZipLimits(max_entries=2), "more than the limit of 2"),
    ],
)
def test_limits_are_configurable(limits, phrase):
    path = checkpoint(LOAN)
    with pytest.raises(UnsafeCheckpointError, match=phrase):
        inspect_checkpoint(path, limits=limits)
    assert inspect_checkpoint(path).n_params == 117


def test_too_many_entries(tmp_path):
    path = with_entries(tmp_path, {f"extra/{i}.txt": b"" for i in range(1001)})
    with pytest.raises(UnsafeCheckpointError, match="1004 entries"):
        inspect_checkpoint(path)


# Files that are not models: each error says what the file is.


def _truncated(tmp_path):
    data = checkpoint(LOAN).read_bytes()
    (tmp_path / "t.zip").write_bytes(data[: len(data) // 2])
    return tmp_path / "t.zip"


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda tmp: tmp / "absent.zip", "does not exist"),
        (lambda tmp: _write(tmp / "e.zip", b""), r"empty file \(0 bytes\)"),
        (lambda tmp: _write(tmp / "t.txt", b"hello, world\n"), "not a zip archive"),
        (
            lambda tmp: _write(
                tmp / "lfs.zip",
                b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n",
            ),
            "Git LFS pointer",
        ),
        (lambda tmp: _empty_zip(tmp / "z.zip"), "empty zip archive"),
        (_truncated, "truncated or damaged zip"),
    ],
)
def test_non_models_get_named_errors(tmp_path, make, phrase):
    with pytest.raises(CheckpointError, match=phrase) as raised:
        inspect_checkpoint(make(tmp_path))
    assert isinstance(raised.value, NotACheckpointError) or "exist" in phrase


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _empty_zip(path):
    with zipfile.ZipFile(path, "w"):
        pass
    return path


def test_a_class_dl4j_moved_is_named_with_its_new_place(jvm):
    from py_dl4j_ft import _jvm, _safety

    known = _safety.jar_classes(_jvm.classpath())
    old = "org.deeplearning4j.nn.modelimport.keras.preprocessors.ReshapePreprocessor"
    assert old not in known
    assert _safety.moved_classes([old, "org.deeplearning4j.NoSuchThing"], known) == {
        old: "org.deeplearning4j.preprocessors.ReshapePreprocessor"
    }


def test_a_file_naming_classes_from_before_dl4j_moved_them_loads(jvm, tmp_path):
    import subprocess

    from conftest import ROOT

    from py_dl4j_ft import _jars, _jvm

    # A network with a ReshapePreprocessor (what Keras import adds), saved by DL4J...
    jars = [j for j in _jars.classpath(_jvm.settings()) if "py-dl4j-ft-helper" not in j]
    current = tmp_path / "current.zip"
    done = subprocess.run(
        ["java", "-cp", ":".join(jars), str(ROOT / "tests/java/SaveWithReshape.java"),
         str(current)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    # ...and the same file as DL4J before 1.0.0-M2 names the class.
    old = tmp_path / "saved_by_m1.zip"
    with zipfile.ZipFile(current) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "configuration.json":
                new_name = b"org.deeplearning4j.preprocessors.ReshapePreprocessor"
                assert new_name in data
                data = data.replace(
                    new_name,
                    b"org.deeplearning4j.nn.modelimport.keras.preprocessors."
                    b"ReshapePreprocessor",
                )
            dst.writestr(item, data)
    before = sha256(old)

    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    loaded = PreTrainedModel.load(old)
    np.testing.assert_array_equal(
        loaded.predict(x), PreTrainedModel.load(current).predict(x)
    )
    assert inspect_checkpoint(old).missing_classes == []
    assert sha256(old) == before  # renamed in a temporary copy only
