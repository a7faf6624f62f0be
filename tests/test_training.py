"""Validation per epoch, early stopping, Ctrl-C during fit and the loss curve."""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
import pytest
from conftest import checkpoint, standardized_iris

from py_dl4j_ft import PreTrainedModel, training
from py_dl4j_ft.errors import (
    ArgumentError,
    LabelError,
    OptionalDependencyError,
    OutputPathError,
    ShapeError,
    TrainingInterruptedError,
)

pytestmark = pytest.mark.jvm

IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"

# At this rate the iris model's validation loss jumps around from epoch to epoch, so the
# best epoch is neither the first nor the last (measured: best 3 of 7 with split 0.3).
UNSTABLE_RATE = 0.5


def params(model) -> np.ndarray:
    from py_dl4j_ft import _arrays

    return _arrays.from_java(model.java_model.params())


def _snapshots_at_epoch_ends(model, store):
    """A progress callback that keeps the parameters after each epoch's last batch."""

    def progress(epoch, batch, batches, loss):
        if batch == batches:
            store[epoch] = params(model)

    return progress


def test_early_stopping_keeps_the_epoch_with_the_lowest_validation_loss(jvm):
    x, y = standardized_iris()
    model = PreTrainedModel.load(checkpoint(IRIS))
    snapshots = {}
    history = model.fine_tune(
        x,
        y,
        UNSTABLE_RATE,
        epochs=12,
        batch_size=16,
        validation_split=0.3,
        early_stopping="loss",
        patience=4,
        progress=_snapshots_at_epoch_ends(model, snapshots),
    )
    losses = history.validation_metric("loss")
    best = int(np.argmin(losses))
    assert history.stopped == "early_stopping"
    assert len(losses) == best + 1 + 4  # four epochs without improvement, then stop
    assert history.best_epoch == history.epochs[best].epoch
    assert 0 < best < len(losses) - 1, losses  # a restore was really needed
    assert history.monitor == "loss"

    # The network is the best epoch's: same parameters, same validation loss, and DL4J's
    # epoch counter back at that epoch.
    np.testing.assert_array_equal(params(model), snapshots[best])
    _, _, vx, vy = training.split(x, y, 0.3, 0)
    assert model.evaluate(vx, vy)["loss"] == losses[best]
    assert model.info["epoch_count"] == history.best_epoch
    assert model.history[-1].epoch == history.epochs[-1].epoch


def test_early_stopping_on_accuracy_keeps_the_first_best_and_respects_min_delta(jvm):
    x, y = standardized_iris()
    model = PreTrainedModel.load(checkpoint(IRIS))
    history = model.fine_tune(
        x,
        y,
        UNSTABLE_RATE,
        epochs=12,
        batch_size=16,
        validation_split=0.3,
        early_stopping="accuracy",
        patience=3,
    )
    accuracy = history.validation_metric("accuracy")
    best = int(np.argmax(accuracy))  # first of equal maxima: a tie is no improvement
    assert history.best_epoch == history.epochs[best].epoch
    _, _, vx, vy = training.split(x, y, 0.3, 0)
    assert model.evaluate(vx, vy)["accuracy"] == accuracy[best]

    # A min_delta no loss change can beat: the first epoch stays best, and training
    # stops after `patience` more.
    model = PreTrainedModel.load(checkpoint(IRIS))
    history = model.fine_tune(
        x,
        y,
        UNSTABLE_RATE,
        epochs=12,
        batch_size=16,
        validation_split=0.3,
        early_stopping="loss",
        patience=2,
        min_delta=100.0,
    )
    assert len(history.epochs) == 3
    assert history.best_epoch == history.epochs[0].epoch


def test_validation_data_is_scored_with_dl4j_after_every_epoch(jvm):
    x, y = standardized_iris()
    rng = np.random.default_rng(1)
    held = rng.permutation(len(x))[:40]
    model = PreTrainedModel.load(checkpoint(IRIS))
    history = model.fine_tune(
        x, y, 0.05, epochs=3, batch_size=16, validation_data=(x[held], y[held])
    )
    assert history.best_epoch is None and history.stopped == "completed"
    assert [e.validation["examples"] for e in history.epochs] == [40, 40, 40]
    assert all(e.complete for e in history.epochs)
    # Without early stopping the model is the last epoch's, so evaluating it now gives
    # exactly what was recorded after that epoch.
    assert history.epochs[-1].validation == model.evaluate(x[held], y[held])
    assert history.validation_metric("accuracy")[-1] > 0.9


def _interrupt_at(model, epoch, batch, snapshots, at_interrupt):
    """A callback that sends this process SIGINT after the given minibatch."""

    def progress(e, b, batches, loss):
        if b == batches:
            snapshots[e] = params(model)
        if (e, b) == (epoch, batch):
            at_interrupt.append(params(model))
            os.kill(os.getpid(), signal.SIGINT)

    return progress


@pytest.mark.parametrize("early_stopping", ["loss", None])
def test_ctrl_c_stops_at_the_next_batch_and_keeps_the_best_model(
    jvm, monkeypatch, early_stopping
):
    monkeypatch.setattr(training, "CHECK_INTERVAL", 0.0)  # poll after every batch
    x, y = standardized_iris()
    model = PreTrainedModel.load(checkpoint(IRIS))
    snapshots, at_interrupt, batches_seen = {}, [], []
    callback = _interrupt_at(model, 3, 2, snapshots, at_interrupt)

    def progress(e, b, n, loss):
        batches_seen.append((e, b))
        callback(e, b, n, loss)

    handler_before = signal.getsignal(signal.SIGINT)
    with pytest.raises(
        TrainingInterruptedError, match="during epoch 4 of 20"
    ) as caught:
        model.fine_tune(
            x,
            y,
            UNSTABLE_RATE,
            epochs=20,
            batch_size=16,
            validation_split=0.3,
            early_stopping=early_stopping,
            patience=20,
            progress=progress,
        )
    assert isinstance(caught.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGINT) is handler_before
    assert batches_seen[-1] == (3, 2)  # no minibatch after the one Ctrl-C came in
    history = caught.value.history
    assert history.stopped == "interrupted"
    assert [e.complete for e in history.epochs] == [True, True, True, False]

    if early_stopping is None:
        # The training done so far is kept, up to the interrupted minibatch.
        np.testing.assert_array_equal(params(model), at_interrupt[0])
        assert "keeps the training done" in str(caught.value)
        # DL4J counts the cut-short epoch too.
        assert model.info["epoch_count"] == history.epochs[-1].epoch
    else:
        losses = history.validation_metric("loss")[:3]
        best = int(np.argmin(losses))
        assert history.best_epoch == history.epochs[best].epoch
        np.testing.assert_array_equal(params(model), snapshots[best])
        assert f"best epoch so far (epoch {history.best_epoch}" in str(caught.value)
    # The JVM and the model still work.
    assert model.evaluate(x, y)["accuracy"] > 0.5


def test_ctrl_c_before_the_first_epoch_ends_gives_back_the_starting_model(
    jvm, monkeypatch
):
    monkeypatch.setattr(training, "CHECK_INTERVAL", 0.0)
    x, y = standardized_iris()
    model = PreTrainedModel.load(checkpoint(IRIS))
    start = params(model)
    with pytest.raises(TrainingInterruptedError, match="no epoch had finished"):
        model.fine_tune(
            x,
            y,
            UNSTABLE_RATE,
            epochs=5,
            batch_size=16,
            validation_split=0.3,
            early_stopping="loss",
            progress=_interrupt_at(model, 0, 1, {}, []),
        )
    np.testing.assert_array_equal(params(model), start)


def test_a_second_ctrl_c_aborts_and_puts_the_model_back(jvm, monkeypatch):
    monkeypatch.setattr(training, "CHECK_INTERVAL", 60.0)  # the first one waits
    x, y = standardized_iris()
    model = PreTrainedModel.load(checkpoint(IRIS))
    start = params(model)

    def twice(epoch, batch, batches, loss):
        if (epoch, batch) == (1, 3):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt) as caught:
        model.fine_tune(x, y, 0.05, epochs=5, batch_size=16, progress=twice)
    assert not isinstance(caught.value, TrainingInterruptedError)
    np.testing.assert_array_equal(params(model), start)
    assert model.history == []
    assert model.learning_rate == pytest.approx(0.1)  # the checkpoint's own, back


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"validation_split": 0.0}, ArgumentError, "strictly between 0 and 1"),
        ({"validation_split": 1.0}, ArgumentError, "strictly between 0 and 1"),
        ({"validation_split": True}, ArgumentError, "strictly between 0 and 1"),
        ({"validation_split": 0.001}, ShapeError, "leaves 0 for validation"),
        (
            {"validation_split": 0.2, "validation_data": ([[0] * 4], [0])},
            ArgumentError,
            "pass one of them",
        ),
        ({"validation_data": ([[0] * 4],)}, ArgumentError, "must be a pair"),
        (
            {"validation_data": (np.zeros((5, 3)), np.zeros(5))},
            ShapeError,
            r"validation data: the model expects 4 features .* got shape \(5, 3\)",
        ),
        (
            {"validation_data": (np.zeros((5, 4)), np.zeros(4))},
            LabelError,
            "validation data: expected one label per example",
        ),
        (
            {"validation_split": 0.2, "early_stopping": "r2"},
            ArgumentError,
            "one of loss, accuracy, precision, recall, f1; got 'r2'",
        ),
        ({"early_stopping": "loss"}, ArgumentError, "needs validation data"),
        (
            {"validation_split": 0.2, "early_stopping": "loss", "patience": 0},
            ArgumentError,
            "patience must be a whole number of epochs, 1 or more; got 0",
        ),
        ({"min_delta": -0.1}, ArgumentError, "min_delta must be a finite number"),
    ],
)
def test_bad_validation_options_are_refused_before_training(
    jvm, kwargs, error, message
):
    x, y = standardized_iris()
    model = PreTrainedModel.load(checkpoint(IRIS))
    start = params(model)
    with pytest.raises(error, match=message):
        model.fine_tune(x, y, 0.1, epochs=2, **kwargs)
    np.testing.assert_array_equal(params(model), start)
    assert model.history == []


def test_loss_curve_png(jvm, tmp_path):
    pytest.importorskip("matplotlib")
    x, y = standardized_iris()
    model = PreTrainedModel.load(checkpoint(IRIS))
    history = model.fine_tune(
        x, y, 0.1, epochs=3, validation_split=0.2, early_stopping="loss"
    )
    png = history.plot(tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(OutputPathError, match="does not exist; create it first"):
        history.plot(tmp_path / "missing" / "loss.png")
    with pytest.raises(ArgumentError, match="give a .png path"):
        history.plot(tmp_path / "loss.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png"]


def test_loss_curve_without_matplotlib_names_the_extra(jvm, tmp_path, monkeypatch):
    from py_dl4j_ft.model import EpochRecord, History

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if absent
    history = History((EpochRecord(1, 0.5, 0.1, 0.01),))
    with pytest.raises(OptionalDependencyError, match=r"py_dl4j_ft\[plot\]"):
        history.plot(tmp_path / "loss.png")
    assert list(tmp_path.iterdir()) == []


# The command line: dl4j-ft fine-tune with validation, early stopping, plot and Ctrl-C.


def _iris_npz(folder):
    x, y = standardized_iris()
    path = folder / "iris.npz"
    np.savez(path, features=x, labels=y)
    return path


def _run(*args):
    from click.testing import CliRunner

    from py_dl4j_ft.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_early_stopping_saves_the_best_epoch_and_plots(jvm, tmp_path):
    pytest.importorskip("matplotlib")
    import json

    data = _iris_npz(tmp_path)
    out, png = tmp_path / "best.zip", tmp_path / "loss.png"
    result = _run(
        "fine-tune",
        checkpoint(IRIS),
        "--data",
        data,
        "-lr",
        str(UNSTABLE_RATE),
        "--epochs",
        "12",
        "--batch-size",
        "16",
        "--validation-split",
        "0.3",
        "--early-stopping",
        "loss",
        "--patience",
        "4",
        "--plot",
        png,
        "--out",
        out,
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    losses = [e["validation"]["loss"] for e in report["history"]]
    best = int(np.argmin(losses))
    assert report["best_epoch"] == report["history"][best]["epoch"]
    assert report["stopped"] == "early_stopping"
    assert png.read_bytes()[:4] == b"\x89PNG"

    # The saved zip is the best epoch's network, with the validation loss recorded.
    x, y = standardized_iris()
    _, _, vx, vy = training.split(x, y, 0.3, 0)
    saved = PreTrainedModel.load(out)
    assert saved.evaluate(vx, vy)["loss"] == losses[best]
    assert saved.info["epoch_count"] == report["best_epoch"]


def test_cli_validation_file_is_scored_after_every_epoch(jvm, tmp_path):
    import json

    x, y = standardized_iris()
    order = np.random.default_rng(3).permutation(len(x))
    train, held = order[:110], order[110:]
    np.savez(tmp_path / "train.npz", features=x[train], labels=y[train])
    np.savez(tmp_path / "held.npz", features=x[held], labels=y[held])
    out = tmp_path / "out.zip"
    result = _run(
        "fine-tune",
        checkpoint(IRIS),
        "--data",
        tmp_path / "train.npz",
        "--validation-file",
        tmp_path / "held.npz",
        "-lr",
        "0.05",
        "--epochs",
        "3",
        "--out",
        out,
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [e["validation"]["examples"] for e in report["history"]] == [40, 40, 40]
    assert report["best_epoch"] is None and report["stopped"] == "completed"
    # No early stopping: the saved model is the last epoch's, scored as recorded.
    saved = PreTrainedModel.load(out)
    assert saved.evaluate(x[held], y[held]) == report["history"][-1]["validation"]


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["--validation-split", "1.5"], 2, "strictly between 0 and 1"),
        (
            ["--validation-split", "0.2", "--early-stopping", "r2"],
            2,
            "one of loss, accuracy, precision, recall, f1; got 'r2'",
        ),
        (["--early-stopping", "loss"], 2, "needs validation data"),
        (["--plot", "{tmp}/missing/loss.png"], 6, "does not exist; create it first"),
        (["--validation-file", "{tmp}/nothere.npz"], 5, "does not exist"),
    ],
)
def test_cli_bad_validation_options_write_nothing(jvm, tmp_path, args, code, fragment):
    data = _iris_npz(tmp_path)
    out = tmp_path / "out.zip"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = _run(
        "fine-tune", checkpoint(IRIS), "--data", data, "-lr", "0.1", "--out", out, *args
    )
    assert result.exit_code == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert not out.exists()


def test_cli_ctrl_c_saves_the_best_model_and_exits_130(jvm, tmp_path):
    import subprocess
    import time

    data = _iris_npz(tmp_path)
    out = tmp_path / "interrupted.zip"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "py_dl4j_ft",
            "fine-tune",
            str(checkpoint(IRIS)),
            "--data",
            str(data),
            "-lr",
            "0.05",
            "--epochs",
            "1000000",
            "--validation-split",
            "0.3",
            "--early-stopping",
            "loss",
            "--patience",
            "1000000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = process.stdout.readline()  # "before: ...", printed just before fit
        assert first.startswith("before:"), first
        time.sleep(2)  # let a few epochs finish; no assertion depends on the timing
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert errors[0].startswith("error: training interrupted (Ctrl-C)")
    assert f"saved it to {out}" in errors[0]
    saved = PreTrainedModel.load(out)
    x, y = standardized_iris()
    assert saved.evaluate(x, y)["accuracy"] > 0.9
