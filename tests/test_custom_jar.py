"""A custom layer from the user's own jar: refused without the jar, loaded with it.

The jar is built here: a Java class compiled with javac against the DL4J jars, in a
temporary folder. The checkpoint is the loan model with its first layer's class
replaced by that subclass of DenseLayer, so its predictions must stay DL4J's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import checkpoint

from py_dl4j_ft import PreTrainedModel
from py_dl4j_ft.errors import UnknownClassError

LOAN = "kam2018__ai-agent-service/loan_approval_model.zip"
CUSTOM = "com.example.layers.MyDense"
SOURCE = """package com.example.layers;

public class MyDense extends org.deeplearning4j.nn.conf.layers.DenseLayer {
}
"""


@pytest.fixture
def custom_jar(tmp_path):
    from py_dl4j_ft import _jvm

    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("no javac on PATH to build the custom-layer jar")
    src = tmp_path / "src" / "com" / "example" / "layers" / "MyDense.java"
    src.parent.mkdir(parents=True)
    src.write_text(SOURCE)
    classes = tmp_path / "classes"
    subprocess.run(
        [javac, "-d", str(classes), "-cp", os.pathsep.join(_jvm.classpath()), str(src)],
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
