"""Every file in ../shared/checkpoints, from MANIFEST.tsv: it loads and predicts, or it
is refused with a named error whose reason fits the file.

The pure-Python description (``inspect_checkpoint``) is checked against the manifest's
DL4J version and against DL4J's own parameter count; where DL4J wrote reference
input/output arrays (``*/io/``), our prediction must reproduce DL4J's output.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import CHECKPOINTS, checkpoint

from py_dl4j_ft import PreTrainedModel, inspect_checkpoint
from py_dl4j_ft.errors import (
    CheckpointError,
    NotACheckpointError,
    ShapeError,
    UnknownClassError,
)

MANIFEST = CHECKPOINTS / "MANIFEST.tsv"
TEST_RESOURCES = "deeplearning4j__dl4j-test-resources/"
KONDUIT = "KonduitAI__dl4j-test-resources/"


def _rows() -> list[dict]:
    if not MANIFEST.exists():
        return []
    with MANIFEST.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


ROWS = {row["relative_path"]: row for row in _rows()}
MODELS = [
    p for p, r in ROWS.items() if r["kind"] in ("MultiLayerNetwork", "ComputationGraph")
]

# Files that are refused, with the error class and a phrase that says why.
_NOT_A_MODEL = {
    "CSV data": "not a zip archive",
    "ComputationGraphConfiguration JSON only": "is a JSON file",
    "EMPTY-ZIP": "empty zip archive",
    "NOT-A-MODEL (0-byte file)": "empty file (0 bytes)",
    "NOT-A-MODEL (Git LFS pointer text)": "Git LFS pointer",
    "Normalizer (NormalizerSerializer stream)": "is a DL4J normalizer",
    "INDArray (Nd4j binary)": "a single ND4J array",
}
CUSTOM = {
    TEST_RESOURCES + "CustomLayerExample_100a.bin": "CustomLayer",
    TEST_RESOURCES + "CustomLayerExample_Graph_100a.bin": "CustomLayer",
    TEST_RESOURCES + "CustomLayerExample_100b3_float.bin": (
        "org.deeplearning4j.regressiontest.customlayer100a.CustomLayer"
    ),
    TEST_RESOURCES + "CustomLayerExample_100b4_half.bin": (
        "org.deeplearning4j.regressiontest.customlayer100a.CustomLayer"
    ),
    "Hwanghyebin99__Refresh_RestApi_Server/MyMultiLayerNetwork.zip": (
        "com.example.webapi.Lambda1"
    ),
}


def expected_refusal(relative: str) -> tuple[type[CheckpointError], str] | None:
    row = ROWS[relative]
    if relative in CUSTOM:
        return UnknownClassError, CUSTOM[relative]
    if relative.startswith("wutzebaer__dl4j-0.4-examples/"):
        return NotACheckpointError, "updater.bin is a Java-serialized object"
    if row["kind"].startswith("Keras-HDF5"):
        return NotACheckpointError, "Keras/HDF5"
    for kind, phrase in _NOT_A_MODEL.items():
        if row["kind"].startswith(kind):
            if relative.endswith("normalizer_saved.bin"):
                return NotACheckpointError, "byte-order mark"
            return NotACheckpointError, phrase
    return None


# Inputs for networks whose configuration does not state the full input shape.
INPUT_SHAPES = {
    # Convolution3D and pooling in Same mode bring 8^3 down to 2^3, as the output
    # layer's 64 = 8 channels x 2 x 2 x 2 inputs need.
    KONDUIT + "Cnn3dSynthetic_Model_RANDOM_INIT_UNTRAINED.zip": (3, 3, 8, 8, 8),
    TEST_RESOURCES + "071_ModelSerializer_Regression_CNN_1.zip": (3, 3, 28, 28),
}

# DL4J's 0.7.1 regression CNN cannot predict in any DL4J that honours its settings:
# its convolution and pooling use Same mode (28x28 stays 28x28, 2352 values), but its
# output layer was given n_in = 2028 (3 x 26 x 26, the Truncate-mode size).
PREDICT_REFUSED = {
    TEST_RESOURCES + "071_ModelSerializer_Regression_CNN_1.zip": (ShapeError, "2028"),
}

# Reference input and output arrays DL4J wrote with the model.
REFERENCES = {
    "malfaro2__dl4j-test-resources/VaeMNISTAnomaly_100a.bin": "VaeMNISTAnomaly_{}_100a",
    TEST_RESOURCES + "SyntheticCNN_100b4.bin": "SyntheticCNN_{}_100b4",
    KONDUIT + "SyntheticBidirectionalRNNGraph_100b6.bin": (
        "SyntheticBidirectionalRNNGraph_{}_100b6"
    ),
}

# DL4J's regression zips of 0.5-0.8 hold parameters and updater state 1, 2, ..., N.
ONE_TO_N = [
    TEST_RESOURCES + name
    for name in (
        "050_ModelSerializer_Regression_MLP_1.zip",
        "060_ModelSerializer_Regression_CG_LSTM_1.zip",
        "071_ModelSerializer_Regression_CNN_1.zip",
        "080_ModelSerializer_Regression_CG_LSTM_1.zip",
        "080_ModelSerializer_Regression_MLP_2.zip",
    )
]


def read_nd4j(path) -> np.ndarray:
    """An array in ND4J's binary format, read by ND4J itself."""
    from py_dl4j_ft import _arrays, _jvm

    nd4j = _jvm.jclass("org.nd4j.linalg.factory.Nd4j")
    return _arrays.from_java(nd4j.readBinary(_jvm.jclass("java.io.File")(str(path))))


def reference(relative: str) -> tuple[np.ndarray, np.ndarray] | None:
    if relative not in REFERENCES:
        return None
    folder = CHECKPOINTS / relative.split("/")[0] / "io"
    if not folder.is_dir():  # the VAE's arrays sit in the deeplearning4j folder
        folder = CHECKPOINTS / TEST_RESOURCES / "io"
    stem = REFERENCES[relative]
    return (
        read_nd4j(folder / f"{stem.format('Input')}.bin"),
        read_nd4j(folder / f"{stem.format('Output')}.bin"),
    )


def input_for(model: PreTrainedModel, relative: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if relative in INPUT_SHAPES:
        return rng.random(INPUT_SHAPES[relative], dtype=np.float32)
    spec = model.info["inputs"][0]
    if spec.get("image"):
        shape = (3, *spec["image"])
    elif spec["rank"] == 3:
        shape = (3, spec["size"], 7) if spec["axis"] == 1 else (3, 7, spec["size"])
    else:
        assert spec["rank"] == 2, spec
        shape = (3, spec["size"])
    return rng.random(shape, dtype=np.float32)


@pytest.mark.skipif(not ROWS, reason=f"{MANIFEST} is not present")
@pytest.mark.parametrize("relative", sorted(ROWS))
def test_every_file_loads_and_predicts_or_is_refused(jvm, relative):
    path = checkpoint(relative)
    refusal = expected_refusal(relative)
    if refusal is not None:
        error, phrase = refusal
        with pytest.raises(error) as raised:
            PreTrainedModel.load(path)
        assert phrase in str(raised.value)
        if error is UnknownClassError:
            assert "--extra-jar" in str(raised.value) or "1.0.0-alpha" in str(
                raised.value
            )
        return

    assert ROWS[relative]["kind"] in ("MultiLayerNetwork", "ComputationGraph")
    model = PreTrainedModel.load(path)
    assert model.kind == ROWS[relative]["kind"]
    # DL4J's parameter count equals the header's and the configuration's.
    described = inspect_checkpoint(path)
    assert model.n_params == described.n_params == described.n_params_config

    ref = reference(relative)
    if ref is not None:
        x, expected = ref
        got = model.predict(x)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        return

    x = input_for(model, relative)
    if relative in PREDICT_REFUSED:
        error, phrase = PREDICT_REFUSED[relative]
        with pytest.raises(error, match=phrase):
            model.predict(x)
        return
    y = model.predict(x)
    assert np.isfinite(y).all()
    out = model.info["outputs"][0]
    assert y.shape[0] == len(x)
    assert y.shape[out["axis"]] == out["size"]
    if out["rank"] == 3:
        assert y.shape[2] == x.shape[2]  # one output per time step
    if out["activation"] == "softmax" and out["rank"] == 2:
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("relative", ONE_TO_N)
def test_oldest_regression_zips_hold_one_to_n(jvm, relative):
    from py_dl4j_ft import _arrays

    model = PreTrainedModel.load(checkpoint(relative))
    params = _arrays.from_java(model.java_model.params()).ravel()
    state = _arrays.from_java(model.java_model.getUpdater().getStateViewArray()).ravel()

    n = model.n_params
    assert n == inspect_checkpoint(checkpoint(relative)).n_params
    np.testing.assert_array_equal(params, np.arange(1, n + 1, dtype=params.dtype))
    np.testing.assert_array_equal(
        state, np.arange(1, len(state) + 1, dtype=state.dtype)
    )
    assert len(state) == inspect_checkpoint(checkpoint(relative)).updater_state_size


# Pure Python.


def manifest_era(version: str) -> set[str]:
    """The eras of _describe.ERAS that a manifest version string allows."""
    v = version.strip("~ ")
    m = re.match(r"0\.(\d)", v)
    if m:
        return {"0.5–0.8"} if int(m.group(1)) <= 8 else {"0.9"}
    if v.startswith("1.0.0-alpha"):
        return {"1.0.0-alpha"}
    if v.startswith("1.0.0-M2"):
        return {"1.0.0-M2.x"}
    if v.startswith("1.0.0-M1"):
        return {"1.0.0-beta7–M1.1"}
    beta = re.match(r"1\.0\.0-beta(\d*)", v)
    assert beta, version
    n = int(beta.group(1) or 1)
    if "beta6/beta7" in v:
        return {"1.0.0-beta4–beta6", "1.0.0-beta7–M1.1"}
    if n == 1:
        return {"1.0.0-beta"}
    if n in (2, 3):
        return {f"1.0.0-beta{n}"}
    return {"1.0.0-beta4–beta6"} if n <= 6 else {"1.0.0-beta7–M1.1"}


@pytest.mark.skipif(not ROWS, reason=f"{MANIFEST} is not present")
@pytest.mark.parametrize("relative", MODELS)
def test_info_era_and_counts_match_the_manifest(relative):
    described = inspect_checkpoint(checkpoint(relative))

    assert described.kind == ROWS[relative]["kind"]
    assert described.era in manifest_era(ROWS[relative]["inferred_dl4j_version"])
    assert not any("does not fit" in e for e in described.era_evidence)
    assert described.updater_state_stored == (
        "updaterState.bin" in ROWS[relative]["extra_entries"]
    )
    assert (described.normalizer is not None) == (
        "normalizer.bin" in ROWS[relative]["extra_entries"]
    )
    if described.n_params_config is not None:
        assert described.n_params == described.n_params_config
    if relative not in CUSTOM:
        # Only custom layers leave the count unknown.
        assert described.n_params_config is not None
        assert described.foreign_classes == described.legacy_custom_layers == []


def test_info_describes_layers_updater_and_normalizer():
    described = inspect_checkpoint(checkpoint("ermao3__testdl/lstm.mod"))

    assert described.kind == "MultiLayerNetwork"
    assert described.era == "1.0.0-beta3"
    assert described.normalizer == "STANDARDIZE"
    assert described.updater == "Nadam"
    assert described.learning_rate == 0.001
    assert described.updater_state_size == 2 * described.n_params  # Nadam: m and v
    first = described.layers[0]
    assert first.type == "LSTM" and first.n_in == 86
    assert first.n_params == 4 * first.n_out * (86 + first.n_out + 1)
    assert described.input_type == "sequences of 86 features"


def test_info_names_custom_classes_without_java():
    described = inspect_checkpoint(
        checkpoint("Hwanghyebin99__Refresh_RestApi_Server/MyMultiLayerNetwork.zip")
    )

    assert described.kind == "ComputationGraph"
    assert described.foreign_classes == [
        "com.example.webapi.Lambda1",
        "com.example.webapi.TensorsSquare",
        "com.example.webapi.TensorsSum",
    ]
    legacy = inspect_checkpoint(
        checkpoint(TEST_RESOURCES + "CustomLayerExample_100a.bin")
    )
    assert legacy.legacy_custom_layers == ["CustomLayer"]
    assert legacy.era == "1.0.0-alpha"
    assert "cannot load them, even with a jar" in legacy.table()
    assert "--extra-jar" not in legacy.table()

    # A class in DL4J's own package that no DL4J jar holds: found from the jars' lists.
    inside = inspect_checkpoint(
        checkpoint(TEST_RESOURCES + "CustomLayerExample_100b3_float.bin")
    )
    assert inside.foreign_classes == []
    assert inside.missing_classes == [
        "org.deeplearning4j.regressiontest.customlayer100a.CustomLayer"
    ]
    assert "add it with --extra-jar" in inside.table()
    plain = inspect_checkpoint(checkpoint(TEST_RESOURCES + "SyntheticCNN_100b4.bin"))
    assert plain.missing_classes == []
    assert "custom code" not in plain.table()


def test_info_command_starts_no_jvm():
    """`dl4j-ft info` in a fresh process: the JVM never starts, DL4J is not needed."""
    script = (
        "import sys, jpype\n"
        "from py_dl4j_ft.cli import cli\n"
        "try:\n"
        "    cli(['info', sys.argv[1], '--json'])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "assert not jpype.isJVMStarted()\n"
        "assert not any(m.startswith('org.') for m in sys.modules)\n"
        "print('JVM started:', jpype.isJVMStarted(), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(checkpoint(KONDUIT + "SyntheticBidirectionalRNNGraph_100b6.bin")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "JVM started: False" in done.stderr
    described = json.loads(done.stdout)
    assert described["era"] == "1.0.0-beta4–beta6"
    assert described["num_params"] == described["num_params_config"] == 4515
