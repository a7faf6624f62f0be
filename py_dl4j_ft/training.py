"""Validation, early stopping, Ctrl-C and loss curves for ``train``/``fine_tune``.

The epochs themselves run in Java (``org.pydl4jft.EarlyStop``); this module checks the
options, splits off validation data, turns Ctrl-C into a stop request that Java polls
between minibatches, and draws the loss curve.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import _files, _jvm
from .errors import ArgumentError, LabelError, OptionalDependencyError, ShapeError

CHECK_INTERVAL = 0.1
"""Seconds between two polls of the stop request from Java (0: every minibatch)."""

# Metrics DL4J's Evaluation (classifiers) and RegressionEvaluation report, and whether a
# larger value is better.
CLASSIFIER_METRICS = {
    "loss": False,
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
}
REGRESSOR_METRICS = {
    "loss": False,
    "mse": False,
    "mae": False,
    "rmse": False,
    "r2": True,
}


def check_options(
    classifier: bool,
    validation_split,
    validation_data,
    early_stopping,
    patience,
    min_delta,
) -> bool | None:
    """Refuses bad validation and early-stopping options; returns "maximize" or None."""
    if validation_split is not None and validation_data is not None:
        raise ArgumentError(
            "validation_split and validation_data were both given; pass one of them"
        )
    if validation_split is not None and (
        isinstance(validation_split, (bool, np.bool_))
        or not isinstance(validation_split, numbers.Real)
        or not 0 < validation_split < 1
    ):
        raise ArgumentError(
            "validation_split must be a fraction strictly between 0 and 1 (e.g. 0.2); "
            f"got {validation_split!r}"
        )
    if validation_data is not None and (
        not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2
    ):
        raise ArgumentError(
            "validation_data must be a pair (features, labels); got "
            f"{type(validation_data).__name__}"
            + (
                f" of length {len(validation_data)}"
                if hasattr(validation_data, "__len__")
                else ""
            )
        )
    if (
        isinstance(patience, (bool, np.bool_))
        or not isinstance(patience, (int, np.integer))
        or not 1 <= patience <= 2**31 - 1
    ):
        raise ArgumentError(
            f"patience must be a whole number of epochs, 1 or more; got {patience!r}"
        )
    if (
        isinstance(min_delta, (bool, np.bool_))
        or not isinstance(min_delta, numbers.Real)
        or not math.isfinite(min_delta)
        or min_delta < 0
    ):
        raise ArgumentError(
            f"min_delta must be a finite number, 0 or more; got {min_delta!r}"
        )
    if early_stopping is None:
        return None
    metrics = CLASSIFIER_METRICS if classifier else REGRESSOR_METRICS
    if early_stopping not in metrics:
        kind = "classifier" if classifier else "regression model"
        raise ArgumentError(
            f"early_stopping must name a validation metric of this {kind}, one of "
            f"{', '.join(metrics)}; got {early_stopping!r}"
        )
    if validation_split is None and validation_data is None:
        raise ArgumentError(
            f"early_stopping={early_stopping!r} needs validation data; pass "
            "validation_split (e.g. 0.2) or validation_data=(features, labels)"
        )
    return metrics[early_stopping]


def split(features, labels, fraction: float, seed: int):
    """Seeded random split: (train features, train labels, val features, val labels)."""
    x, y = np.asarray(features), np.asarray(labels)
    rows = len(x) if x.ndim else 0
    if y.ndim == 0 or len(y) != rows:
        raise LabelError(
            f"expected one label per example ({rows}); got labels of shape {y.shape}"
        )
    held = round(rows * fraction)
    if held < 1 or held > rows - 1:
        raise ShapeError(
            f"validation_split={fraction} of {rows} examples leaves {held} for "
            f"validation and {rows - held} for training; each needs at least one: "
            "use more data or another fraction"
        )
    order = np.random.default_rng(seed).permutation(rows)
    val, train = order[:held], order[held:]
    return x[train], y[train], x[val], y[val]


def check_sequence_labels(model, features, labels, what: str) -> None:
    """Refuses labels of a sequence output whose shape differs from the output's.

    ``features`` and ``labels`` are the INDArrays training would use. The expected shape
    comes from running the network on the first example, so layers that change the
    number of time steps are accounted for.
    """
    if model._output["rank"] != 3:
        return
    with _jvm.java_errors(f"checking the {what} labels"):
        got = tuple(int(n) for n in labels.shape())
        out = tuple(
            int(n)
            for n in _jvm.helper("EarlyStop").outputShape(model.java_model, features)
        )
    if got[1:] == out[1:]:
        return
    rows, (size, steps) = got[0], out[1:]
    expected = f"[{rows}, {size}, {steps}]"
    if model.is_classifier:
        expected = f"class ids of shape [{rows}, {steps}] or one-hot {expected}"
    raise LabelError(
        f"{what} labels: the model outputs {out[1:]} per example for these features "
        f"([outputs, time steps]); expected {expected}, got labels that make "
        f"{got}. Give one label per time step of the features"
    )


class _StopRequest:
    """Set by the SIGINT handler while a fit runs; Java polls it."""

    def __init__(self) -> None:
        self.requested = False


@_jvm.implements("org.pydl4jft.EarlyStop$Interrupt")
class _InterruptProxy:
    def __init__(self, request: _StopRequest):
        self.request = request

    @_jvm.java_override
    def requested(self):
        # Entering Python here also lets a pending SIGINT handler run.
        return self.request.requested


@contextlib.contextmanager
def stop_on_sigint() -> Iterator[object]:
    """Yields the Java ``Interrupt`` for one fit; Ctrl-C sets it instead of raising.

    A second Ctrl-C raises KeyboardInterrupt as usual (the model is then put back as it
    was before the fit). Outside the main thread signals cannot be caught, and Ctrl-C
    keeps Python's default behaviour.
    """
    request = _StopRequest()
    proxy = _InterruptProxy(request)
    if threading.current_thread() is not threading.main_thread():
        yield proxy
        return

    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum, frame):
        if request.requested:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        request.requested = True

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield proxy
    finally:
        signal.signal(signal.SIGINT, previous)


def require_matplotlib():
    """matplotlib's Figure (headless), or a named error that says how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError as e:
        raise OptionalDependencyError(
            f"drawing the loss curve needs matplotlib, which is not installed ({e}); "
            "install it with pip install 'py_dl4j_ft[plot]'"
        ) from e
    return Figure


def plot_history(history, path: str | Path, *, overwrite: bool = False) -> Path:
    """Draws training and validation loss per epoch to a PNG; marks the best epoch.

    Needs matplotlib (``pip install py_dl4j_ft[plot]``). The file is written whole or
    not at all.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ArgumentError(f"the loss curve is a PNG; give a .png path, got {path}")
    _files.check_output(path, overwrite)
    figure_class = require_matplotlib()
    if not history.epochs:
        raise ArgumentError("the history has no epochs to plot; train first")

    epochs = [e.epoch for e in history.epochs]
    figure = figure_class(figsize=(6, 4), dpi=100)
    axes = figure.subplots()
    axes.plot(epochs, history.loss, marker="o", label="training loss")
    validation = history.validation_metric("loss")
    if any(v is not None for v in validation):
        axes.plot(epochs, validation, marker="o", label="validation loss")
    if history.best_epoch is not None:
        axes.axvline(history.best_epoch, color="grey", linestyle="--", label="best")
    axes.set_xlabel("epoch (the model's counter)")
    axes.set_ylabel("loss")
    axes.legend()
    figure.tight_layout()
    with _files.atomic_output(path, overwrite) as tmp:
        figure.savefig(tmp, format="png")
    return path
