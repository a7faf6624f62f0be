"""PreTrainedModel: a DL4J network from a checkpoint, to train, predict and save."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import numbers
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import _arrays, _checkpoint, _files, _jvm, _safety, training
from .errors import (
    ArgumentError,
    CorruptCheckpointError,
    DataError,
    LabelError,
    ShapeError,
    TrainingDivergedError,
    TrainingInterruptedError,
)

log = logging.getLogger(__name__)

# Output-layer losses whose labels are classes rather than real-valued targets.
_CLASSIFICATION_LOSSES = {
    "LossMCXENT",
    "LossNegativeLogLikelihood",
    "LossBinaryXENT",
    "LossSparseMCXENT",
    "LossMultiLabel",
    "LossFMeasure",
    "LossHinge",
    "LossSquaredHinge",
}

ProgressCallback = Callable[[int, int, int, float], None]
"""Called after each minibatch with (epoch, batch, batches_per_epoch, loss)."""


@dataclasses.dataclass(frozen=True)
class EpochRecord:
    """One epoch: DL4J's epoch counter after it, mean minibatch loss, rate, time.

    ``validation`` holds DL4J's metrics on the validation data after the epoch (None
    without validation data); ``complete`` is False for an epoch cut short by Ctrl-C.
    """

    epoch: int
    loss: float
    learning_rate: float | None
    seconds: float
    validation: dict[str, float] | None = dataclasses.field(default=None, hash=False)
    complete: bool = True


@dataclasses.dataclass(frozen=True)
class History:
    """The epochs of one ``train``/``fine_tune`` call.

    With early stopping, ``monitor`` names the metric and ``best_epoch`` the epoch
    (DL4J's counter, as in :attr:`EpochRecord.epoch`) whose model the network holds
    after the call. ``stopped`` says why training ended: ``"completed"``,
    ``"early_stopping"`` or ``"interrupted"``.
    """

    epochs: tuple[EpochRecord, ...]
    best_epoch: int | None = None
    monitor: str | None = None
    stopped: str = "completed"

    @property
    def loss(self) -> list[float]:
        return [e.loss for e in self.epochs]

    def validation_metric(self, name: str) -> list[float | None]:
        """One validation metric per epoch (None where there was no validation)."""
        return [
            None if e.validation is None else e.validation[name] for e in self.epochs
        ]

    @property
    def best(self) -> EpochRecord | None:
        """The record of the best epoch, or None without early stopping."""
        return next((e for e in self.epochs if e.epoch == self.best_epoch), None)

    def plot(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Writes the loss curve as a PNG (needs ``pip install py_dl4j_ft[plot]``)."""
        from . import training

        return training.plot_history(self, path, overwrite=overwrite)


class PreTrainedModel:
    """A DL4J MultiLayerNetwork or ComputationGraph restored from a ModelSerializer zip.

    Create it with :meth:`load`. The Java network is held in ``java_model``; every
    method runs DL4J itself on it. Features go through the checkpoint's normalizer, when
    it has one, in ``train``, ``predict`` and ``evaluate`` alike.
    """

    def __init__(
        self, java_model, kind: str, source: Path | None = None, normalizer=None
    ):
        self.java_model = java_model
        self.kind = kind
        # Absolute, so that save/export still know it after a change of directory.
        self.source = None if source is None else Path(source).absolute()
        self.normalizer = normalizer
        self.history: list[EpochRecord] = []
        self._info = None

    # Loading and describing.

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        normalizer: str | Path | None = None,
        load_updater: bool = True,
        trust_serialized: bool | None = None,
        limits: _safety.ZipLimits | None = None,
    ) -> PreTrainedModel:
        """Restores a network from ``path`` (never modified).

        ``normalizer`` is a NormalizerSerializer file to apply to features; without it,
        a ``normalizer.bin`` stored inside the zip is used. ``load_updater`` restores
        the optimizer state (Adam moments, ...) so that training resumes where it
        stopped. A zip with Java-serialized entries (``preprocessor.bin``,
        ``objects/``) is refused unless ``trust_serialized`` is true (``None``: false,
        or what the CLI's ``--trust-serialized`` says); ``limits`` bounds the zip's
        sizes (see :class:`ZipLimits`).
        """
        if trust_serialized is None:
            trust_serialized = _safety.trust_default()
        found = _checkpoint.inspect(path, limits=limits)
        _safety.check_serialized(found.path, trust_serialized)
        _jvm.ensure_started()
        # TODO(issue-4): DL4J reopens the file after this check; a file swapped in
        # between escapes it (the deserialization filter still holds). Loading from a
        # private copy would close that gap at the cost of copying every model.
        _safety.check_classes(found.path, found.config, _jvm.classpath())
        java_class = (
            "org.deeplearning4j.nn.multilayer.MultiLayerNetwork"
            if found.kind == "MultiLayerNetwork"
            else "org.deeplearning4j.nn.graph.ComputationGraph"
        )
        with (
            _checkpoint.loadable_copy(found) as readable,
            _jvm.java_errors(
                f"DL4J could not restore {found.path}",
                default=CorruptCheckpointError,
                advice="the file may be damaged, or name a class that is not on the "
                "classpath (add its jar with --extra-jar)",
            ),
        ):
            file = _jvm.jclass("java.io.File")(str(readable.resolve()))
            with _jvm.trusted_deserialization(trust_serialized):
                net = _jvm.jclass(java_class).load(
                    file, bool(load_updater and found.has_updater_state)
                )
        with _jvm.java_errors(f"adapting {found.path} to DL4J 1.0.0-M2.1"):
            compat = _jvm.helper("Compat")
            fixed = list(compat.fixLegacyRnnFormats(net))
            no_cache = list(compat.fixLegacyCacheModes(net))
            total = float(net.params().sumNumber().doubleValue())
        if not math.isfinite(total):
            raise CorruptCheckpointError(
                f"{found.path} holds non-finite parameters (NaN or infinity), so every "
                "prediction would be NaN; it is damaged or was saved after training "
                "diverged: use an earlier checkpoint"
            )
        if fixed:
            log.info(
                "%s: RNN output layers %s set to [batch, size, time], the layout of "
                "the DL4J that wrote them",
                found.path,
                [str(n) for n in fixed],
            )
        if no_cache:
            log.info(
                "%s: cache mode of layers %s set to NONE, the only mode of the DL4J "
                "that wrote them",
                found.path,
                [str(n) for n in no_cache],
            )
        norm = None
        if normalizer is not None:
            norm = _load_normalizer(Path(normalizer))
        elif found.has_normalizer:
            # Read here rather than by ModelSerializer.restoreNormalizerFromFile, whose
            # fallback Java-deserializes the entry and may rewrite the model zip.
            norm = _restore_normalizer(
                _checkpoint.normalizer_in_zip(found), f"the normalizer in {found.path}"
            )
        model = cls(net, found.kind, found.path, norm)
        if normalizer is not None:
            model._normalizer_file = Path(normalizer).absolute()
        log.info(
            "loaded %s %s: %d parameters%s",
            found.kind,
            found.path,
            model.n_params,
            ", with normalizer" if norm is not None else "",
        )
        return model

    @property
    def info(self) -> dict:
        """Layers, sizes, activations, losses, learning rates, inputs and outputs."""
        if self._info is None:
            with _jvm.java_errors("describing the model"):
                self._info = json.loads(
                    str(_jvm.helper("ModelInfo").describe(self.java_model))
                )
        return self._info

    @property
    def n_params(self) -> int:
        return int(self.info["num_params"])

    @property
    def dtype(self) -> np.dtype:
        return _arrays.numpy_dtype(self.info["data_type"])

    @property
    def is_classifier(self) -> bool:
        """True when the output layer's loss takes class labels (cross-entropy, ...)."""
        return self._output["loss"] in _CLASSIFICATION_LOSSES

    @property
    def n_outputs(self) -> int:
        """Width of the output layer: the number of classes for a classifier."""
        return int(self._output["size"])

    @property
    def _output(self) -> dict:
        return self._single("outputs")

    @property
    def _input(self) -> dict:
        return self._single("inputs")

    def _single(self, key: str) -> dict:
        ends = self.info[key]
        if len(ends) != 1:
            # TODO: multi-input/multi-output graphs need MultiDataSet hand-over.
            raise DataError(
                f"this {self.kind} has {len(ends)} {key}; py_dl4j_ft trains and "
                f"predicts networks with one input and one output"
            )
        return ends[0]

    @property
    def learning_rates(self) -> dict[str, float]:
        """The learning rate DL4J has in effect for each layer that trains with one.

        Frozen layers are left out: they never update.
        """
        return {
            layer["name"]: layer["learning_rate"]
            for layer in self.info["layers"]
            if layer.get("learning_rate") is not None
        }

    @property
    def learning_rate(self) -> float | None:
        """The learning rate all layers share, or None if they differ or have none."""
        rates = set(self.learning_rates.values())
        return rates.pop() if len(rates) == 1 else None

    def set_learning_rate(self, learning_rate: float) -> None:
        """Sets every layer's rate through DL4J's own ``setLearningRate``.

        A learning-rate schedule stored in the checkpoint is replaced by this fixed
        rate.
        """
        _check_rate(learning_rate)
        with _jvm.java_errors("setting the learning rate"):
            self.java_model.setLearningRate(float(learning_rate))
        self._info = None

    def _restore_rates(self, rates: dict[str, float]) -> None:
        """Puts back per-layer rates read from :attr:`learning_rates` earlier."""
        with _jvm.java_errors("restoring the learning rates"):
            for index, layer in enumerate(self.info["layers"]):
                rate = rates.get(layer["name"])
                if rate is not None:
                    key = index if self.kind == "MultiLayerNetwork" else layer["name"]
                    self.java_model.setLearningRate(key, float(rate))
        self._info = None

    def summary(self) -> str:
        """A table of layers with their types, sizes, activations, losses and rates."""
        info = self.info
        rows = [("name", "type", "n_in", "n_out", "activation", "loss", "lr", "params")]
        for layer in info["layers"]:
            rate = layer.get("learning_rate")
            rows.append(
                (
                    str(layer["name"]),
                    layer.get("wraps", layer["type"]),
                    _dash(layer.get("n_in")),
                    _dash(layer.get("n_out")),
                    _dash(layer.get("activation")),
                    _dash(layer.get("loss")),
                    "frozen"
                    if layer.get("frozen")
                    else _dash(None if rate is None else f"{rate:g}"),
                    str(layer["params"]),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        ]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(
            f"{self.kind}, {info['num_params']} parameters ({info['data_type']}), "
            f"{info['epoch_count']} epochs / {info['iteration_count']} iterations "
            "trained" + (", with normalizer" if self.normalizer is not None else "")
        )
        return "\n".join(lines)

    # Training.

    def train(
        self,
        features,
        labels,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        progress: ProgressCallback | None = None,
        validation_split: float | None = None,
        validation_data=None,
        early_stopping: str | None = None,
        patience: int = 3,
        min_delta: float = 0.0,
    ) -> History:
        """Continues training at the learning rate stored in the model.

        Returns the :class:`History` of this call; ``self.history`` keeps all epochs. If
        the loss stops being finite, parameters and optimizer state are put back as they
        were and :class:`TrainingDivergedError` is raised; any other failure during
        training (a progress callback that raises, say) restores them too.

        Validation: ``validation_split`` holds out that fraction of the examples (picked
        at random with ``seed``), or ``validation_data=(features, labels)`` is used as
        given; DL4J's Evaluation/RegressionEvaluation runs on it after every epoch (see
        :meth:`evaluate` for the metrics) and each :class:`EpochRecord` keeps them.
        ``early_stopping`` names the metric to watch (``"loss"``, ``"accuracy"``,
        ``"f1"``, ... ``"r2"``, ``"mse"`` for regression): training stops when it has
        not improved by more than ``min_delta`` for ``patience`` epochs, and the model
        is then put back to the best epoch (parameters, optimizer state and counters);
        ``History.best_epoch`` names it.

        Ctrl-C stops at the next minibatch boundary (checked every
        ``training.CHECK_INTERVAL`` seconds and at each epoch's end) and raises
        :class:`TrainingInterruptedError` with the history so far; the model keeps the
        best epoch so far with early stopping, else its state after that minibatch. A
        second Ctrl-C aborts as KeyboardInterrupt, with the model restored as it was
        before the call.
        """
        return self._fit(
            features,
            labels,
            None,
            epochs,
            batch_size,
            shuffle,
            seed,
            progress,
            validation_split=validation_split,
            validation_data=validation_data,
            early_stopping=early_stopping,
            patience=patience,
            min_delta=min_delta,
        )

    def fine_tune(
        self,
        features,
        labels,
        learning_rate: float,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        progress: ProgressCallback | None = None,
        validation_split: float | None = None,
        validation_data=None,
        early_stopping: str | None = None,
        patience: int = 3,
        min_delta: float = 0.0,
    ) -> History:
        """Sets ``learning_rate`` on every layer, then trains (see :meth:`train`).

        Fine-tuning a pre-trained model normally takes a rate well below the one it was
        trained with, so that the learned features are adjusted rather than overwritten.
        If training fails, the earlier rates are put back with the parameters.
        """
        return self._fit(
            features,
            labels,
            learning_rate,
            epochs,
            batch_size,
            shuffle,
            seed,
            progress,
            validation_split=validation_split,
            validation_data=validation_data,
            early_stopping=early_stopping,
            patience=patience,
            min_delta=min_delta,
        )

    def _fit(
        self,
        features,
        labels,
        learning_rate,
        epochs,
        batch_size,
        shuffle,
        seed,
        progress,
        *,
        validation_split=None,
        validation_data=None,
        early_stopping=None,
        patience=3,
        min_delta=0.0,
    ) -> History:
        # Every argument and all data are checked, and converted, before the model is
        # touched, so a refusal leaves it exactly as it was.
        _check_count("epochs", epochs)
        _check_count("batch_size", batch_size)
        _check_seed(seed)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ArgumentError(f"shuffle must be True or False; got {shuffle!r}")
        if progress is not None and not callable(progress):
            raise ArgumentError(
                f"progress must be a callable or None; got {progress!r}"
            )
        if learning_rate is not None:
            _check_rate(learning_rate)
        maximize = training.check_options(
            self.is_classifier,
            validation_split,
            validation_data,
            early_stopping,
            patience,
            min_delta,
        )
        if validation_split is not None:
            features, labels, *validation_data = training.split(
                features, labels, validation_split, seed
            )
        x, rows = self._features_to_java(features)
        y = self._labels_to_java(labels, rows)
        vx = vy = None
        if validation_data is not None:
            vx, vy = self._validation_to_java(*validation_data)
        training.check_sequence_labels(self, x, y, "training")
        if vx is not None:
            training.check_sequence_labels(self, vx, vy, "validation")
        callback = None if progress is None else _ProgressProxy(progress)
        epochs_before = self.info["epoch_count"]

        rates_before = self.learning_rates
        if learning_rate is not None:
            self.set_learning_rate(learning_rate)
        result = None
        try:
            with training.stop_on_sigint() as interrupt, _jvm.java_errors("training"):
                try:
                    result = _jvm.helper("EarlyStop").fit(
                        self.java_model,
                        x,
                        y,
                        vx,
                        vy,
                        self.is_classifier,
                        batch_size,
                        epochs,
                        bool(shuffle),
                        int(seed),
                        callback,
                        interrupt,
                        float(training.CHECK_INTERVAL),
                        early_stopping,
                        bool(maximize),
                        int(patience),
                        float(min_delta),
                    )
                finally:
                    self._info = None
        except BaseException as e:
            # Java put the parameters back unless it finished; the rates follow them. A
            # Ctrl-C that arrives only after Java finished leaves the trained model
            # whole.
            if learning_rate is not None and result is None:
                self._restore_rates(rates_before)
            if isinstance(e, TrainingDivergedError):
                advice = (
                    "a lower learning rate"
                    if learning_rate is None
                    else (f"a learning rate below {learning_rate:g}")
                )
                raise TrainingDivergedError(
                    f"{e}; the model was restored to its state before training. Try "
                    f"{advice}, or check the features' scale"
                ) from e
            raise

        run = json.loads(str(result))
        rate = self.learning_rate
        batches = -(-rows // batch_size)
        records = tuple(
            EpochRecord(
                epochs_before + i + 1,
                float(loss),
                rate,
                float(secs),
                None
                if metrics is None
                else {
                    k: (int(v) if k == "examples" else float(v))
                    for k, v in metrics.items()
                },
                done == batches,
            )
            for i, (loss, secs, metrics, done) in enumerate(
                zip(
                    run["loss"],
                    run["seconds"],
                    run["validation"],
                    run["batches"],
                    strict=True,
                )
            )
        )
        self.history.extend(records)
        history = History(
            records,
            None if run["best"] < 0 else epochs_before + run["best"] + 1,
            early_stopping,
            run["stopped"],
        )
        if history.stopped == "interrupted":
            raise TrainingInterruptedError(
                _interrupted_message(history, epochs), history
            )
        return history

    def _validation_to_java(self, features, labels):
        """Validation data, checked against the model like the training data."""
        try:
            vx, rows = self._features_to_java(features)
            return vx, self._labels_to_java(labels, rows)
        except DataError as e:
            raise type(e)(f"validation data: {e}") from e

    # Inference.

    def predict(
        self, features, *, batch_size: int = 1024, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The network's output for each row: class probabilities for a classifier.

        ``out``, a writeable C-contiguous array of the output's shape and the model's
        dtype (e.g. the result of an earlier call), is filled and returned instead of a
        new array: for repeated calls on batches of one size, that saves fresh memory.
        """
        _check_count("batch_size", batch_size)
        x, _ = self._features_to_java(features)
        with _jvm.java_errors("predicting"):
            result = _jvm.helper("Inference").predict(self.java_model, x, batch_size)
            if self.normalizer is not None and self.normalizer.isFitLabel():
                self.normalizer.revertLabels(result)
        return _arrays.from_java(result, out=out)

    def predict_classes(self, features, *, batch_size: int = 1024) -> np.ndarray:
        """The most probable class of each row, as integer ids."""
        if not self.is_classifier:
            raise LabelError(
                f"the output layer uses {self._output['loss']}, a regression "
                "loss; use predict() for real-valued outputs"
            )
        out = self.predict(features, batch_size=batch_size)
        if out.ndim == 2 and out.shape[1] == 1:
            return (out[:, 0] >= 0.5).astype(np.int64)
        return out.argmax(axis=1)

    def evaluate(self, features, labels, *, batch_size: int = 1024) -> dict[str, float]:
        """DL4J's metrics on labelled data.

        Classifiers: ``loss``, ``accuracy`` and macro ``precision``, ``recall``, ``f1``
        (DL4J's Evaluation). Regression: ``loss``, ``mse``, ``mae``, ``rmse``, ``r2``,
        averaged over output columns (DL4J's RegressionEvaluation). ``loss`` is DL4J's
        score, which includes any L1/L2 penalty.
        """
        _check_count("batch_size", batch_size)
        x, rows = self._features_to_java(features)
        y = self._labels_to_java(labels, rows)
        training.check_sequence_labels(self, x, y, "evaluation")
        with _jvm.java_errors("evaluating"):
            metrics = _jvm.helper("Inference").evaluate(
                self.java_model, x, y, batch_size, self.is_classifier
            )
        return {
            k: (int(v) if k == "examples" else float(v))
            for k, v in json.loads(str(metrics)).items()
        }

    # Saving.

    def save(
        self, path: str | Path, *, overwrite: bool = False, save_updater: bool = True
    ) -> Path:
        """Writes a ModelSerializer zip that DL4J in Java loads unchanged.

        The zip holds the configuration, the parameters, the optimizer state (unless
        ``save_updater`` is False) and the normalizer if there is one. It is written to
        a temporary file next to ``path`` and renamed into place, so ``path`` is never
        left half-written. An existing file is replaced only with ``overwrite=True``.
        """
        path = Path(path)
        serializer = _jvm.jclass("org.deeplearning4j.util.ModelSerializer")
        with _files.atomic_output(path, overwrite, self._input_files()) as tmp:
            file = _jvm.jclass("java.io.File")(str(tmp))
            with _jvm.java_errors(f"writing {path}"):
                serializer.writeModel(self.java_model, file, bool(save_updater))
                # writeModel(..., normalizer) fails in M2.1 (its stream is closed
                # early), so the normalizer is added as a second step, still to the
                # temporary file.
                if self.normalizer is not None:
                    serializer.addNormalizerToModel(file, self.normalizer)
        log.info("saved %s", path)
        return path

    def export(
        self, path: str | Path, *, format: str = "npz", overwrite: bool = False
    ) -> Path:
        """Writes the parameters as named arrays plus the architecture as JSON.

        ``format`` is ``"npz"`` or ``"safetensors"``; the layout of every array is
        described in :mod:`py_dl4j_ft.export`. Nothing of DL4J is needed to read the
        file.
        """
        from . import export

        return export.export(self, path, format=format, overwrite=overwrite)

    # The normalizer file given to load, if any (None: the zip's own, or none).
    _normalizer_file: Path | None = None

    def _input_files(self) -> list[tuple[str, Path | None]]:
        """The files this model was read from; save and export never write over them."""
        return [
            ("the model's source", self.source),
            ("the normalizer file", self._normalizer_file),
        ]

    # Conversions that check shapes before anything crosses.

    def _features_to_java(self, features) -> tuple[object, int]:
        """The features as an INDArray, normalized, and their number of rows."""
        x = _check_features(
            _arrays.prepare(features, self.dtype, "features"), self._input
        )
        rows = len(x)
        x = _arrays.to_java(x)
        if self.normalizer is not None:
            with _jvm.java_errors("normalizing features"):
                self.normalizer.transform(x)
        return x, rows

    def _labels_to_java(self, labels, rows: int):
        if labels is None:
            raise LabelError("labels are required to train or evaluate; got None")
        try:
            labels = np.asarray(labels)
        except ValueError as e:  # ragged nested lists
            raise LabelError(f"labels cannot form a regular array ({e})") from e
        y = _encode_labels(
            labels,
            self._output,
            self.is_classifier,
            rows,
            self._output["loss"] == "LossSparseMCXENT",
        )
        y = _arrays.to_java(_arrays.prepare(y, self.dtype, "labels"))
        if self.normalizer is not None and self.normalizer.isFitLabel():
            with _jvm.java_errors("normalizing labels"):
                self.normalizer.transformLabel(y)
        return y

    # Transfer learning (py_dl4j_ft.transfer does the work).

    def transfer(self, **options) -> PreTrainedModel:
        """A new model: frozen layers, a new head, fine-tune settings.

        See :func:`py_dl4j_ft.transfer.transfer` for the options; this model is left
        as it is.
        """
        from . import transfer

        return transfer.transfer(self, **options)

    def unfreeze(self, **options) -> PreTrainedModel:
        """A new model with every layer trainable (see ``transfer.unfreeze``)."""
        from . import transfer

        return transfer.unfreeze(self, **options)

    def two_stage(self, features, labels, **options):
        """New head first, then all layers (:func:`py_dl4j_ft.transfer.two_stage`)."""
        from . import transfer

        return transfer.two_stage(self, features, labels, **options)

    @property
    def frozen_layers(self) -> list[str]:
        """Names of the layers DL4J keeps frozen."""
        from . import transfer

        return transfer.frozen_layers(self)

    @property
    def counters(self) -> dict[str, int]:
        """DL4J's iteration and epoch counters."""
        from . import transfer

        return transfer.counters(self)

    def reset_counters(self, iteration: int = 0, epoch: int = 0) -> None:
        """Sets DL4J's iteration and epoch counters (schedules count from them)."""
        from . import transfer

        transfer.set_counters(self, iteration, epoch)

    def learning_rates_at(self, iteration=None, epoch=None) -> dict:
        """Each layer's rate at that iteration/epoch (default: now); None if frozen."""
        from . import transfer

        return transfer.learning_rates_at(self, iteration, epoch)

    def set_layer_learning_rate(self, layer, rate) -> None:
        """Sets one layer's rate (0 stops it) or a ``transfer.Schedule``."""
        from . import transfer

        transfer.set_layer_learning_rate(self, layer, rate)

    def __repr__(self) -> str:
        source = f" from {self.source}" if self.source else ""
        return f"<PreTrainedModel {self.kind}{source}: {self.n_params} parameters>"


def _interrupted_message(history: History, epochs: int) -> str:
    last = history.epochs[-1] if history.epochs else None
    where = (
        f"after epoch {len(history.epochs)} of {epochs}"
        if last is None or last.complete
        else f"during epoch {len(history.epochs)} of {epochs}"
    )
    if history.monitor is None:
        kept = "the model keeps the training done up to that minibatch"
    elif history.best_epoch is None:
        kept = "no epoch had finished, so the model is as it was before training"
    else:
        value = history.best.validation[history.monitor]
        kept = (
            f"the model holds the best epoch so far (epoch {history.best_epoch}, "
            f"validation {history.monitor} {value:.6g})"
        )
    return f"training interrupted (Ctrl-C) {where}; {kept}"


def _dash(value) -> str:
    return "-" if value is None else str(value)


def _load_normalizer(path: Path):
    _checkpoint.inspect_normalizer(path)
    return _restore_normalizer(path.read_bytes(), f"the normalizer {path}")


def _restore_normalizer(data: bytes, what: str):
    """A DataNormalization from NormalizerSerializer bytes, without any fallback."""
    with _jvm.java_errors(
        f"DL4J could not read {what}", default=CorruptCheckpointError
    ):
        norm = (
            _jvm.jclass(
                "org.nd4j.linalg.dataset.api.preprocessor.serializer.NormalizerSerializer"
            )
            .getDefault()
            .restore(_jvm.input_stream(data))
        )
    if not isinstance(
        norm, _jvm.jclass("org.nd4j.linalg.dataset.api.preprocessor.DataNormalization")
    ):
        raise CorruptCheckpointError(
            f"{what} is a {norm.getClass().getSimpleName()}, which normalizes "
            "multi-input data; a single-input one is needed"
        )
    return norm


_JAVA_INT_MAX = 2**31 - 1


def _check_count(name: str, value) -> None:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or not 1 <= value <= _JAVA_INT_MAX
    ):
        raise ArgumentError(
            f"{name} must be a whole number from 1 to {_JAVA_INT_MAX}; got {value!r}"
        )


def _check_seed(seed) -> None:
    if (
        isinstance(seed, (bool, np.bool_))
        or not isinstance(seed, (int, np.integer))
        or not -(2**63) <= seed < 2**63
    ):
        raise ArgumentError(f"seed must be a 64-bit whole number; got {seed!r}")


def _check_rate(rate) -> None:
    if (
        isinstance(rate, (bool, np.bool_))
        or not isinstance(rate, numbers.Real)
        or not math.isfinite(rate)
        or rate <= 0
    ):
        raise ArgumentError(
            f"learning_rate must be a positive finite number; got {rate!r}"
        )


def _check_features(x: np.ndarray, spec: dict) -> np.ndarray:
    """Checks ``x`` against the network's input; may flatten NCHW images."""
    rank, axis, size = spec["rank"], spec["axis"], spec["size"]
    if rank < 0:
        return x  # the configuration does not say; DL4J checks
    image = spec.get("image")
    if image and rank == 4 and x.ndim == 2 and x.shape[1] == np.prod(image):
        return x  # DL4J's CNN-to-dense preprocessor takes flattened images as they are
    if image and rank == 2 and x.ndim == 4:
        if list(x.shape[1:]) == list(image):
            return x.reshape(len(x), -1)
        raise ShapeError(
            f"images of shape {x.shape[1:]} do not match the model's "
            f"[channels, height, width] = {image}" + _layout_hint(x.shape[1:], image)
        )
    if x.ndim != rank:
        raise ShapeError(
            f"the model expects rank-{rank} features ({_layout(spec)}); got "
            f"shape {x.shape}"
        )
    if size > 0 and x.shape[axis] != size:
        hint = ""
        if rank == 4 and x.shape[3 if axis == 1 else 1] == size:
            layout, order = (
                ("NHWC", "0, 3, 1, 2") if axis == 1 else ("NCHW", "0, 2, 3, 1")
            )
            hint = f"; this looks like {layout} data, use x.transpose({order})"
        elif rank == 3 and x.shape[2 if axis == 1 else 1] == size:
            hint = "; the time and feature axes look swapped, use x.transpose(0, 2, 1)"
        elif rank == 2 and x.shape[0] == size:
            hint = "; if each column is one example, pass x.T"
        raise ShapeError(
            f"the model expects {size} {_what(spec)} on axis {axis} "
            f"({_layout(spec)}); got shape {x.shape}{hint}"
        )
    if image and rank == 4 and list(x.shape[1:]) != list(image):
        raise ShapeError(
            f"images of shape {x.shape[1:]} do not match the model's "
            f"[channels, height, width] = {image}"
        )
    return x


def _what(spec: dict) -> str:
    return "channels" if spec["rank"] >= 4 else "features"


def _layout(spec: dict) -> str:
    return {
        "NF": "[batch, features]",
        "NCHW": "[batch, channels, height, width]",
        "NHWC": "[batch, height, width, channels]",
        "NCW": "[batch, features, time]",
        "NWC": "[batch, time, features]",
        "NCDHW": "[batch, channels, depth, height, width]",
    }.get(spec["format"], "")


def _layout_hint(shape, image) -> str:
    if sorted(shape) == sorted(image) and shape[-1] == image[0]:
        return (
            "; this looks like [height, width, channels], use x.transpose(0, 3, 1, 2)"
        )
    return ""


def _encode_labels(
    y: np.ndarray, spec: dict, classifier: bool, rows: int, sparse: bool
) -> np.ndarray:
    """Labels in the layout DL4J's output layer takes: one-hot for classes."""
    if y.ndim == 0 or len(y) != rows:
        raise LabelError(
            f"expected one label per example ({rows}); got shape {y.shape}"
        )
    width, rank = spec["size"], spec["rank"]
    if (
        classifier
        and not sparse
        and (y.ndim == rank - 1 and (rank == 2 or y.ndim == 2) and width > 1)
    ):
        ids = _class_ids(y, width)
        onehot = np.zeros((rows, width) + y.shape[1:], dtype=np.float32)
        if rank == 2:
            onehot[np.arange(rows), ids] = 1
        else:
            batch, time = np.indices(ids.shape)
            onehot[batch, ids, time] = 1
        return onehot
    if y.ndim == 1 and rank == 2:
        y = y.reshape(-1, 1)
    if classifier and (sparse or width == 1):
        _class_ids(y, 2 if width == 1 else width)
    # Sparse cross-entropy takes one class id per example: a single column.
    if y.ndim != rank or (width > 0 and y.shape[1] != (1 if sparse else width)):
        expected = (
            f"class ids (shape [{rows}]) or one-hot rows (shape [{rows}, {width}])"
            if classifier
            else f"targets of shape [{rows}, {width}]"
        )
        if rank == 3:  # a sequence output: one label per time step
            expected = (
                f"class ids (shape [{rows}, time steps]) or one-hot labels (shape "
                f"[{rows}, {width}, time steps])"
                if classifier
                else f"targets of shape [{rows}, {width}, time steps]"
            )
        raise LabelError(
            f"the output layer has {width} outputs; expected {expected}, got "
            f"shape {y.shape}"
        )
    if classifier and not sparse and width > 1:
        _check_class_rows(y, spec.get("loss", ""))
    return y


def _check_class_rows(y: np.ndarray, loss: str) -> None:
    """One-hot or probability rows: values in [0, 1], summing to 1 under softmax."""
    if y.dtype.kind not in "biuf":
        raise LabelError(f"class labels must be numbers; got dtype {y.dtype}")
    values = y.astype(np.float64)
    outside = (values < 0) | (values > 1) | ~np.isfinite(values)
    if outside.any():
        bad = values[outside].flat[0]
        raise LabelError(
            f"one-hot or probability labels must lie in [0, 1]; got {bad:g}. Pass "
            "class ids or rows of 0s and 1s"
        )
    if loss in ("LossMCXENT", "LossNegativeLogLikelihood"):
        sums = values.sum(axis=1)
        off = np.abs(sums - 1) > 1e-3
        if off.any():
            raise LabelError(
                f"each label row must sum to 1 for {loss} (one class per example); "
                f"a row sums to {sums[off].flat[0]:g}"
            )


def _class_ids(y: np.ndarray, n_classes: int) -> np.ndarray:
    if y.dtype.kind not in "biuf":
        raise LabelError(
            f"class labels must be whole numbers 0..{n_classes - 1}; got an array of "
            f"dtype {y.dtype}. Map the categories to numbers first"
        )
    values = y.astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (np.mod(values, 1) != 0)
    bad |= (values < 0) | (values >= n_classes)
    if bad.any():
        raise LabelError(
            f"class labels must be whole numbers 0..{n_classes - 1} (the output layer "
            f"has {n_classes} units); got {values[bad].flat[0]:g}"
        )
    return values.astype(np.int64)


@_jvm.implements("org.pydl4jft.Trainer$Progress")
class _ProgressProxy:
    def __init__(self, callback: ProgressCallback):
        self.callback = callback

    @_jvm.java_override
    def onBatch(self, epoch, batch, batches, score):
        self.callback(int(epoch), int(batch), int(batches), float(score))
