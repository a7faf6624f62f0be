"""The README's transfer-learning example: a base model adapted to a new task.

Needs nothing outside the project. The base is a DL4J MLP (64-64-N) trained by DL4J on
scikit-learn's digits and saved with ModelSerializer; the new task has a few labelled
examples per class. Each of several random draws of those examples is learned three ways
with the same budget (epochs, batch size, updater):

- ``head``: the base's hidden layer frozen, a new output layer trained;
- ``two-stage``: the same head first, then every layer at a tenth of the rate;
- ``scratch``: the same architecture, freshly initialised, trained on the same examples.

Two tasks: ``parity`` (odd or even, on digit images the base has not seen, from a base
that knows all ten digits) and ``new-digits`` (digits 5-9 from a base that only ever saw
0-4).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import _jvm
from .model import PreTrainedModel
from .transfer import FineTune, transfer

TASKS = ("parity", "new-digits")
BASE_EPOCHS = 15
LEARNING_RATE = 1e-2


def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y


def task_data(task: str):
    """(base_x, base_y, n_base_classes), (new_x, new_y, n_new_classes)."""
    from sklearn.model_selection import train_test_split

    x, y = _digits()
    if task == "parity":
        xb, xn, yb, yn = train_test_split(
            x, y, test_size=0.5, random_state=0, stratify=y
        )
        return (xb, yb, 10), (xn, yn % 2, 2)
    low = y < 5
    return (x[low], y[low], 5), (x[~low], y[~low] - 5, 5)


def make_base(path: Path, task: str, seed: int = 42) -> Path:
    """Trains the base MLP with DL4J on the task's base data and saves it."""
    (xb, yb, classes), _ = task_data(task)
    net = _jvm.helper("Examples").mlp(64, 64, classes, LEARNING_RATE, seed)
    base = PreTrainedModel(net, "MultiLayerNetwork")
    base.train(xb, yb, epochs=BASE_EPOCHS, batch_size=32, seed=seed)
    return base.save(path, overwrite=True)


def run(
    workdir: Path,
    *,
    task: str = "parity",
    per_class: int = 10,
    draws: int = 5,
    epochs: int = 60,
    echo: Callable[[str], None] = print,
) -> dict:
    """Runs the comparison; returns the accuracy of each way on each draw."""
    workdir.mkdir(parents=True, exist_ok=True)
    base_path = workdir / f"base_{task}.zip"
    if not base_path.exists():
        echo(f"making the base checkpoint {base_path} (DL4J MLP, {_base_words(task)})")
        make_base(base_path, task)
    _, (xn, yn, classes) = task_data(task)
    base = PreTrainedModel.load(base_path)
    head_epochs = epochs * 2 // 3
    echo(
        f"task {task}: {classes} classes, {per_class} labelled examples per class, "
        f"{draws} draws; each way gets {epochs} epochs at batch size 10"
    )

    results: dict[str, list[float]] = {"head": [], "two-stage": [], "scratch": []}
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        picked = np.concatenate(
            [
                rng.choice(np.flatnonzero(yn == c), per_class, replace=False)
                for c in range(classes)
            ]
        )
        rest = np.setdiff1d(np.arange(len(yn)), picked)
        x, y, x_test, y_test = xn[picked], yn[picked], xn[rest], yn[rest]

        head = transfer(
            base,
            freeze=1,
            n_classes=classes,
            fine_tune=FineTune(updater="adam", learning_rate=LEARNING_RATE, seed=draw),
        )
        head.fine_tune(x, y, LEARNING_RATE, epochs=epochs, batch_size=10, seed=draw)

        staged = base.two_stage(
            x,
            y,
            n_classes=classes,
            head_epochs=head_epochs,
            head_learning_rate=LEARNING_RATE,
            epochs=epochs - head_epochs,
            learning_rate=LEARNING_RATE / 10,
            batch_size=10,
            seed=draw,
        ).model

        net = _jvm.helper("Examples").mlp(64, 64, classes, LEARNING_RATE, draw)
        scratch = PreTrainedModel(net, "MultiLayerNetwork")
        scratch.train(x, y, epochs=epochs, batch_size=10, seed=draw)

        row = []
        for name, model in (
            ("head", head),
            ("two-stage", staged),
            ("scratch", scratch),
        ):
            accuracy = model.evaluate(x_test, y_test)["accuracy"]
            results[name].append(accuracy)
            row.append(f"{name} {accuracy:.3f}")
        echo(f"draw {draw + 1}: " + ", ".join(row) + f" on {len(rest)} test images")

    means = {name: float(np.mean(values)) for name, values in results.items()}
    echo(
        "mean accuracy: "
        + ", ".join(f"{name} {value:.3f}" for name, value in means.items())
    )
    return {"task": task, "per_class": per_class, "accuracy": results, "mean": means}


def _base_words(task: str) -> str:
    return "all ten digits" if task == "parity" else "digits 0-4"
