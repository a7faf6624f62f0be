"""Load, fine-tune, predict, evaluate and save real third-party DL4J checkpoints."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from conftest import checkpoint, mnist_test_set, sha256, standardized_iris

from py_dl4j_ft import PreTrainedModel, load_dataset
from py_dl4j_ft.errors import (
    ArgumentError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    DataError,
    LabelError,
    NotACheckpointError,
    OutputExistsError,
    ShapeError,
    TrainingDivergedError,
)

pytestmark = pytest.mark.jvm

IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
LOAN = "kam2018__ai-agent-service/"
MOON = "deeplearning4j__dl4j-test-resources/"


def params(model) -> np.ndarray:
    from py_dl4j_ft import _arrays

    return _arrays.from_java(model.java_model.params())


def updater_state(model) -> np.ndarray:
    from py_dl4j_ft import _arrays

    return _arrays.from_java(model.java_model.getUpdater().getStateViewArray())


def loan():
    model = PreTrainedModel.load(
        checkpoint(LOAN + "loan_approval_model.zip"),
        normalizer=checkpoint(LOAN + "normalizer.bin"),
    )
    data = load_dataset(
        checkpoint(LOAN + "synthetic_loan_data.csv"), label_column="label"
    )
    return model, data


# The 0.9.1 iris model, trained on standardized iris without its normalizer saved.


def test_iris_predicts_far_above_chance_and_fine_tuning_keeps_it(jvm):
    model = PreTrainedModel.load(checkpoint(IRIS))
    x, y = standardized_iris()
    assert model.kind == "MultiLayerNetwork" and model.n_params == 39
    assert model.learning_rates == {"layer0": 0.1, "layer1": 0.1, "layer2": 0.1}
    before = model.evaluate(x, y)
    assert before["accuracy"] > 0.9  # chance is 1/3
    assert np.mean(model.predict_classes(x) == y) == pytest.approx(before["accuracy"])
    iterations, epochs = model.info["iteration_count"], model.info["epoch_count"]

    history = model.fine_tune(x, y, 1e-3, epochs=5, batch_size=16)
    assert model.learning_rate == 1e-3
    assert [e.epoch for e in history.epochs] == [epochs + i for i in range(1, 6)]
    assert all(np.isfinite(history.loss)) and history.epochs[0].learning_rate == 1e-3
    assert model.evaluate(x, y)["accuracy"] > 0.9
    assert model.info["epoch_count"] == epochs + 5
    # ceil(150 / 16) = 10 minibatches an epoch, counted by DL4J itself.
    assert model.info["iteration_count"] == iterations + 5 * 10


def test_probabilities_sum_to_one_and_rows_are_independent_of_batching(jvm):
    model = PreTrainedModel.load(checkpoint(IRIS))
    x, _ = standardized_iris()
    whole = model.predict(x)
    assert whole.shape == (150, 3)
    np.testing.assert_allclose(whole.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x, batch_size=7), whole)


# The M2.1 loan model with Adam state and a separate normalizer.


def test_loan_model_with_its_normalizer(jvm):
    model, data = loan()
    metrics = model.evaluate(data.features, data.labels)
    assert metrics["examples"] == 1000
    assert metrics["accuracy"] == pytest.approx(0.936)
    raw = PreTrainedModel.load(checkpoint(LOAN + "loan_approval_model.zip"))
    # Without its normalizer the same network sees raw incomes and mostly fails.
    assert (
        raw.evaluate(data.features, data.labels)["accuracy"] < metrics["accuracy"] - 0.1
    )


def test_loan_fine_tune_save_reload_keeps_everything(jvm, tmp_path):
    model, data = loan()
    source = checkpoint(LOAN + "loan_approval_model.zip")
    digest = sha256(source)
    model.fine_tune(data.features, data.labels, 1e-4, epochs=2, batch_size=50)
    after = model.evaluate(data.features, data.labels)
    assert after["accuracy"] > 0.9

    out = model.save(tmp_path / "loan_ft.zip")
    names = set(zipfile.ZipFile(out).namelist())
    assert {
        "configuration.json",
        "coefficients.bin",
        "updaterState.bin",
        "normalizer.bin",
    } <= names
    assert sha256(source) == digest

    # The normalizer now travels inside the zip.
    again = PreTrainedModel.load(out)
    assert again.normalizer is not None
    np.testing.assert_array_equal(params(again), params(model))
    np.testing.assert_array_equal(updater_state(again), updater_state(model))
    np.testing.assert_array_equal(
        again.predict(data.features), model.predict(data.features)
    )
    assert again.learning_rate == 1e-4
    assert again.evaluate(data.features, data.labels) == after


def test_resuming_keeps_the_adam_state(jvm, tmp_path):
    model, data = loan()
    x, y = data.features[:400], data.labels[:400]
    model.fine_tune(x, y, 1e-3, epochs=1, batch_size=40, shuffle=False)
    model.save(tmp_path / "half.zip")
    model.train(x, y, epochs=1, batch_size=40, shuffle=False)

    resumed = PreTrainedModel.load(tmp_path / "half.zip")
    resumed.train(x, y, epochs=1, batch_size=40, shuffle=False)
    np.testing.assert_allclose(params(resumed), params(model), rtol=0, atol=1e-6)

    # Control: the same resume without the optimizer state lands elsewhere.
    fresh = PreTrainedModel.load(tmp_path / "half.zip", load_updater=False)
    fresh.train(x, y, epochs=1, batch_size=40, shuffle=False)
    assert np.abs(params(fresh) - params(model)).max() > 1e-4


# The beta2-era moon model, randomly initialised: fine-tuning must really learn.


def test_moon_from_chance_to_high_accuracy(jvm):
    model = PreTrainedModel.load(
        checkpoint(MOON + "MLPMoon_Model_RANDOM_INIT_UNTRAINED.zip")
    )
    train = load_dataset(checkpoint(MOON + "moon_data_train.csv"), label_column=0)
    test = load_dataset(checkpoint(MOON + "moon_data_eval.csv"), label_column=0)
    before = model.evaluate(test.features, test.labels)["accuracy"]
    history = model.fine_tune(
        train.features, train.labels, 0.05, epochs=6, batch_size=32
    )
    after = model.evaluate(test.features, test.labels)["accuracy"]
    assert before < 0.6
    assert after > 0.95
    assert history.loss[-1] < history.loss[0] / 2


# The 0.8.0 ComputationGraph (and its MultiLayerNetwork twin), end to end.


@pytest.mark.parametrize(
    "name, kind",
    [
        ("MyComputationGraph.zip", "ComputationGraph"),
        ("MyMultiLayerNetwork.zip", "MultiLayerNetwork"),
    ],
)
def test_sawfly_pair_end_to_end(jvm, tmp_path, name, kind):
    model = PreTrainedModel.load(checkpoint("sawfly29__S_M/" + name))
    assert model.kind == kind and model.n_params == 27
    x, y = standardized_iris()
    before = model.evaluate(x, y)["accuracy"]
    model.fine_tune(x, y, 0.05, epochs=20, batch_size=16)
    after = model.evaluate(x, y)["accuracy"]
    assert after > 0.9 and after > before
    again = PreTrainedModel.load(model.save(tmp_path / name))
    assert again.kind == kind
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


# A real MNIST classifier on the real MNIST test set.


def test_mnist_091_model_on_the_mnist_test_set(jvm):
    model = PreTrainedModel.load(
        checkpoint("deeplearning4j__deeplearning4j-examples/trained_mnist_model.zip")
    )
    x, y = mnist_test_set()
    accuracy = model.evaluate(x, y, batch_size=500)["accuracy"]
    assert accuracy > 0.95
    with pytest.raises(ShapeError, match=r"rank-4 features.*got shape \(10, 28, 28\)"):
        model.predict(x[:10].reshape(10, 28, 28))


def test_cnn_input_layout_is_checked(jvm):
    model = PreTrainedModel.load(checkpoint("sjsdfg__dl4j-tutorials/LeNetModel.zip"))
    spec = model.info["inputs"][0]
    x = np.zeros((2,) + tuple(spec.get("image") or (1, 28, 28)), dtype=np.float32)
    assert model.predict(x).shape == (2, model.n_outputs)
    with pytest.raises(ShapeError, match="transpose"):
        model.predict(x.transpose(0, 2, 3, 1))


# Bad input: a named error, nothing crosses, the JVM stays usable.


@pytest.mark.parametrize(
    "relative, error",
    [
        ("braeunlich__anagnostes/empty_at_4eca7f4/model.zip", NotACheckpointError),
        ("mladenkralev__AI-Rest-Server/trained_mnist_model.zip", NotACheckpointError),
        ("KonduitAI__dl4j-test-resources/empty_zip.zip", NotACheckpointError),
    ],
)
def test_broken_files_are_named_and_the_jvm_survives(jvm, relative, error):
    with pytest.raises(error):
        PreTrainedModel.load(checkpoint(relative))
    assert PreTrainedModel.load(checkpoint(IRIS)).n_params == 39


def test_missing_file(jvm, tmp_path):
    with pytest.raises(CheckpointNotFoundError):
        PreTrainedModel.load(tmp_path / "no.zip")


@pytest.mark.parametrize(
    "features, labels, error, message",
    [
        (
            np.zeros((4, 5)),
            [0, 1, 2, 0],
            ShapeError,
            r"expects 4 features on axis 1.*\(4, 5\)",
        ),
        (np.zeros((4, 4, 1)), [0, 1, 2, 0], ShapeError, r"rank-2 features"),
        (
            np.zeros((4, 4)),
            [0, 1, 3, 0],
            LabelError,
            r"0\.\.2 \(the output layer has 3 units\); got 3",
        ),
        (np.zeros((4, 4)), [0, 1.5, 2, 0], LabelError, "whole numbers"),
        (np.zeros((4, 4)), [0, 1, 2], LabelError, r"one label per example \(4\)"),
        (np.zeros((4, 4)), np.zeros((4, 2)), LabelError, r"3 outputs.*\(4, 2\)"),
        (np.full((4, 4), np.nan), [0, 1, 2, 0], DataError, "contains nan"),
        (np.zeros((0, 4)), [], DataError, "is empty"),
    ],
)
def test_bad_training_data(jvm, features, labels, error, message):
    model = PreTrainedModel.load(checkpoint(IRIS))
    before = params(model)
    with pytest.raises(error, match=message):
        model.train(features, labels)
    np.testing.assert_array_equal(params(model), before)
    assert model.evaluate(*standardized_iris())["accuracy"] > 0.9


def test_one_hot_labels_equal_class_ids(jvm):
    x, y = standardized_iris()
    a, b = (
        PreTrainedModel.load(checkpoint(IRIS)),
        PreTrainedModel.load(checkpoint(IRIS)),
    )
    a.train(x, y, shuffle=False)
    b.train(x, np.eye(3)[y], shuffle=False)
    np.testing.assert_array_equal(params(a), params(b))


def test_divergence_restores_the_model(jvm):
    model = PreTrainedModel.load(checkpoint(IRIS))
    x, y = standardized_iris()
    before, counters = (
        params(model),
        (model.info["iteration_count"], model.info["epoch_count"]),
    )
    with pytest.raises(
        TrainingDivergedError, match=r"loss became (NaN|Infinity).*below 1e\+30"
    ):
        model.fine_tune(x * 1e6, y, 1e30, epochs=3)
    np.testing.assert_array_equal(params(model), before)
    assert (model.info["iteration_count"], model.info["epoch_count"]) == counters


def test_learning_rate_must_be_positive(jvm):
    model = PreTrainedModel.load(checkpoint(IRIS))
    for bad in (0, -1e-3, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="positive finite"):
            model.set_learning_rate(bad)
    assert model.learning_rate == 0.1


def test_save_refuses_to_overwrite_and_leaves_no_partial_file(jvm, tmp_path):
    model = PreTrainedModel.load(checkpoint(IRIS))
    target = tmp_path / "m.zip"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="already exists"):
        model.save(target)
    assert target.read_bytes() == b"keep me"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.save(tmp_path / "no" / "m.zip")
    model.save(target, overwrite=True)
    assert zipfile.is_zipfile(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.zip"]


# What a failed call leaves behind: the model exactly as it was, rates included.


def _state(model):
    return params(model), model.learning_rates, model.info["iteration_count"]


def _assert_same_state(model, state):
    before_params, rates, iterations = state
    np.testing.assert_array_equal(params(model), before_params)
    assert model.learning_rates == rates
    assert model.info["iteration_count"] == iterations


def test_divergence_in_the_last_update_is_caught_and_rates_come_back(jvm):
    # One minibatch per epoch: the only score DL4J reports is computed before the
    # update that blows up; the outputs after it are NaN while parameters stay finite.
    model = PreTrainedModel.load(
        checkpoint(MOON + "MLPMoon_Model_RANDOM_INIT_UNTRAINED.zip")
    )
    data = load_dataset(checkpoint(MOON + "moon_data_train.csv"), label_column=0)
    state = _state(model)
    with pytest.raises(TrainingDivergedError, match="after the last update of epoch 1"):
        model.fine_tune(data.features, data.labels, 1e30, epochs=1, batch_size=5000)
    _assert_same_state(model, state)
    assert np.isfinite(model.predict(data.features)).all()


@pytest.mark.parametrize("stop", [KeyError, KeyboardInterrupt])
def test_a_failing_progress_callback_leaves_the_model_untouched(jvm, stop):
    # Ctrl-C during training reaches Python in the progress callback.
    model = PreTrainedModel.load(checkpoint(IRIS))
    x, y = standardized_iris()
    state = _state(model)
    calls = []

    def stop_after_three(epoch, batch, batches, loss):
        calls.append(batch)
        if len(calls) == 3:
            raise stop("stop")

    with pytest.raises(stop, match="stop"):
        model.fine_tune(x, y, 0.05, epochs=2, progress=stop_after_three)
    assert calls == [1, 2, 3]
    _assert_same_state(model, state)
    assert model.history == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs must be a whole number from 1"),
        ({"epochs": True}, "epochs must be a whole number"),
        (
            {"batch_size": 2**31},
            "batch_size must be a whole number from 1 to 2147483647",
        ),
        ({"seed": "x"}, "seed must be a 64-bit whole number"),
        ({"shuffle": "no"}, "shuffle must be True or False"),
        ({"progress": 5}, "progress must be a callable"),
        ({"learning_rate": float("inf")}, "learning_rate must be a positive finite"),
    ],
)
def test_bad_arguments_are_refused_before_anything_changes(jvm, kwargs, message):
    from py_dl4j_ft.errors import ArgumentError

    model = PreTrainedModel.load(checkpoint(IRIS))
    x, y = standardized_iris()
    state = _state(model)
    rate = kwargs.pop("learning_rate", 1e-3)
    with pytest.raises(ArgumentError, match=message) as caught:
        model.fine_tune(x, y, rate, **kwargs)
    assert isinstance(caught.value, ValueError)
    _assert_same_state(model, state)


def test_numpy_scalars_are_good_arguments(jvm):
    model = PreTrainedModel.load(checkpoint(IRIS))
    x, y = standardized_iris()
    history = model.fine_tune(
        x, y, np.float32(0.01), epochs=np.int64(1), batch_size=np.int32(50)
    )
    assert len(history.epochs) == 1
    assert model.learning_rate == pytest.approx(0.01)


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.eye(3)[[0, 1, 2, 0]] * 7, r"must lie in \[0, 1\]; got 7"),
        (-np.eye(3)[[0, 1, 2, 0]], r"must lie in \[0, 1\]; got -1"),
        (np.full((4, 3), 0.5), "must sum to 1 for LossNegativeLogLikelihood"),
        ([0, 1, np.nan, 0], "got nan"),
        ([[0, 1], [2]], "cannot form a regular array|one label per example"),
    ],
)
def test_bad_class_labels(jvm, labels, message):
    model = PreTrainedModel.load(checkpoint(IRIS))
    with pytest.raises((LabelError, DataError), match=message):
        model.evaluate(np.zeros((4, 4)), labels)


def test_values_beyond_float32_are_named_not_called_infinite(jvm):
    model = PreTrainedModel.load(checkpoint(IRIS))
    x = np.zeros((2, 4))
    x[1, 2] = 1e39
    with pytest.raises(DataError, match=r"1e\+39 at index \(1, 2\), beyond the range"):
        model.predict(x)
    with pytest.raises(DataError, match="cannot form a regular array"):
        model.predict([[1, 2, 3, 4], [1, 2]])


def test_saved_files_get_ordinary_permissions(jvm, tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        saved = PreTrainedModel.load(checkpoint(IRIS)).save(tmp_path / "m.zip")
    finally:
        os.umask(mask)
    assert saved.stat().st_mode & 0o777 == 0o644


def test_a_checkpoint_with_nan_parameters_is_refused(jvm, tmp_path):
    source = checkpoint(LOAN + "loan_approval_model.zip")
    bad = tmp_path / "nan.zip"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "coefficients.bin":
                data = data[:-4] + np.array([np.nan], ">f4").tobytes()
            dst.writestr(item, data)
    with pytest.raises(CorruptCheckpointError, match="non-finite parameters"):
        PreTrainedModel.load(bad)


def test_predict_fills_a_reused_array(jvm):
    model = PreTrainedModel.load(checkpoint(IRIS))
    x, _ = standardized_iris()
    expected = model.predict(x[:50])
    target = np.full((50, 3), np.nan, dtype=np.float32)
    assert model.predict(x[:50], out=target) is target
    np.testing.assert_array_equal(target, expected)
    model.predict(x[50:100], out=target)  # the next batch of the same size
    np.testing.assert_array_equal(target, model.predict(x[50:100]))
    with pytest.raises(ArgumentError, match=r"shape \(50, 3\)"):
        model.predict(x[:50], out=np.empty((50, 4), np.float32))
