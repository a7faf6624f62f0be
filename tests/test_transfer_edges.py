"""Transfer learning at its edges, with real DL4J: penalties, sequence heads, frozen
graph vertices, sizes, and requests DL4J would have failed on with a raw Java error.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import checkpoint, standardized_iris

from py_dl4j_ft import PreTrainedModel, errors
from py_dl4j_ft import transfer as T

pytestmark = pytest.mark.jvm

IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
SAWFLY_GRAPH = "sawfly29__S_M/MyComputationGraph.zip"
LENET = "sjsdfg__dl4j-tutorials/LeNetModel.zip"
LSTM = "Well5a__Dl4jRNNRegressionTest/bestModel.bin"
BIRNN_GRAPH = "KonduitAI__dl4j-test-resources/SyntheticBidirectionalRNNGraph_100b6.bin"
VAE = "malfaro2__dl4j-test-resources/VaeMNISTAnomaly_100a.bin"
CG_LSTM = (
    "deeplearning4j__dl4j-test-resources/080_ModelSerializer_Regression_CG_LSTM_1.zip"
)


def load(relative):
    return PreTrainedModel.load(checkpoint(relative))


# Penalties.


@pytest.mark.parametrize("name", [IRIS, SAWFLY_GRAPH])
@pytest.mark.parametrize("n_classes", [None, 3])
def test_weight_decay_shrinks_each_weight_once_per_step(jvm, name, n_classes):
    # DL4J's WeightDecay(applyLR=true) adds lr * c * w to an SGD update. Two rebuilds
    # that differ only in the decay start from the same parameters and see the same
    # gradient, so after one step they differ by exactly lr * c * w0.
    x, y = standardized_iris()
    base = load(name)
    lr, c = 0.1, 0.1
    after, start = {}, None
    for decay in (0.0, c):
        model = T.transfer(
            base,
            n_classes=n_classes,
            fine_tune=T.FineTune(
                updater="sgd", learning_rate=lr, weight_decay=decay, seed=5
            ),
        )
        for state in T.layer_states(model):
            if state["params"]:
                decays = [r for r in state["regularization"] if "WeightDecay" in r]
                assert len(decays) == (1 if decay else 0), state
        start = T.parameters(model)
        model.train(x, y, epochs=1, batch_size=len(x), shuffle=False)
        after[decay] = T.parameters(model)
    weights = [k for k in start if k.endswith("/W")]
    assert len(weights) >= 2
    for key in weights:
        shrink = after[0.0][key] - after[c][key]
        assert np.allclose(shrink, lr * c * start[key], rtol=1e-3, atol=1e-7), key
    # Biases carry no weight decay.
    for key in (k for k in start if k.endswith("/b")):
        assert np.array_equal(after[0.0][key], after[c][key])


def test_l2_and_weight_decay_together_are_refused(jvm):
    base = load(IRIS)
    with pytest.raises(errors.ArgumentError, match=r"l2=0\.1 and weight_decay=0\.1"):
        T.transfer(base, fine_tune=T.FineTune(l2=0.1, weight_decay=0.1))
    # Removing one while setting the other is fine.
    model = T.transfer(base, fine_tune=T.FineTune(l2=0.0, weight_decay=0.1))
    assert T.layer_states(model)[0]["regularization"] == [
        "WeightDecay(coeff=FixedSchedule(value=0.1), applyLR=true)"
    ]


# A new head on a sequence model classifies every time step.


def _sequence_task(rows=24, steps=7, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 1, steps)).astype(np.float32)
    return x, (x[:, 0, :] > 0).astype(np.int64)  # [batch, time] class ids


@pytest.mark.parametrize("hidden", [(), (T.Dense(8, activation="tanh"),)])
def test_lstm_new_head_is_an_rnn_output_layer(jvm, hidden):
    x, ids = _sequence_task()
    base = load(LSTM)
    model = T.transfer(
        base,
        freeze=1,
        n_classes=2,
        remove_top=1,
        hidden=list(hidden),
        fine_tune=T.FineTune(updater="adam", learning_rate=0.05, seed=1),
    )
    assert model.info["layers"][-1]["type"] == "RnnOutputLayer"
    out = model.predict(x)
    assert out.shape == (24, 2, 7)
    assert np.allclose(out.sum(axis=1), 1, atol=1e-5)
    history = model.fine_tune(x, ids, 0.05, epochs=15, batch_size=24, shuffle=False)
    assert history.loss[-1] < 0.8 * history.loss[0]
    # One-hot labels [batch, classes, time] train the same layer.
    onehot = np.stack([1 - ids, ids], axis=1).astype(np.float32)
    again = model.fine_tune(x, onehot, 0.05, epochs=1, batch_size=24)
    assert np.isfinite(again.loss[0])
    assert again.loss[0] <= history.loss[0]


@pytest.mark.parametrize("hidden", [(), (T.Dense(5),)])
def test_graph_lstm_new_head_classifies_every_step(jvm, hidden):
    # A 0.8.0 graph: GravesLSTM -> GravesBidirectionalLSTM -> RnnOutputLayer.
    graph = load(CG_LSTM)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3, 9)).astype(np.float32)
    model = T.transfer(
        graph,
        n_classes=3,
        hidden=list(hidden),
        fine_tune=T.FineTune(updater="adam", learning_rate=0.01, seed=1),
    )
    assert model.info["layers"][-1]["type"] == "RnnOutputLayer"
    assert model.predict(x).shape == (6, 3, 9)
    history = model.fine_tune(x, rng.integers(0, 3, (6, 9)), 0.01, epochs=5)
    assert history.loss[-1] < history.loss[0]


def test_sequence_labels_with_the_wrong_number_of_steps_are_refused(jvm):
    x, _ = _sequence_task(rows=6)
    y = np.random.default_rng(1).normal(size=(6, 1, 7)).astype(np.float32)
    model = load(LSTM)
    before = T.parameters(model)
    with pytest.raises(errors.LabelError, match=r"validation labels.*\[6, 1, 7\]"):
        model.fine_tune(x, y, 0.01, validation_data=(x, y[:, :, :5]))
    with pytest.raises(errors.LabelError, match=r"training labels.*\[6, 1, 7\]"):
        model.fine_tune(x, y[:, :, :5], 0.01)
    with pytest.raises(errors.LabelError, match=r"evaluation labels.*\[6, 1, 7\]"):
        model.evaluate(x, y[:, :, :5])
    assert np.isfinite(model.evaluate(x, y)["mse"])
    after = T.parameters(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)


# Unfreezing a graph whose frozen part holds a merge vertex.


def test_two_stage_on_a_bidirectional_graph_trains_every_layer_in_stage_two(jvm):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 10, 5)).astype(np.float32)
    y = (x[:, 0, :].mean(axis=1) > 0).astype(np.int64)
    base = load(BIRNN_GRAPH)
    staged = T.transfer(
        base,
        freeze=["pooling"],
        n_classes=2,
        fine_tune=T.FineTune(updater="adam", learning_rate=0.01, seed=1),
    )
    staged.fine_tune(x, y, 0.01, epochs=1, batch_size=8)
    free = T.unfreeze(staged)
    assert free.frozen_layers == []
    before = T.parameters(free)
    history = free.fine_tune(x, y, 0.001, epochs=1, batch_size=8)
    after = T.parameters(free)
    assert np.isfinite(history.loss[0])
    assert {k.split("/")[0] for k in before} == {"rnn1", "rnn2", "new_output"}
    assert all(not np.array_equal(before[k], after[k]) for k in before)

    result = base.two_stage(x, y, n_classes=2, head_epochs=1, epochs=1, batch_size=8)
    assert np.isfinite(result.full.loss[0])


# Sizes and shapes refused before DL4J sees them.


def test_huge_sizes_are_refused_and_the_jvm_stays_usable(jvm):
    base = load(IRIS)
    x = np.zeros((1, 4), np.float32)
    expected = base.predict(x)
    with pytest.raises(errors.ArgumentError, match="n_classes must be .* 16777216"):
        T.transfer(base, n_classes=2**31)
    with pytest.raises(errors.ArgumentError, match="units must be at most 16777216"):
        T.transfer(base, n_classes=2, hidden=[T.Dense(2**31)])
    # 2**24 x 2**24 weights: far beyond any off-heap limit, refused without allocating.
    with pytest.raises(errors.ArgumentError, match="off-heap memory.*maxbytes"):
        T.transfer(base, n_classes=2**24, hidden=[T.Dense(2**24)])
    assert np.array_equal(base.predict(x), expected)


def test_remove_top_that_leaves_a_pooling_layer_names_it(jvm):
    with pytest.raises(errors.ArgumentError, match=r"'layer3' \(SubsamplingLayer\)"):
        T.transfer(load(LENET), remove_top=3, n_classes=3)


def test_a_new_head_on_a_one_layer_model_is_refused(jvm):
    with pytest.raises(errors.NothingToTrainError, match="only 1"):
        T.transfer(load(VAE), n_classes=3)


def test_numpy_sizes_big_steps_and_big_seeds(jvm):
    base = load(IRIS)
    model = T.transfer(
        base, n_classes=2, hidden=[T.Dense(np.int64(4), dropout=np.float32(0.25))]
    )
    assert model.info["layers"][-2]["n_out"] == 4
    assert "p=0.75" in T.layer_states(model)[-2]["dropout"]
    with pytest.raises(errors.ScheduleError, match="2\\*\\*31 - 1"):
        T.Schedule.map({0: 0.1, 2**40: 0.01})
    assert T.Schedule.map({0: 0.1, 2**31 - 1: 0.01}).rate_at(2**31 - 1) == 0.01
    with pytest.raises(errors.ArgumentError, match="seed must be .*2\\*\\*63"):
        T.transfer(base, fine_tune=T.FineTune(seed=2**70))
    T.FineTune(seed=-(2**63)).check()
