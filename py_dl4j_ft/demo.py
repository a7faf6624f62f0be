"""The README's main job: fine-tune a DL4J checkpoint on real data, start to finish.

It needs nothing outside the project: the data is scikit-learn's handwritten digits (8x8
images shipped with the package), and the pre-trained checkpoint is one this module
makes with DL4J the first time it runs, as a Java team would have: an MLP trained on one
half of the digits and saved with ModelSerializer.

The fine-tuning task is a domain shift a real deployment meets: the other half of the
digits as seen by a scanner whose crop is offset by one pixel down and right. The base
model does poorly on it; a few epochs at a small learning rate adapt it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import _jvm
from .model import PreTrainedModel

log = logging.getLogger(__name__)

BASE_LEARNING_RATE = 1e-2
FINE_TUNE_LEARNING_RATE = 2e-3


def digits_domains(seed: int = 0):
    """(source_x, source_y), (target_x, target_y): the two halves of sklearn's digits.

    Pixels are scaled to [0, 1]; the target half is shifted one pixel down and right.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    xs, xt, ys, yt = train_test_split(
        x, y, test_size=0.5, random_state=seed, stratify=y
    )
    images = xt.reshape(-1, 8, 8)
    shifted = np.zeros_like(images)
    shifted[:, 1:, 1:] = images[:, :-1, :-1]
    return (xs, ys), (shifted.reshape(-1, 64), yt)


def make_base_checkpoint(path: Path, epochs: int = 15, seed: int = 42) -> Path:
    """Trains a 64-64-10 DL4J MLP on the source half of the digits and saves it."""
    (xs, ys), _ = digits_domains()
    net = _jvm.helper("Examples").mlp(64, 64, 10, BASE_LEARNING_RATE, seed)
    base = PreTrainedModel(net, "MultiLayerNetwork")
    base.train(xs, ys, epochs=epochs, batch_size=32, seed=seed)
    return base.save(path, overwrite=True)


def run(
    workdir: Path,
    *,
    epochs: int = 20,
    echo: Callable[[str], None] = print,
    progress=None,
) -> dict:
    """Loads the base checkpoint, evaluates, fine-tunes, evaluates again, saves.

    Returns the metrics before and after, the history and the path of the saved model.
    """
    from sklearn.model_selection import train_test_split

    workdir.mkdir(parents=True, exist_ok=True)
    base_path = workdir / "base_digits.zip"
    if not base_path.exists():
        echo(f"making the pre-trained checkpoint {base_path} (DL4J MLP, source digits)")
        make_base_checkpoint(base_path)

    _, (xt, yt) = digits_domains()
    x_train, x_test, y_train, y_test = train_test_split(
        xt, yt, test_size=0.5, random_state=1, stratify=yt
    )

    model = PreTrainedModel.load(base_path)
    echo(
        f"loaded {base_path}: {model.kind}, {model.n_params} parameters, "
        f"learning rate {model.learning_rate:g}"
    )
    before = model.evaluate(x_test, y_test)
    echo(
        f"before fine-tuning: accuracy {before['accuracy']:.3f}, "
        f"loss {before['loss']:.3f} on {before['examples']} shifted test digits"
    )

    history = model.fine_tune(
        x_train,
        y_train,
        FINE_TUNE_LEARNING_RATE,
        epochs=epochs,
        batch_size=32,
        progress=progress,
    )
    after = model.evaluate(x_test, y_test)
    echo(
        f"fine-tuned {epochs} epochs at learning rate {FINE_TUNE_LEARNING_RATE:g} on "
        f"{len(x_train)} shifted digits: "
        f"loss {history.loss[0]:.3f} -> {history.loss[-1]:.3f}"
    )
    echo(
        f"after fine-tuning:  accuracy {after['accuracy']:.3f}, "
        f"loss {after['loss']:.3f}"
    )

    out = model.save(workdir / "fine_tuned_digits.zip", overwrite=True)
    echo(f"saved {out} (loads in Java with MultiLayerNetwork.load)")
    return {"before": before, "after": after, "loss": history.loss, "saved": str(out)}
