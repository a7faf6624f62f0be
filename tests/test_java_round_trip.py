"""A model saved here loads bit-identically in a fresh process and in plain Java."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, checkpoint, standardized_iris

from py_dl4j_ft import PreTrainedModel, _arrays, _jars, _jvm

pytestmark = [pytest.mark.jvm, pytest.mark.slow]


def _fine_tuned(tmp_path, relative):
    model = PreTrainedModel.load(checkpoint(relative))
    x, y = standardized_iris()
    model.fine_tune(x, y, 0.01, epochs=3, batch_size=16)
    return model, model.save(tmp_path / "tuned.zip"), x


@pytest.mark.parametrize(
    "relative",
    [
        "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip",
        "sawfly29__S_M/MyComputationGraph.zip",
    ],
)
def test_plain_java_loads_what_we_saved(jvm, tmp_path, relative):
    model, saved, x = _fine_tuned(tmp_path, relative)
    _assert_plain_java_agrees(model, saved, x, tmp_path)


@pytest.mark.parametrize(
    ("relative", "freeze"),
    [
        ("deeplearning4j__deeplearning4j-examples/trained_iris_model.zip", 2),
        ("sawfly29__S_M/MyComputationGraph.zip", ["layer0"]),
    ],
)
def test_plain_java_loads_a_transferred_model(jvm, tmp_path, relative, freeze):
    # Frozen layers and a new head, as TransferLearning built them, after training.
    from py_dl4j_ft import transfer

    x = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = transfer.transfer(
        PreTrainedModel.load(checkpoint(relative)), freeze=freeze, n_classes=2
    )
    model.fine_tune(x, y, 0.05, epochs=3, batch_size=10)
    saved = model.save(tmp_path / "transferred.zip")
    assert model.frozen_layers
    _assert_plain_java_agrees(model, saved, x, tmp_path)


def _assert_plain_java_agrees(model, saved, x, tmp_path):
    np.save(tmp_path / "x.npy", x)

    # Only DL4J's jars: the project's own helper jar stays off this classpath.
    jars = [j for j in _jars.classpath(_jvm.settings()) if "py-dl4j-ft-helper" not in j]
    done = subprocess.run(
        [
            "java",
            "-cp",
            ":".join(jars),
            str(ROOT / "tests/java/PlainJavaLoad.java"),
            model.kind,
            str(saved),
            str(tmp_path / "x.npy"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(
        line.split(" ", 1)
        for line in done.stdout.splitlines()
        if line.split(" ", 1)[0] in ("params", "values", "output")
    )

    assert int(lines["params"]) == model.n_params
    java_params = np.array(lines["values"].split(), dtype=np.int32).view(np.float32)
    np.testing.assert_array_equal(
        java_params, _arrays.from_java(model.java_model.params()).ravel()
    )
    java_output = np.array(lines["output"].split(), dtype=np.int32).view(np.float32)
    np.testing.assert_array_equal(java_output, model.predict(x).ravel())


def test_fresh_process_reloads_bit_identically(jvm, tmp_path):
    model, saved, x = _fine_tuned(
        tmp_path, "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
    )
    np.save(tmp_path / "x.npy", x)
    script = (
        "import json, sys, numpy as np\n"
        "from py_dl4j_ft import PreTrainedModel, _arrays\n"
        "m = PreTrainedModel.load(sys.argv[1])\n"
        "np.save(sys.argv[2], _arrays.from_java(m.java_model.params()))\n"
        "np.save(sys.argv[3], m.predict(np.load(sys.argv[4])))\n"
        "print(json.dumps({'lr': m.learning_rate, 'epochs': m.info['epoch_count']}))\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(saved),
            str(tmp_path / "p.npy"),
            str(tmp_path / "o.npy"),
            str(tmp_path / "x.npy"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts == {"lr": 0.01, "epochs": model.info["epoch_count"]}
    np.testing.assert_array_equal(
        np.load(tmp_path / "p.npy"), _arrays.from_java(model.java_model.params())
    )
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), model.predict(x))
