"""A custom layer from the user's own jar: refused without the jar, loaded with it.

The jar is built here, with javac against the DL4J jars, in a temporary folder. It
holds a plain subclass of DenseLayer (the loan model, with its first layer renamed to
it, must predict exactly as before) and our own implementation of the custom layer
that DL4J's CustomLayerExample checkpoints name (tests/java/customlayer), which must
reproduce the outputs DL4J wrote next to those checkpoints.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import checkpoint

from py_dl4j_ft import PreTrainedModel
from py_dl4j_ft.errors import UnknownClassError

HERE = Path(__file__).resolve().parent
LOAN = "kam2018__ai-agent-service/loan_approval_model.zip"
EXAMPLES = "deeplearning4j__dl4j-test-resources/"
CUSTOM = "com.example.layers.MyDense"
SOURCE = """package com.example.layers;

public class MyDense extends org.deeplearning4j.nn.conf.layers.DenseLayer {
}
"""


@pytest.fixture(scope="module")
def custom_jar(tmp_path_factory):
    from py_dl4j_ft import _jvm

    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("no javac on PATH to build the custom-layer jar")
    tmp_path = tmp_path_factory.mktemp("custom-jar")
    src = tmp_path / "src" / "com" / "example" / "layers" / "MyDense.java"
    src.parent.mkdir(parents=True)
    src.write_text(SOURCE)
    sources = [src, *sorted((HERE / "java" / "customlayer").glob("*.java"))]
    classes = tmp_path / "classes"
    subprocess.run(
        [javac, "-d", classes, "-cp", os.pathsep.join(_jvm.classpath()), *sources],
        check=True,
        capture_output=True,
        timeout=300,
    )
    jar = tmp_path / "my-layers.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        for path in classes.rglob("*.class"):
            archive.write(path, path.relative_to(classes).as_posix())
    return jar


def custom_checkpoint(tmp_path):
    path = tmp_path / "custom.zip"
    with (
        zipfile.ZipFile(checkpoint(LOAN)) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "configuration.json":
                data = data.replace(
                    b'"org.deeplearning4j.nn.conf.layers.DenseLayer"',
                    f'"{CUSTOM}"'.encode(),
                    1,
                )
                assert CUSTOM.encode() in data
            dst.writestr(item.filename, data)
    return path


def test_custom_layer_needs_its_jar(jvm, tmp_path, custom_jar):
    model_path = custom_checkpoint(tmp_path)
    x = np.array([[700, 50_000, 10_000, 5], [550, 20_000, 15_000, 1]], np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = PreTrainedModel.load(checkpoint(LOAN)).predict(x)

    # Without the jar: refused before DL4J, with the class and the fix named.
    with pytest.raises(UnknownClassError) as raised:
        PreTrainedModel.load(model_path)
    assert CUSTOM in str(raised.value) and "--extra-jar" in str(raised.value)

    # With it (a fresh process, as extra jars join the classpath at JVM start).
    cli = [sys.executable, "-m", "py_dl4j_ft", "-q", "predict", str(model_path)]
    done = subprocess.run(
        [
            *cli,
            "--data",
            str(tmp_path / "x.npy"),
            "--out",
            str(tmp_path / "y.npy"),
            "--extra-jar",
            str(custom_jar),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)

    refused = subprocess.run(
        [*cli, "--data", str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 4
    assert f"error: {model_path} names classes that are not part of DL4J: {CUSTOM}" in (
        refused.stderr
    )


# Runs in a fresh process: extra jars join the classpath when the JVM starts.
REFERENCE_SCRIPT = """
import sys
from pathlib import Path
import numpy as np
import py_dl4j_ft as ft
from py_dl4j_ft import _arrays, _jvm

jar, folder = sys.argv[1], Path(sys.argv[2])
ft.configure(extra_jars=[jar])
nd4j, File = _jvm.jclass("org.nd4j.linalg.factory.Nd4j"), _jvm.jclass("java.io.File")
for tag in ("100b3_float", "100b4_half"):
    model = ft.PreTrainedModel.load(folder / f"CustomLayerExample_{tag}.bin")
    x, y = (
        _arrays.from_java(nd4j.readBinary(File(str(folder / "io" / name))))
        for name in (f"CustomLayerExample_{io}_{tag}.bin" for io in ("Input", "Output"))
    )
    got = model.predict(x)
    assert got.dtype == y.dtype and got.shape == y.shape, (got.dtype, got.shape)
    print(tag, y.dtype, float(np.abs(got.astype(float) - y.astype(float)).max()))
"""


def test_custom_layer_checkpoints_match_dl4j_with_the_users_jar(custom_jar):
    folder = checkpoint(EXAMPLES + "CustomLayerExample_100b3_float.bin").parent
    done = subprocess.run(
        [sys.executable, "-c", REFERENCE_SCRIPT, str(custom_jar), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr

    # DL4J's own outputs, reproduced to the precision of each file's type.
    differences = {
        tag: (dtype, float(diff))
        for tag, dtype, diff in (line.split() for line in done.stdout.splitlines())
    }
    assert differences["100b3_float"][0] == "float32"
    assert differences["100b3_float"][1] < 1e-6
    assert differences["100b4_half"][0] == "float16"
    assert differences["100b4_half"][1] < 2e-3  # half precision: ~3 significant digits
