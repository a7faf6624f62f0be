"""scikit-learn estimators over a DL4J checkpoint: fit fine-tunes a fresh copy.

``Dl4jClassifier`` and ``Dl4jRegressor`` follow scikit-learn's estimator contract, so
they work in ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``: the constructor
only stores its parameters, and every ``fit`` loads the checkpoint again from disk, so a
clone never shares a trained network with another. Needs scikit-learn (``pip install
'py_dl4j_ft[sklearn]'``); the JVM runs in this process, so keep ``n_jobs=1``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import ArgumentError, LabelError, OptionalDependencyError, ShapeError
from .model import PreTrainedModel

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_is_fitted, check_X_y
except ImportError as e:
    raise OptionalDependencyError(
        f"py_dl4j_ft.sklearn needs scikit-learn, which is not installed ({e}); install "
        "it with pip install 'py_dl4j_ft[sklearn]'"
    ) from e


class _Dl4jEstimator(BaseEstimator):
    """Shared parameters and the load / train / pickle steps."""

    def __init__(
        self,
        checkpoint=None,
        *,
        learning_rate=None,
        epochs=10,
        batch_size=32,
        shuffle=True,
        seed=0,
        normalizer=None,
        load_updater=True,
        validation_split=None,
        early_stopping=None,
        patience=3,
        min_delta=0.0,
    ):
        self.checkpoint = checkpoint
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.normalizer = normalizer
        self.load_updater = load_updater
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.patience = patience
        self.min_delta = min_delta

    def _fit_network(self, x: np.ndarray, targets: np.ndarray) -> None:
        """Loads the checkpoint afresh and trains it on ``targets``."""
        if self.checkpoint is None:
            raise ArgumentError(
                f"{type(self).__name__} needs checkpoint= the path of a DL4J zip; "
                "got None"
            )
        model = PreTrainedModel.load(
            self.checkpoint,
            normalizer=self.normalizer,
            load_updater=self.load_updater,
        )
        self._check_width(model, x)
        self._check_outputs(model)
        options = dict(
            epochs=self.epochs,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed,
            validation_split=self.validation_split,
            early_stopping=self.early_stopping,
            patience=self.patience,
            min_delta=self.min_delta,
        )
        if self.learning_rate is None:
            history = model.train(x, targets, **options)
        else:
            history = model.fine_tune(x, targets, self.learning_rate, **options)
        self.model_ = model
        self.history_ = history
        self.n_features_in_ = x.shape[1]

    def _check_outputs(self, model: PreTrainedModel) -> None:
        """Refuses targets the output layer cannot take; subclasses say what fits."""

    def _check_width(self, model: PreTrainedModel, x: np.ndarray) -> None:
        spec = model.info["inputs"][0]
        if spec["rank"] == 2 and spec["size"] > 0 and x.shape[1] != spec["size"]:
            raise ShapeError(
                f"X has {x.shape[1]} feature(s), but {type(self).__name__} is "
                f"expecting {spec['size']} features as input (the input layer of "
                f"{self.checkpoint}); select or build exactly those columns, e.g. in a "
                "Pipeline step before this one"
            )

    def _network_output(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        x = check_array(X, dtype=np.float32)
        if x.shape[1] != self.n_features_in_:
            raise ShapeError(
                f"X has {x.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input; pass the columns it was "
                "fitted on"
            )
        return self.model_.predict(x)

    # The Java network cannot be pickled; its ModelSerializer zip is, and holds the
    # normalizer and optimizer state too.
    def __getstate__(self):
        state = dict(super().__getstate__())
        model = state.pop("model_", None)
        if model is not None:
            with tempfile.TemporaryDirectory() as folder:
                state["model_zip_"] = model.save(
                    Path(folder) / "model.zip"
                ).read_bytes()
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("model_zip_", None)
        super().__setstate__(state)
        if data is not None:
            fd, name = tempfile.mkstemp(suffix=".zip")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                self.model_ = PreTrainedModel.load(name)
            finally:
                os.unlink(name)


class Dl4jClassifier(ClassifierMixin, _Dl4jEstimator):
    """A DL4J classifier checkpoint as a scikit-learn classifier.

    Parameters
    ----------
    checkpoint : str or Path
        The ModelSerializer zip; read again, never modified, by every ``fit``.
    learning_rate : float or None
        Rate for every layer (``fine_tune``); None trains at the checkpoint's own rates.
    epochs, batch_size, shuffle, seed
        As in :meth:`PreTrainedModel.fine_tune`; ``seed`` fixes the minibatch order.
    normalizer : str or Path or None
        NormalizerSerializer file for the features; default: the one in the zip.
    load_updater : bool
        Continue from the optimizer state stored in the zip.
    validation_split, early_stopping, patience, min_delta
        Early stopping on a held-out fraction of the training data, as in
        :meth:`PreTrainedModel.fine_tune`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted; class ``classes_[i]`` is output unit ``i``.
    model_ : PreTrainedModel
        The trained network.
    history_ : History
        Loss (and validation metrics) per epoch of the last ``fit``.
    """

    def fit(self, X, y):
        """Loads the checkpoint afresh and trains it on ``X``, ``y``."""
        x, y = check_X_y(X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, ids = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise LabelError(
                f"y holds one class only ({self.classes_[0]!r}); a classifier needs "
                "examples of at least two"
            )
        self._fit_network(x, ids)
        return self

    def _check_outputs(self, model: PreTrainedModel) -> None:
        units = max(model.n_outputs, 2)  # one sigmoid unit covers two classes
        if not model.is_classifier:
            raise LabelError(
                f"{self.checkpoint} ends in {model._output['loss']}, a regression "
                "loss; use Dl4jRegressor for it"
            )
        if len(self.classes_) > units:
            raise LabelError(
                f"y has {len(self.classes_)} classes, but the output layer of "
                f"{self.checkpoint} has {units} units; use at most {units} classes, "
                "or give the model a new head first"
            )

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each class in ``classes_`` order: [n_samples, n_classes].

        When ``fit`` saw fewer classes than the output layer has units, the unused
        units are dropped and each row is renormalized to sum to 1.
        """
        out = self._network_output(X)
        if out.shape[1] == 1:  # one sigmoid unit: the probability of class 1
            return np.hstack([1 - out, out])
        out = out[:, : len(self.classes_)]
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, as a label from ``classes_``."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class Dl4jRegressor(RegressorMixin, _Dl4jEstimator):
    """A DL4J regression checkpoint as a scikit-learn regressor.

    Parameters are those of :class:`Dl4jClassifier`. ``y`` is one column per output
    unit (1-d for a single output); ``score`` is R².
    """

    def fit(self, X, y):
        """Loads the checkpoint afresh and trains it on ``X``, ``y``."""
        x, y = check_X_y(X, y, dtype=np.float32, multi_output=True, y_numeric=True)
        self._fit_network(x, y.astype(np.float32))
        return self

    def _check_outputs(self, model: PreTrainedModel) -> None:
        if model.is_classifier:
            raise LabelError(
                f"{self.checkpoint} is a classifier (its output layer ends in "
                f"{model._output['loss']}, a classification loss); use Dl4jClassifier "
                "for it"
            )

    def predict(self, X) -> np.ndarray:
        """The network's outputs: shape (n_samples,) for one output unit."""
        out = self._network_output(X)
        return out[:, 0] if out.shape[1] == 1 else out
