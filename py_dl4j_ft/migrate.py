"""Moving models forward: old DL4J zips to the current format, Keras files to DL4J.

:func:`upgrade` loads a checkpoint of any era DL4J 1.0.0-M2.1 reads (with the
compatibility fixes of :meth:`PreTrainedModel.load`) and writes it again as M2.1 writes
it. :func:`import_keras` builds a DL4J network from a Keras HDF5 file through DL4J's own
model import.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from . import _checkpoint, _files, _jvm
from .errors import (
    CheckpointNotFoundError,
    Dl4jFtError,
    NotAKerasModelError,
    UnsupportedLayerError,
)
from .model import PreTrainedModel

log = logging.getLogger(__name__)


def upgrade(old: str | Path, new: str | Path, *, overwrite: bool = False) -> Path:
    """Rewrites the checkpoint ``old`` in DL4J 1.0.0-M2.1's format as ``new``.

    Parameters
    ----------
    old : str or Path
        A ModelSerializer zip of any era DL4J 1.0.0-M2.1 can read; only ever read.
    new : str or Path
        Where to write the upgraded zip. It must not be ``old`` itself; it is written
        through a temporary file and renamed into place.
    overwrite : bool
        Replace ``new`` if it exists (never ``old``).

    Returns
    -------
    Path
        ``new``. The zip holds the same parameters, the optimizer state when ``old``
        stored one, and the normalizer when ``old`` had one; its configuration.json is
        the one DL4J 1.0.0-M2.1 writes, with the compatibility fixes applied at load
        time (legacy dropout, RNN data formats) now stored in it.
    """
    old, new = Path(old), Path(new)
    _files.check_not_input(new, [("the checkpoint to upgrade", old)])
    found = _checkpoint.inspect(old)
    model = PreTrainedModel.load(old)
    saved = model.save(new, overwrite=overwrite, save_updater=found.has_updater_state)
    log.info("upgraded %s (%s) to %s", old, found.kind, saved)
    for problem in prediction_problems(model):
        log.warning(
            "%s cannot predict: %s. The upgraded %s keeps this fault of the original",
            old,
            problem,
            saved,
        )
    return saved


def prediction_problems(model: PreTrainedModel) -> list[str]:
    """Faults that keep a loaded network from predicting, found without data.

    Sizes a preprocessor hands on are compared with the next layer's inputs
    (MultiLayerNetwork); a network with one flat input is also run on a row of zeros.
    """
    problems = []
    if model.kind == "MultiLayerNetwork":
        with _jvm.java_errors(f"reading the configuration of {model.source}"):
            conf = json.loads(
                str(model.java_model.getLayerWiseConfigurations().toJson())
            )
        for index, pre in sorted((conf.get("inputPreProcessors") or {}).items()):
            if not str(pre.get("@class", "")).endswith("CnnToFeedForwardPreProcessor"):
                continue
            h, w, c = (
                pre.get("inputHeight"),
                pre.get("inputWidth"),
                pre.get("numChannels"),
            )
            n_in = conf["confs"][int(index)]["layer"].get("nin")
            if h and w and c and n_in and h * w * c != n_in:
                problems.append(
                    f"layer {index} takes {n_in} inputs, but the preprocessor before "
                    f"it flattens {c}x{h}x{w} = {h * w * c} values"
                )
    inputs = model.info["inputs"]
    if not problems and len(inputs) == 1 and inputs[0]["rank"] == 2:
        try:
            model.predict(np.zeros((1, inputs[0]["size"]), dtype=model.dtype))
        except Dl4jFtError as e:
            problems.append(str(e))
    return problems


# Keras import.

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SEQUENTIAL = "Sequential"
_UNSUPPORTED_PREFIX = "org.deeplearning4j.nn.modelimport.keras.exceptions."


def import_keras(path: str | Path) -> PreTrainedModel:
    """Builds a DL4J network from a Keras HDF5 model file with DL4J's model import.

    Parameters
    ----------
    path : str or Path
        A file written by Keras ``model.save(...)`` in HDF5 format (Keras 1.x, 2.x or
        tf.keras), holding the model configuration and its weights; only ever read.

    Returns
    -------
    PreTrainedModel
        A MultiLayerNetwork for a Sequential model, a ComputationGraph for a
        functional one, with the Keras weights. It trains, predicts and saves like any
        loaded checkpoint; the loss comes from the file's training configuration.

    Raises
    ------
    NotAKerasModelError
        The file is not HDF5 (a DL4J zip, say), or holds weights without a model
        configuration (``save_weights``).
    UnsupportedLayerError
        DL4J has no import for one of its layers (``Lambda``, custom layers, ...); the
        error names the layer and its Keras class.
    """
    path = Path(path)
    _check_keras_file(path)
    what = f"reading the Keras model in {path}"
    with _jvm.java_errors(
        what,
        default=NotAKerasModelError,
        advice="the file is damaged, truncated or not written by Keras; save the "
        "model again with model.save('model.h5')",
    ):
        raw = _jvm.helper("KerasImport").modelConfig(str(path))
    if raw is None:
        raise NotAKerasModelError(
            f"{path} holds Keras weights but no model configuration (it was written by "
            "save_weights); save the whole model with model.save('model.h5') and "
            "import that"
        )
    try:
        # raw_decode: HDF5 string attributes may carry padding after the JSON.
        config, _ = json.JSONDecoder().raw_decode(str(raw))
        class_name = config["class_name"]
    except (ValueError, KeyError, TypeError) as e:
        raise NotAKerasModelError(
            f"{path}: its model_config is not a Keras model configuration ({e})"
        ) from e
    layers = _keras_layers(config)
    replaced = _skip_orthogonal_init(layers)
    if replaced:
        log.info("%s: orthogonal initializers of %s not run", path, replaced)

    sequential = class_name == _SEQUENTIAL
    try:
        net = _build(path, config, layers, sequential, with_training=True)
    except NotAKerasModelError as e:
        if isinstance(e, UnsupportedLayerError):
            raise
        # The training configuration (loss, optimizer) may be what DL4J refused; the
        # network itself can still come in, without a loss.
        net = _build(path, config, layers, sequential, with_training=False)
        log.warning(
            "%s: imported without its Keras training configuration (%s); the model "
            "predicts but has no loss to train with",
            path,
            e,
        )
    kind = "MultiLayerNetwork" if sequential else "ComputationGraph"
    model = PreTrainedModel(net, kind, path)
    log.info("imported %s (Keras %s) as a %s", path, class_name, kind)
    return model


def _build(path: Path, config: dict, layers, sequential: bool, with_training: bool):
    """The DL4J network for ``config`` and the weights in ``path``."""
    try:
        with _jvm.java_errors(
            f"DL4J could not import the Keras model {path}",
            default=NotAKerasModelError,
            advice="it may use a Keras feature DL4J's import does not support",
        ):
            return _jvm.helper("KerasImport").load(
                str(path), json.dumps(config), sequential, with_training
            )
    except NotAKerasModelError as e:
        unsupported = _unsupported_layer(e, layers)
        if unsupported is not None:
            raise unsupported from e
        raise


def _check_keras_file(path: Path) -> None:
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"Keras model file {path} does not exist or is not a file; check the path"
        )
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04"):
        raise NotAKerasModelError(
            f"{path} is a zip (a DL4J checkpoint?), not a Keras HDF5 file; load a DL4J "
            "zip with PreTrainedModel.load or `dl4j-ft info`, it needs no import"
        )
    if head != _HDF5_SIGNATURE:
        raise NotAKerasModelError(
            f"{path} is not an HDF5 file (it starts with {head!r}, not the HDF5 "
            "signature); expected a Keras model saved with model.save('model.h5')"
        )


def _keras_layers(config: dict) -> list[dict]:
    """The layer entries of a Sequential or functional Keras configuration."""
    inner = config.get("config")
    layers = inner if isinstance(inner, list) else (inner or {}).get("layers", [])
    return [layer for layer in layers if isinstance(layer, dict)]


def _is_orthogonal(init) -> bool:
    if isinstance(init, str):
        return init.lower() == "orthogonal"
    return isinstance(init, dict) and str(init.get("class_name", "")).lower() == (
        "orthogonal"
    )


def _skip_orthogonal_init(layers: list[dict]) -> list[str]:
    """Replaces orthogonal initializers by zeros in place; returns the layers changed.

    DL4J initializes every layer before it copies the Keras weights over it, and its
    orthogonal initializer does not return for some shapes (the Keras 1 LSTM in
    simple_lstm_th_keras_1_model.h5 hangs there). The initial values are overwritten
    by the stored weights, so which initializer runs does not change the result.
    """
    changed = []
    for layer in layers:
        settings = layer.get("config")
        if not isinstance(settings, dict):
            continue
        for key, value in list(settings.items()):
            if _is_orthogonal(value):
                settings[key] = (
                    "zero" if isinstance(value, str) else {"class_name": "Zeros"}
                )
                changed.append(str(settings.get("name", layer.get("class_name"))))
    return changed


def _unsupported_layer(error, layers: list[dict]) -> UnsupportedLayerError | None:
    """An error naming the layer DL4J refused, if the failure was an unsupported one."""
    if not str(getattr(error, "java_class", "")).startswith(_UNSUPPORTED_PREFIX):
        return None
    message = str(error)
    # DL4J's own first sentence, without the import prefix and the link it appends.
    reason = message.split("Exception: ", 1)[-1].split(". ", 1)[0]
    for layer in layers:
        keras_class = str(layer.get("class_name", ""))
        name = str((layer.get("config") or {}).get("name", layer.get("name", "")))
        if keras_class and (
            f"type {keras_class}" in message or f"{keras_class} layer {name}" in message
        ):
            return UnsupportedLayerError(
                f"layer {name!r} is a Keras {keras_class}, which DL4J's Keras import "
                f"cannot build ({reason}). Rebuild the model in Keras without it (or "
                "apply it outside the model), save it again and import that",
                layer=name,
                layer_class=keras_class,
            )
    return None
