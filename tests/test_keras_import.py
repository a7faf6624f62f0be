"""Keras HDF5 models through DL4J's own import, checked against their stored weights."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import checkpoint, sha256, standardized_iris

import py_dl4j_ft as ft
from py_dl4j_ft import _arrays
from py_dl4j_ft.cli import cli

pytestmark = pytest.mark.jvm

h5py = pytest.importorskip("h5py", reason="the Keras references are read with h5py")

MLP = "deeplearning4j__deeplearning4j-examples/simple_mlp.h5"
FUNCTIONAL = "deeplearning4j__deeplearning4j-examples/simple_functional_mlp.h5"
SPARSE = "KonduitAI__dl4j-test-resources/simple_sparse_xent_mlp_keras_2_model.h5"
LSTM_TH = "KonduitAI__dl4j-test-resources/simple_lstm_th_keras_1_model.h5"
DEEPFM = "Hwanghyebin99__Refresh_RestApi_Server/deepfm.h5"


def keras_weights(path, layer: str) -> list[np.ndarray]:
    """One Keras layer's weights, in the order Keras lists them, read with h5py."""
    with h5py.File(path, "r") as f:
        group = f["model_weights"][layer]
        return [np.asarray(group[name]) for name in group.attrs["weight_names"]]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def keras_mlp(path, x: np.ndarray) -> np.ndarray:
    """Keras' own forward pass for Dense(64, relu) -> Dense(10, softmax), in numpy."""
    w1, b1 = keras_weights(path, "dense_3")
    w2, b2 = keras_weights(path, "dense_4")
    hidden = np.maximum(x.astype(np.float64) @ w1 + b1, 0)
    return softmax(hidden @ w2 + b2)


def keras1_lstm_then_dense(path, x: np.ndarray) -> np.ndarray:
    """Keras 1.2.2's LSTM (hard-sigmoid gates, tanh, last step) and Dense, in numpy.

    ``x`` is [batch, time, features], as Keras takes it.
    """
    w = dict(
        zip(
            ["W_i", "U_i", "b_i", "W_c", "U_c", "b_c", "W_f", "U_f", "b_f"]
            + ["W_o", "U_o", "b_o"],
            keras_weights(path, "lstm_1"),
            strict=True,
        )
    )
    dense_w, dense_b = keras_weights(path, "dense_1")

    def hard_sigmoid(z):
        return np.clip(0.2 * z + 0.5, 0, 1)

    batch, steps, _ = x.shape
    h = np.zeros((batch, 50))
    c = np.zeros((batch, 50))
    for t in range(steps):
        xt = x[:, t, :].astype(np.float64)
        i = hard_sigmoid(xt @ w["W_i"] + h @ w["U_i"] + w["b_i"])
        f = hard_sigmoid(xt @ w["W_f"] + h @ w["U_f"] + w["b_f"])
        o = hard_sigmoid(xt @ w["W_o"] + h @ w["U_o"] + w["b_o"])
        c = f * c + i * np.tanh(xt @ w["W_c"] + h @ w["U_c"] + w["b_c"])
        h = o * np.tanh(c)
    return h @ dense_w + dense_b


@pytest.mark.parametrize(
    ("relative", "kind"),
    [(MLP, "MultiLayerNetwork"), (FUNCTIONAL, "ComputationGraph")],
)
def test_keras_mlp_predicts_what_its_weights_compute(jvm, relative, kind):
    path = checkpoint(relative)
    before = sha256(path)
    model = ft.import_keras(path)
    assert model.kind == kind
    assert model.n_params == 100 * 64 + 64 + 64 * 10 + 10
    # The loss comes from the file's training configuration (categorical_crossentropy).
    assert model.is_classifier and model.n_outputs == 10

    x = np.random.default_rng(0).standard_normal((32, 100)).astype(np.float32)
    out = model.predict(x)
    assert out.shape == (32, 10)
    # float32 in DL4J against float64 in numpy: agreement to float32 rounding.
    np.testing.assert_allclose(out, keras_mlp(path, x), rtol=1e-5, atol=1e-6)
    assert sha256(path) == before


def test_keras1_theano_lstm_matches_a_numpy_lstm(jvm):
    path = checkpoint(LSTM_TH)
    model = ft.import_keras(path)
    assert model.kind == "MultiLayerNetwork"
    assert model.info["inputs"][0]["format"] == "NWC"  # Keras' [batch, time, features]
    x = np.random.default_rng(1).standard_normal((8, 5, 1)).astype(np.float32)
    out = model.predict(x)
    assert out.shape == (8, 1)
    np.testing.assert_allclose(
        out, keras1_lstm_then_dense(path, x), rtol=1e-4, atol=1e-5
    )


def test_imported_keras_model_fine_tunes_and_saves(jvm, tmp_path):
    # A 4-3 softmax classifier saved by Keras 2.3.1 with sparse categorical
    # cross-entropy: iris has 4 features and 3 classes.
    model = ft.import_keras(checkpoint(SPARSE))
    assert model.info["outputs"][0]["loss"] == "LossSparseMCXENT"
    x, y = standardized_iris()
    w, b = keras_weights(checkpoint(SPARSE), "dense_1")
    np.testing.assert_allclose(
        model.predict(x), softmax(x @ w + b), rtol=1e-5, atol=1e-6
    )

    # Sparse cross-entropy trains on one class id per row; evaluate() one-hots them
    # for DL4J's Evaluation and must agree with counting by hand.
    accuracy_before = float(np.mean(model.predict_classes(x) == y))
    assert model.evaluate(x, y)["accuracy"] == pytest.approx(accuracy_before)
    history = model.fine_tune(x, y, 0.1, epochs=30, batch_size=16, seed=3)
    accuracy_after = float(np.mean(model.predict_classes(x) == y))
    metrics = model.evaluate(x, y[:, None])
    assert metrics["accuracy"] == pytest.approx(accuracy_after)
    assert metrics["loss"] == pytest.approx(history.loss[-1], rel=0.5)
    assert history.loss[-1] < 0.8 * history.loss[0]
    assert accuracy_after > max(0.8, accuracy_before)

    saved = model.save(tmp_path / "iris_from_keras.zip")
    again = ft.PreTrainedModel.load(saved)
    assert again.kind == "MultiLayerNetwork"
    np.testing.assert_array_equal(
        _arrays.from_java(again.java_model.params()),
        _arrays.from_java(model.java_model.params()),
    )
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_lambda_layer_is_refused_by_name(jvm):
    with pytest.raises(ft.UnsupportedLayerError) as caught:
        ft.import_keras(checkpoint(DEEPFM))
    error = caught.value
    assert error.layer == "sum_of_tensors" and error.layer_class == "Lambda"
    assert "'sum_of_tensors' is a Keras Lambda" in str(error)


def test_weights_only_file_is_refused(jvm, tmp_path):
    weights = tmp_path / "weights.h5"
    with h5py.File(checkpoint(MLP), "r") as src, h5py.File(weights, "w") as dst:
        for name in src["model_weights"]:
            src["model_weights"].copy(name, dst)
        for key, value in src["model_weights"].attrs.items():
            dst.attrs[key] = value
    with pytest.raises(ft.NotAKerasModelError, match="no model configuration"):
        ft.import_keras(weights)


def test_files_that_are_not_keras_models(jvm, tmp_path):
    dl4j_zip = checkpoint(
        "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
    )
    with pytest.raises(ft.NotAKerasModelError, match="is a zip"):
        ft.import_keras(dl4j_zip)
    text = tmp_path / "model.h5"
    text.write_text("not hdf5")
    with pytest.raises(ft.NotAKerasModelError, match="not an HDF5 file"):
        ft.import_keras(text)
    with pytest.raises(ft.CheckpointNotFoundError):
        ft.import_keras(tmp_path / "missing.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(checkpoint(MLP).read_bytes()[:20000])
    with pytest.raises(ft.NotAKerasModelError, match="damaged, truncated"):
        ft.import_keras(truncated)
    # The JVM is still usable.
    assert ft.import_keras(checkpoint(SPARSE)).n_params == 15


def test_cli_import_keras(jvm, tmp_path):
    runner = CliRunner()
    out = tmp_path / "mlp.zip"
    done = runner.invoke(cli, ["import-keras", str(checkpoint(MLP)), str(out)])
    assert done.exit_code == 0, done.output
    assert "MultiLayerNetwork (7114 parameters)" in done.output
    x = np.random.default_rng(2).standard_normal((4, 100)).astype(np.float32)
    np.testing.assert_allclose(
        ft.PreTrainedModel.load(out).predict(x),
        keras_mlp(checkpoint(MLP), x),
        rtol=1e-5,
        atol=1e-6,
    )

    again = runner.invoke(cli, ["import-keras", str(checkpoint(MLP)), str(out)])
    assert again.exit_code == 6 and "already exists" in again.output
    refused = runner.invoke(
        cli, ["import-keras", str(checkpoint(DEEPFM)), str(tmp_path / "fm.zip")]
    )
    assert refused.exit_code == 4
    assert refused.output.startswith("error:") and "sum_of_tensors" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.zip"]


@pytest.mark.slow
def test_damaged_h5_is_one_line_even_from_native_code(tmp_path):
    # The HDF5 C library writes its error stack straight to file descriptor 2, which
    # only a separate process can see.
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(checkpoint(MLP).read_bytes()[:20000])
    done = subprocess.run(
        [sys.executable, "-m", "py_dl4j_ft", "import-keras", str(truncated),
         str(tmp_path / "out.zip")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 4
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: reading the Keras model")
    assert not (tmp_path / "out.zip").exists()
