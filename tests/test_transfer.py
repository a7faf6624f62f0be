"""Transfer learning with real DL4J on real third-party checkpoints.

Each test checks what DL4J actually did: parameters read back bit for bit, the update
divided by DL4J's own gradient, training-mode outputs, the optimizer state.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import checkpoint, standardized_iris

import py_dl4j_ft as ft
from py_dl4j_ft import PreTrainedModel, errors
from py_dl4j_ft import transfer as T

pytestmark = pytest.mark.jvm

IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
SAWFLY_MLN = "sawfly29__S_M/MyMultiLayerNetwork.zip"
SAWFLY_GRAPH = "sawfly29__S_M/MyComputationGraph.zip"
LENET = "sjsdfg__dl4j-tutorials/LeNetModel.zip"


@pytest.fixture(scope="module")
def iris_data():
    return standardized_iris()


def load(jvm, relative):
    return PreTrainedModel.load(checkpoint(relative))


def changed(before: dict, after: dict) -> dict[str, bool]:
    return {k: not np.array_equal(before[k], after[k]) for k in before}


# Freezing and a new head.


def test_iris_new_head_for_a_new_label_set_keeps_frozen_layers_bit_identical(
    jvm, iris_data
):
    x, y = iris_data
    virginica = (y == 2).astype(np.int64)  # a two-class task the model never saw
    base = load(jvm, IRIS)
    base_params = T.parameters(base)
    base_out = base.predict(x)

    new = T.transfer(
        base,
        freeze=2,
        n_classes=2,
        fine_tune=T.FineTune(updater="adam", learning_rate=0.05, seed=3),
    )
    assert new.frozen_layers == ["layer0", "layer1"]
    assert new.n_outputs == 2
    before = T.parameters(new)
    history = new.fine_tune(x, virginica, 0.05, epochs=20, batch_size=30, seed=1)
    after = T.parameters(new)

    assert changed(before, after) == {
        "layer0/W": False,
        "layer0/b": False,
        "layer1/W": False,
        "layer1/b": False,
        "new_output/W": True,
        "new_output/b": True,
    }
    for key in ("layer0/W", "layer0/b", "layer1/W", "layer1/b"):
        assert np.array_equal(after[key], base_params[key])
    assert history.loss[-1] < history.loss[0]
    assert new.evaluate(x, virginica)["accuracy"] >= 0.9
    # The model it came from still predicts exactly as before.
    assert np.array_equal(base.predict(x), base_out)


def test_a_rebuild_that_changes_nothing_leaves_outputs_score_and_params(jvm, iris_data):
    x, y = iris_data
    for name in (IRIS, SAWFLY_GRAPH):
        base = load(jvm, name)
        same = T.transfer(base)
        assert np.array_equal(T.flat_parameters(same), T.flat_parameters(base))
        assert np.array_equal(same.predict(x), base.predict(x))
        labels = y if name == IRIS else y % 3
        assert same.evaluate(x, labels)["loss"] == base.evaluate(x, labels)["loss"]
        assert T.layer_states(same) == T.layer_states(base)
        assert same.counters == base.counters


def test_a_rebuild_keeps_the_optimizer_state_dl4j_would_zero(jvm, iris_data):
    x, y = iris_data
    trained = T.transfer(
        load(jvm, IRIS), fine_tune=T.FineTune(updater="adam", learning_rate=0.01)
    )
    trained.train(x, y, epochs=2, batch_size=50)
    state = T.updater_state(trained)
    assert sum(np.abs(v).sum() for v in state.values()) > 0
    rebuilt = T.transfer(trained)
    assert T.updater_state(rebuilt).keys() == state.keys()
    for key, value in T.updater_state(rebuilt).items():
        assert np.array_equal(value, state[key]), key


def test_a_rate_without_an_updater_goes_to_the_trainable_layers(jvm):
    model = T.transfer(load(jvm, IRIS), freeze=1, fine_tune={"learning_rate": 0.05})
    assert model.learning_rates_at() == {"layer0": None, "layer1": 0.05, "layer2": 0.05}
    assert [s["updater"] for s in T.layer_states(model)[1:]] == ["Sgd", "Sgd"]

    step = T.Schedule.step(0.1, 0.5, 10)
    scheduled = T.transfer(
        load(jvm, IRIS), freeze=1, fine_tune={"schedule": step}, reset_counters=True
    )
    assert scheduled.learning_rates_at(iteration=25) == {
        "layer0": None,
        "layer1": 0.025,
        "layer2": 0.025,
    }


def test_one_layers_schedule_counts_from_the_checkpoints_own_counter(jvm):
    model = load(jvm, IRIS)  # trained for 1000 iterations by DL4J 0.9.1
    model.set_layer_learning_rate("layer2", T.Schedule.exponential(0.2, 0.5))
    assert model.learning_rates_at(iteration=2) == {
        "layer0": 0.1,
        "layer1": 0.1,
        "layer2": 0.05,
    }
    assert model.learning_rates_at()["layer2"] == pytest.approx(0.2 * 0.5**1000)


def test_fine_tune_l2_reaches_the_trainable_layers_only(jvm, iris_data):
    x, y = iris_data
    base = load(jvm, IRIS)
    trained = {}
    for l2 in (0.0, 0.5):
        new = T.transfer(
            base,
            freeze=2,
            fine_tune=T.FineTune(
                updater="sgd", learning_rate=0.1, l2=l2, weight_decay=0.0
            ),
        )
        states = T.layer_states(new)
        assert [s["regularization"] for s in states[:2]] == [[], []]
        assert bool(states[2]["regularization"]) == (l2 > 0)
        before = T.parameters(new)
        new.train(x, y, epochs=10, batch_size=50, shuffle=False)
        after = T.parameters(new)
        assert not any(changed(before, after)[k] for k in list(before)[:4])
        trained[l2] = after["layer2/W"]
    # The penalty did act on the output layer: it pulled its weights in.
    assert np.linalg.norm(trained[0.5]) < 0.9 * np.linalg.norm(trained[0.0])


def test_dropout_zero_in_fine_tune_settings_really_clears_dropout(jvm, iris_data):
    x, _ = iris_data
    base = load(jvm, IRIS)
    with_dropout = T.transfer(base, fine_tune=T.FineTune(dropout=0.5))
    assert "p=0.5" in T.layer_states(with_dropout)[1]["dropout"]
    a = T.train_mode_output(with_dropout, x)
    b = T.train_mode_output(with_dropout, x)
    assert np.abs(a - b).max() > 0.1  # dropout is on: two passes differ

    cleared = T.transfer(with_dropout, fine_tune=T.FineTune(dropout=0.0))
    assert [s["dropout"] for s in T.layer_states(cleared)] == [None, None, None]
    a = T.train_mode_output(cleared, x)
    b = T.train_mode_output(cleared, x)
    assert np.array_equal(a, b)
    assert np.array_equal(a, base.predict(x))


# Learning rates.


@pytest.mark.parametrize("updater", ["sgd", "adam"])
def test_changing_one_layers_rate_after_training(jvm, iris_data, updater):
    x, y = iris_data
    # The checkpoint's own weight decay (applyLR=false) shrinks weights even at rate
    # 0, so it is cleared here: with it, layer1/W would still move.
    model = T.transfer(
        load(jvm, IRIS),
        fine_tune=T.FineTune(updater=updater, learning_rate=0.01, weight_decay=0.0),
    )
    model.train(x, y, epochs=5, batch_size=30, seed=1)
    model.set_layer_learning_rate("layer1", 0.0)
    model.set_layer_learning_rate(0, 0.03)
    # Each layer has its own rate (FineTuneConfiguration shares one updater object).
    assert model.learning_rates_at() == {"layer0": 0.03, "layer1": 0.0, "layer2": 0.01}

    before = T.parameters(model)
    history = model.train(x, y, epochs=5, batch_size=30, seed=2)
    after = T.parameters(model)
    assert np.isfinite(model.predict(x)).all()
    assert history.loss[-1] < history.loss[0]
    for key in ("layer0/W", "layer2/W"):
        assert np.abs(after[key] - before[key]).max() > 5e-4, key
    for key in ("layer1/W", "layer1/b"):
        if updater == "sgd":
            assert np.array_equal(after[key], before[key])
        else:
            # ND4J's Adam at rate 0 still nudges values by about a rounding step per
            # iteration (14 float32 steps over these 25 iterations in our run).
            assert np.abs(after[key] - before[key]).max() < 1e-5


def test_nesterovs_momentum_keeps_a_layer_moving_at_rate_zero(jvm, iris_data):
    x, y = iris_data
    model = T.transfer(
        load(jvm, IRIS),
        fine_tune=T.FineTune(updater="nesterovs", learning_rate=0.01, weight_decay=0),
    )
    model.train(x, y, epochs=2, batch_size=30, seed=1)
    model.set_layer_learning_rate("layer1", 0.0)
    before = T.parameters(model)
    model.train(x, y, epochs=1, batch_size=30, seed=2)
    # The velocity built up before still applies (decaying by the momentum, 0.9).
    assert np.abs(T.parameters(model)["layer1/W"] - before["layer1/W"]).max() > 1e-4


@pytest.mark.parametrize(
    "schedule",
    [
        T.Schedule.step(0.1, 0.5, 2),
        T.Schedule.exponential(0.2, 0.7),
        T.Schedule.warmup(0.1, 4),
    ],
    ids=["step", "exponential", "warmup"],
)
def test_sgd_update_over_gradient_is_the_scheduled_rate(jvm, iris_data, schedule):
    x, y = iris_data
    model = T.transfer(
        load(jvm, IRIS),
        fine_tune=T.FineTune(updater="sgd", schedule=schedule, weight_decay=0.0),
        reset_counters=True,
    )
    batch = len(x)
    for step in range(6):
        assert model.counters["iteration"] == step
        expected = schedule.rate_at(step)
        assert model.learning_rates_at() == {f"layer{i}": expected for i in range(3)}
        grad = T.gradient(model, x, y)
        before = T.flat_parameters(model)
        model.train(x, y, epochs=1, batch_size=batch, shuffle=False)
        delta = before - T.flat_parameters(model)
        if expected == 0:
            assert not delta.any()
            continue
        # DL4J divides the summed gradient by the minibatch size before the rate.
        step_rate = float(delta @ grad) / float(grad @ grad) * batch
        assert step_rate == pytest.approx(expected, rel=1e-4)
        # And element by element, up to float32 rounding of the parameters.
        np.testing.assert_allclose(
            delta, expected * grad / batch, rtol=1e-3, atol=2 * np.spacing(before).max()
        )


def test_counters_are_readable_and_resettable(jvm):
    model = load(jvm, IRIS)
    assert model.counters == {"iteration": 1000, "epoch": 0}
    model.reset_counters()
    assert model.counters == {"iteration": 0, "epoch": 0}
    model.reset_counters(iteration=7, epoch=2)
    assert model.info["iteration_count"] == 7
    assert model.info["epoch_count"] == 2


# Unfreezing for the second stage.


def test_unfreeze_keeps_parameters_and_the_heads_adam_state(jvm, iris_data):
    x, y = iris_data
    staged = T.transfer(
        load(jvm, IRIS),
        freeze=2,
        n_classes=2,
        fine_tune=T.FineTune(updater="adam", learning_rate=0.05),
    )
    staged.fine_tune(x, y == 0, 0.05, epochs=3, batch_size=50)
    state = T.updater_state(staged)
    assert sorted({k.split("/")[0] for k in state}) == ["new_output"]

    free = staged.unfreeze()
    assert free.frozen_layers == []
    assert np.array_equal(T.flat_parameters(free), T.flat_parameters(staged))
    assert np.array_equal(free.predict(x), staged.predict(x))
    assert free.counters == staged.counters
    state_after = T.updater_state(free)
    for key, value in state.items():
        assert np.array_equal(state_after[key], value), key
    for key, value in state_after.items():
        if key.startswith(("layer0/", "layer1/")):
            assert not value.any()  # they had no state while frozen
    before = T.parameters(free)
    free.fine_tune(x, y == 0, 0.005, epochs=2, batch_size=50)
    assert all(changed(before, T.parameters(free)).values())


# A ComputationGraph: the same freezes by name.


def test_graph_freeze_by_name_new_head_and_unfreeze(jvm, iris_data):
    x, y = iris_data
    virginica = (y == 2).astype(np.int64)
    graph = load(jvm, SAWFLY_GRAPH)
    new = T.transfer(
        graph,
        freeze=["layer0"],
        n_classes=2,
        hidden=[T.Dense(6, activation="tanh", weight_init="xavier")],
        fine_tune=T.FineTune(updater="adam", learning_rate=0.05, seed=2),
    )
    assert new.kind == "ComputationGraph"
    assert new.frozen_layers == ["layer0"]
    before = T.parameters(new)
    assert np.array_equal(before["layer0/W"], T.parameters(graph)["layer0/W"])
    new.fine_tune(x, virginica, 0.05, epochs=20, batch_size=30)
    moved = changed(before, T.parameters(new))
    assert moved == {
        "layer0/W": False,
        "layer0/b": False,
        "new_dense0/W": True,
        "new_dense0/b": True,
        "new_output/W": True,
        "new_output/b": True,
    }
    # Layer 0 of this untrained 0.8.0 graph is random; the majority class is 2/3.
    assert new.evaluate(x, virginica)["accuracy"] >= 0.8

    free = new.unfreeze()
    assert np.array_equal(free.predict(x), new.predict(x))
    before = T.parameters(free)
    free.fine_tune(x, virginica, 0.01, epochs=2, batch_size=30)
    assert all(changed(before, T.parameters(free)).values())


@pytest.mark.parametrize("name", [SAWFLY_MLN, SAWFLY_GRAPH])
def test_sawfly_pair_freeze_first_layer_then_train(jvm, iris_data, name):
    x, y = iris_data
    model = load(jvm, name)  # 0.8.0 files, the graph through the patched copy
    frozen = T.transfer(
        model, freeze=1, fine_tune={"updater": "sgd", "learning_rate": 0.1}
    )
    assert frozen.frozen_layers == ["layer0"]
    before = T.parameters(frozen)
    history = frozen.train(x, y, epochs=10, batch_size=50)
    assert changed(before, T.parameters(frozen)) == {
        "layer0/W": False,
        "layer0/b": False,
        "layer1/W": True,
        "layer1/b": True,
    }
    assert history.loss[-1] < history.loss[0]


# A real CNN: LeNet trained on MNIST, frozen up to its dense layer, new head on digits.


def digits_as_mnist():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    # 8x8 pixels in 0..16 -> 24x24 by repeating each pixel 3x3, padded to 28x28.
    images = np.kron(x.reshape(-1, 8, 8) / 16.0, np.ones((3, 3)))
    images = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.float32)
    return images.reshape(-1, 1, 28, 28), y


def test_lenet_frozen_to_its_dense_layer_with_a_new_head_on_sklearn_digits(jvm):
    from sklearn.model_selection import train_test_split

    x, y = digits_as_mnist()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, train_size=300, test_size=500, random_state=0, stratify=y
    )
    lenet = load(jvm, LENET)
    assert [s["type"] for s in T.layer_states(lenet)][4:] == [
        "DenseLayer",
        "OutputLayer",
    ]
    new = T.transfer(
        lenet,
        freeze=5,
        n_classes=10,
        fine_tune=T.FineTune(updater="adam", learning_rate=1e-3, seed=1),
    )
    assert new.frozen_layers == [f"layer{i}" for i in range(5)]
    before = T.parameters(new)
    new.fine_tune(x_train, y_train, 1e-3, epochs=5, batch_size=32)
    moved = changed(before, T.parameters(new))
    assert {k for k, v in moved.items() if v} == {"new_output/W", "new_output/b"}
    assert new.evaluate(x_test, y_test)["accuracy"] >= 0.9


# Two stages in one call.


def test_two_stage_trains_the_head_then_everything(jvm, iris_data):
    x, y = iris_data
    base = load(jvm, IRIS)
    result = base.two_stage(
        x,
        (y == 2).astype(np.int64),
        n_classes=2,
        head_epochs=10,
        head_learning_rate=0.05,
        epochs=5,
        learning_rate=0.005,
        batch_size=30,  # passed through to fine_tune
        shuffle=False,
    )
    assert len(result.head.epochs) == 10
    assert len(result.full.epochs) == 5
    assert result.frozen == ("layer0", "layer1")  # what stage 1 froze
    assert result.model.frozen_layers == []
    assert result.model.learning_rate == pytest.approx(0.005)
    base_params, final = T.parameters(base), T.parameters(result.model)
    for key in ("layer0/W", "layer1/W"):
        assert not np.array_equal(base_params[key], final[key])
    assert result.model.evaluate(x, y == 2)["accuracy"] >= 0.9


# Bad requests: a named error, and the model is still usable.


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"freeze": 4}, errors.ArgumentError, "has 3 layers"),
        ({"freeze": -1}, errors.ArgumentError, "freeze from 0 (nothing) to 2"),
        ({"freeze": ["dense9"]}, errors.LayerNotFoundError, "no such layer"),
        ({"freeze": 3}, errors.NothingToTrainError, "output layer"),
        ({"freeze": ["layer2"]}, errors.NothingToTrainError, "output layer"),
        ({"n_classes": 1}, errors.ArgumentError, "from 2 to 16777216"),
        ({"n_classes": 3, "remove_top": 3}, errors.ArgumentError, "remove_top"),
        ({"remove_top": 1}, errors.ArgumentError, "needs n_classes"),
        (
            {"n_classes": 3, "remove_top": 2, "freeze": 2},
            errors.NothingToTrainError,
            "removes them",
        ),
        ({"n_classes": 3, "head_loss": "hinge2"}, errors.ArgumentError, "head_loss"),
        ({"fine_tune": {"updater": "adamw"}}, errors.ArgumentError, "adamw"),
        ({"fine_tune": {"updater": "adam"}}, errors.ArgumentError, "learning_rate"),
        ({"fine_tune": {"learning_rate": -1}}, errors.ArgumentError, "positive"),
        ({"fine_tune": {"l2": -0.1}}, errors.ArgumentError, "l2"),
        ({"fine_tune": {"dropout": 1.0}}, errors.ArgumentError, "dropping"),
        ({"fine_tune": {"lr": 0.1}}, errors.ArgumentError, "take"),
        (
            {"fine_tune": {"activation": "relu"}},
            errors.PretrainedLayerChangeError,
            "['layer0', 'layer1', 'layer2']",
        ),
        (
            {"fine_tune": {"weight_init": "relu"}},
            errors.PretrainedLayerChangeError,
            "allow_pretrained_changes",
        ),
    ],
)
def test_bad_transfer_requests_are_named_errors(jvm, iris_data, options, error, words):
    model = load(jvm, IRIS)
    out = model.predict(iris_data[0])
    with pytest.raises(error, match=None) as info:
        T.transfer(model, **options)
    assert words in str(info.value)
    assert info.value.exit_code == 2
    assert np.array_equal(model.predict(iris_data[0]), out)


def test_pretrained_changes_go_through_with_consent(jvm, iris_data):
    model = load(jvm, IRIS)
    changed_model = T.transfer(
        model,
        n_classes=3,
        fine_tune={"activation": "relu"},
        allow_pretrained_changes=True,
    )
    # The new head keeps its own activation; only the kept layers change.
    assert [s["activation"] for s in T.layer_states(changed_model)] == [
        "relu",
        "relu",
        "softmax",
    ]
    with pytest.raises(errors.ArgumentError, match="output layer 'layer2'"):
        T.transfer(
            model, fine_tune={"activation": "relu"}, allow_pretrained_changes=True
        )


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: T.Schedule.step(0.1, 1.5, 2), "decay"),
        (lambda: T.Schedule.step(-0.1, 0.5, 2), "initial"),
        (lambda: T.Schedule.step(0.1, 0.5, 0), "every"),
        (lambda: T.Schedule.exponential(0.1, 0.0), "gamma"),
        (lambda: T.Schedule.warmup(0.1, 0), "steps"),
        (lambda: T.Schedule.warmup(0.1, 5, start=0.2), "start"),
        (lambda: T.Schedule.map({5: 0.1}), "step 0"),
        (lambda: T.Schedule.map({0: float("nan")}), "finite"),
        (lambda: T.Schedule.step(0.1, 0.5, 2, unit="batch"), "unit"),
    ],
)
def test_schedule_nonsense_is_refused(make, words):
    with pytest.raises(errors.ScheduleError) as info:
        make()
    assert words in str(info.value)


def test_bad_layer_rate_requests(jvm):
    model = T.transfer(load(jvm, IRIS), freeze=1)
    with pytest.raises(errors.LayerNotFoundError, match="no layer 'dense'"):
        model.set_layer_learning_rate("dense", 0.1)
    with pytest.raises(errors.ArgumentError, match="frozen"):
        model.set_layer_learning_rate("layer0", 0.1)
    with pytest.raises(errors.ArgumentError, match="0 or more"):
        model.set_layer_learning_rate("layer1", -0.1)
    with pytest.raises(errors.ArgumentError, match="iteration"):
        model.learning_rates_at(iteration=-1)
    assert model.learning_rates_at() == {"layer0": None, "layer1": 0.1, "layer2": 0.1}


def test_a_frozen_model_saved_and_reloaded_stays_frozen(jvm, iris_data, tmp_path):
    x, y = iris_data
    new = T.transfer(load(jvm, IRIS), freeze=2, n_classes=2)
    new.fine_tune(x, y == 2, 0.05, epochs=3, batch_size=50)
    reloaded = PreTrainedModel.load(new.save(tmp_path / "frozen.zip"))
    assert reloaded.frozen_layers == ["layer0", "layer1"]
    assert np.array_equal(reloaded.predict(x), new.predict(x))
    before = T.parameters(reloaded)
    reloaded.fine_tune(x, y == 2, 0.05, epochs=2, batch_size=50)
    moved = changed(before, T.parameters(reloaded))
    assert [k for k, v in moved.items() if v] == ["new_output/W", "new_output/b"]


def test_info_reads_a_frozen_zip_without_java(jvm, iris_data, tmp_path):
    x, y = iris_data
    new = T.transfer(load(jvm, IRIS), freeze=2, n_classes=2)
    path = new.save(tmp_path / "frozen.zip")
    summary = ft.inspect_checkpoint(path).to_dict()
    layers = {layer["name"]: layer for layer in summary["layers"]}
    assert layers["layer0"]["type"] == "FrozenLayer(DenseLayer)"
    # The wrapper shows the wrapped layer's activation and size.
    assert (layers["layer0"]["activation"], layers["layer0"]["n_out"]) == ("TanH", 3)
    assert (layers["new_output"]["n_out"], layers["new_output"]["loss"]) == (
        2,
        "MCXENT",
    )
    assert summary["num_params"] == new.n_params == 35


def test_frozen_layers_show_no_rate(jvm):
    new = T.transfer(load(jvm, IRIS), freeze=2, n_classes=2)
    assert new.learning_rates == {"new_output": pytest.approx(new.learning_rate)}
    lines = {line.split()[0]: line for line in new.summary().splitlines()[2:-1]}
    assert "frozen" in lines["layer0"] and "frozen" in lines["layer1"]
    assert "frozen" not in lines["new_output"]
    assert [layer["frozen"] for layer in new.info["layers"]] == [True, True, False]


def test_two_stage_with_early_stopping_keeps_each_stages_best(jvm, iris_data):
    x, y = iris_data
    rng = np.random.default_rng(5)
    held = rng.permutation(len(x))[:45]
    train = np.setdiff1d(np.arange(len(x)), held)
    labels = (y == 2).astype(np.int64)
    result = load(jvm, IRIS).two_stage(
        x[train],
        labels[train],
        n_classes=2,
        head_epochs=8,
        head_learning_rate=0.5,
        epochs=8,
        learning_rate=0.5,
        updater="sgd",
        batch_size=20,
        validation_data=(x[held], labels[held]),
        early_stopping="loss",
        patience=2,
    )
    assert result.head.monitor == result.full.monitor == "loss"
    assert result.head.best_epoch is not None and result.full.best_epoch is not None
    # The model holds stage 2's best epoch, whose recorded metrics it reproduces.
    assert result.model.evaluate(x[held], labels[held]) == result.full.best.validation
    best = min(result.full.validation_metric("loss"))
    assert result.full.best.validation["loss"] == best
    combined = result.history
    assert combined.epochs == result.head.epochs + result.full.epochs
    assert combined.best_epoch == result.full.best_epoch


def test_ctrl_c_in_stage_two_hands_over_the_new_model(jvm, iris_data):
    import os
    import signal

    x, y = iris_data
    labels = (y == 2).astype(np.int64)
    seen = {}

    def progress(epoch, batch, batches, loss):
        seen.setdefault("calls", 0)
        seen["calls"] += 1
        if seen["calls"] == 5 * 5 + 3:  # stage 2 (5 head epochs of 5 batches)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(errors.TrainingInterruptedError, match="stage 2 of 2") as info:
        load(jvm, IRIS).two_stage(
            x,
            labels,
            n_classes=2,
            head_epochs=5,
            epochs=50,
            batch_size=30,
            progress=progress,
        )
    kept = info.value.model
    assert kept is not None and kept.frozen_layers == []
    assert kept.n_outputs == 2
    assert np.all(np.isfinite(kept.predict(x)))
    assert info.value.exit_code == 130


@pytest.mark.parametrize("seed", [7, 0])  # ND4J takes seed 0 as "random"; not here
def test_a_seeded_new_head_starts_the_same_whatever_ran_before(jvm, seed):
    from py_dl4j_ft import _jvm

    base = load(jvm, IRIS)
    nd4j = _jvm.jclass("org.nd4j.linalg.factory.Nd4j")
    heads = []
    for noise in (1, 2):
        # Other work moved the global generator.
        nd4j.getRandom().setSeed(_jvm.jclass("java.lang.Long")(noise))
        nd4j.getRandom().nextDouble()
        new = T.transfer(base, freeze=2, n_classes=2, fine_tune=T.FineTune(seed=seed))
        heads.append(T.parameters(new)["new_output/W"])
    assert np.array_equal(heads[0], heads[1])
    other = T.transfer(base, freeze=2, n_classes=2, fine_tune=T.FineTune(seed=8))
    assert not np.array_equal(heads[0], T.parameters(other)["new_output/W"])


def test_freeze_zero_freezes_nothing(jvm):
    new = T.transfer(load(jvm, IRIS), freeze=0, n_classes=2)
    assert new.frozen_layers == []
    assert new.learning_rates.keys() == {"layer0", "layer1", "new_output"}
