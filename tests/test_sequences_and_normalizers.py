"""Recurrent checkpoints and normalizers as real DL4J users saved them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import checkpoint

from py_dl4j_ft import PreTrainedModel, _arrays
from py_dl4j_ft.errors import NotACheckpointError, ShapeError

pytestmark = pytest.mark.jvm

MESH = "laurent-daniel-utt__MeshIneBits/"


def _waves(n: int = 64, steps: int = 40, shift: float = 0.1):
    t = np.linspace(0, 6, steps, dtype=np.float32)
    x = np.stack([np.sin(t + k / 5) for k in range(n)])[:, None, :]
    y = np.stack([np.sin(t + k / 5 + shift) for k in range(n)])[:, None, :]
    return x, y


def test_legacy_lstm_regression_fine_tunes(jvm):
    # A 1.0.0-beta LSTM regressor whose RnnOutputLayer predates data formats: M2.1 can
    # only train it once the layout it was written with is restored.
    model = PreTrainedModel.load(
        checkpoint("Well5a__Dl4jRNNRegressionTest/bestModel.bin")
    )
    assert model.info["inputs"][0] == {"rank": 3, "axis": 1, "size": 1, "format": "NCW"}
    assert not model.is_classifier
    x, y = _waves()
    before = model.evaluate(x, y)
    history = model.fine_tune(x, y, 0.01, epochs=10, batch_size=16)
    after = model.evaluate(x, y)
    assert set(after) == {"loss", "mse", "mae", "rmse", "r2", "examples"}
    assert after["mse"] < before["mse"] / 4 and after["r2"] > 0.8
    assert history.loss[-1] < history.loss[0]
    assert model.predict(x).shape == (64, 1, 40)
    with pytest.raises(ShapeError, match=r"transpose\(0, 2, 1\)"):
        model.predict(x.transpose(0, 2, 1))


def test_lstm_classifier_with_normalizer_inside_the_zip(jvm):
    model = PreTrainedModel.load(checkpoint("ermao3__testdl/lstm.mod"))
    assert model.normalizer is not None and model.n_outputs == 2
    rng = np.random.default_rng(0)
    x = rng.random((8, 86, 5), dtype=np.float32)
    probabilities = model.predict(x)
    assert probabilities.shape == (8, 2, 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)

    # The normalizer really is applied: DL4J on hand-normalized input agrees.
    mean = _arrays.from_java(model.normalizer.getMean()).reshape(1, -1, 1)
    std = _arrays.from_java(model.normalizer.getStd()).reshape(1, -1, 1)
    raw = PreTrainedModel.load(checkpoint("ermao3__testdl/lstm.mod"))
    raw.normalizer = None
    np.testing.assert_allclose(raw.predict((x - mean) / std), probabilities, atol=1e-5)

    # Per-step class ids become one-hot [batch, classes, time] labels.
    labels = rng.integers(0, 2, (8, 5))
    metrics = model.evaluate(x, labels)
    expected = np.mean(probabilities.argmax(axis=1) == labels)
    assert metrics["accuracy"] == pytest.approx(expected)


def test_normalizer_with_a_byte_order_mark_is_named(jvm):
    with pytest.raises(
        NotACheckpointError, match=r"UTF-16 byte-order mark.*tail -c \+3"
    ):
        PreTrainedModel.load(
            checkpoint(MESH + "trained_model.zip"),
            normalizer=checkpoint(MESH + "normalizer_saved.bin"),
        )


def test_label_normalizer_is_reverted_on_predictions(jvm, tmp_path):
    # The same file without its two stray bytes: a standardizer fitted on labels too.
    fixed = tmp_path / "normalizer.bin"
    fixed.write_bytes(checkpoint(MESH + "normalizer_saved.bin").read_bytes()[2:])
    model = PreTrainedModel.load(
        checkpoint(MESH + "trained_model.zip"), normalizer=fixed
    )
    norm = model.normalizer
    assert norm.isFitLabel()
    width = model.info["inputs"][0]["size"]
    x = np.random.default_rng(1).normal(size=(6, width)).astype(np.float32)

    raw = PreTrainedModel.load(checkpoint(MESH + "trained_model.zip"))
    mean, std = (_arrays.from_java(a).ravel() for a in (norm.getMean(), norm.getStd()))
    label_mean, label_std = (
        _arrays.from_java(a).ravel() for a in (norm.getLabelMean(), norm.getLabelStd())
    )
    expected = raw.predict((x - mean) / std) * label_std + label_mean
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-4)


def test_legacy_bidirectional_lstm_predicts_the_same_twice_and_trains(jvm):
    # A 0.8.0 graph whose layers have no cache mode. DL4J M2.1 reads null as "cache" and
    # its GravesBidirectionalLSTM then reuses the previous call's forward pass from a
    # reset workspace: every second output fails or is garbage. The loader sets NONE.
    path = checkpoint(
        "deeplearning4j__dl4j-test-resources/080_ModelSerializer_Regression_CG_LSTM_1.zip"
    )
    from py_dl4j_ft import _jvm

    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 5), dtype=np.float32)
    plain = _jvm.jclass("org.deeplearning4j.nn.graph.ComputationGraph").load(
        _jvm.jclass("java.io.File")(str(path)), False
    )
    outputs = []
    for _ in range(2):
        try:
            outputs.append(_arrays.from_java(plain.outputSingle(_arrays.to_java(x))))
        except Exception as e:  # DL4J's own failure, the bug this test is about
            outputs.append(str(e))
    assert not (isinstance(outputs[1], np.ndarray) and np.array_equal(*outputs))

    model = PreTrainedModel.load(path)
    first = model.predict(x)
    assert np.array_equal(first, outputs[0])  # the first DL4J call was right
    for _ in range(3):
        assert np.array_equal(model.predict(x), first)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-5)

    # Its stored parameters are 1, 2, ..., N (a regression fixture): start from small
    # ones so the loss is finite, then train.
    n = model.n_params
    small = ((rng.random(n) - 0.5) * 0.2).astype(np.float32).reshape(1, n)
    model.java_model.setParams(_arrays.to_java(small))
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, (2, 5))].transpose(0, 2, 1)
    history = model.fine_tune(x, np.ascontiguousarray(y), 0.1, epochs=5)
    assert np.all(np.isfinite(history.loss)) and history.loss[-1] < history.loss[0]
    assert np.array_equal(model.predict(x), model.predict(x))
