"""What a checkpoint holds, read from the zip in pure Python: no JVM, no DL4J.

``inspect_checkpoint`` reads ``configuration.json`` and the headers of the ND4J arrays
and reports the network's kind, layers, sizes, activations, losses, parameter count,
optimizer, normalizer, and the DL4J format era the file was written in. Nothing in the
file is executed or deserialized, so it is safe on files from anyone.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import zipfile
from pathlib import Path

from . import _checkpoint, _safety
from .errors import Dl4jFtError, NotACheckpointError

# How each era of DL4J wrote its files, newest first in the checks below. The JSON
# differs in how layers name their type (a wrapper object {"dense": {...}} until
# 1.0.0-alpha, "@class" since 1.0.0-beta) and in fields that appeared over time; the
# ND4J array header differs in its allocation mode (JAVACPP with int lengths until
# 1.0.0-beta, LONG_SHAPE in beta2-beta3, MIXED_DATA_TYPES with a stored value type
# since beta4) and, since M2, in the parameters being one rank-1 vector.
ERAS = (
    "0.5–0.8",
    "0.9",
    "1.0.0-alpha",
    "1.0.0-beta",
    "1.0.0-beta2",
    "1.0.0-beta3",
    "1.0.0-beta4–beta6",
    "1.0.0-beta7–M1.1",
    "1.0.0-M2.x",
)

# Short names that DL4J before 1.0.0-beta wrote for its layers, as class names.
_LEGACY_LAYER_CLASSES = {
    "autoEncoder": "AutoEncoder",
    "convolution": "ConvolutionLayer",
    "convolution1d": "Convolution1DLayer",
    "gravesLSTM": "GravesLSTM",
    "gravesBidirectionalLSTM": "GravesBidirectionalLSTM",
    "output": "OutputLayer",
    "rnnoutput": "RnnOutputLayer",
    "loss": "LossLayer",
    "dense": "DenseLayer",
    "subsampling": "SubsamplingLayer",
    "subsampling1d": "Subsampling1DLayer",
    "batchNormalization": "BatchNormalization",
    "localResponseNormalization": "LocalResponseNormalization",
    "embedding": "EmbeddingLayer",
    "activation": "ActivationLayer",
    "dropout": "DropoutLayer",
    "GlobalPooling": "GlobalPoolingLayer",
    "zeroPadding": "ZeroPaddingLayer",
    "zeroPadding1d": "ZeroPadding1DLayer",
}


@dataclasses.dataclass
class LayerSummary:
    """One layer (or graph vertex) as the configuration describes it."""

    name: str
    type: str
    n_in: int | None = None
    n_out: int | None = None
    activation: str | None = None
    loss: str | None = None
    kernel: list[int] | None = None
    stride: list[int] | None = None
    n_params: int | None = None  # computed from the configuration; None if unknown
    inputs: list[str] | None = None  # graph vertices only
    updater: str | None = None
    learning_rate: float | None = None


@dataclasses.dataclass
class CheckpointSummary:
    """Everything :func:`inspect_checkpoint` found; ``to_dict()`` gives plain JSON."""

    path: str
    kind: str
    era: str
    era_evidence: list[str]
    layers: list[LayerSummary]
    n_params: int | None  # from the coefficients header
    n_params_config: int | None  # computed from the configuration
    data_type: str | None
    updater: str | None
    learning_rate: float | None
    updater_state_stored: bool
    updater_state_size: int | None
    normalizer: str | None
    inputs: list[str]
    outputs: list[str]
    input_type: str | None
    iteration_count: int | None
    epoch_count: int | None
    entries: list[str]
    serialized_entries: list[str]
    foreign_classes: list[str]
    legacy_custom_layers: list[str]
    # Classes no jar of the current settings holds; None when the jars are not set up.
    missing_classes: list[str] | None = None

    @property
    def params_match(self) -> bool | None:
        """Header count equals the count computed from the configuration."""
        if self.n_params is None or self.n_params_config is None:
            return None
        return self.n_params == self.n_params_config

    def to_dict(self) -> dict:
        """Plain JSON types; layer and end-point keys as in ``PreTrainedModel.info``."""
        by_name = {layer.name: layer for layer in self.layers}
        sizes = {}
        for layer in self.layers:
            for source in layer.inputs or []:
                sizes.setdefault(source, layer.n_in)
        if self.kind == "MultiLayerNetwork" and self.layers:
            sizes["input"] = self.layers[0].n_in
        layers = [
            {
                "name": layer.name,
                "type": layer.type,
                "n_in": layer.n_in,
                "n_out": layer.n_out,
                "activation": layer.activation,
                "loss": layer.loss,
                "kernel": layer.kernel,
                "stride": layer.stride,
                "params": layer.n_params,
                "inputs": layer.inputs,
                "updater": layer.updater,
                "learning_rate": layer.learning_rate,
            }
            for layer in self.layers
        ]
        if self.kind == "ComputationGraph":
            layers = [
                {"name": name, "type": "Input", "params": 0, "inputs": []}
                for name in self.inputs
            ] + layers
        return {
            "path": self.path,
            "kind": self.kind,
            "era": self.era,
            "era_evidence": self.era_evidence,
            "num_params": self.n_params,
            "num_params_config": self.n_params_config,
            "params_match": self.params_match,
            "data_type": self.data_type,
            "updater": self.updater,
            "learning_rate": self.learning_rate,
            "updater_state_stored": self.updater_state_stored,
            "updater_state_size": self.updater_state_size,
            "normalizer": self.normalizer is not None,
            "normalizer_type": self.normalizer,
            "iteration_count": self.iteration_count,
            "epoch_count": self.epoch_count,
            "input_type": self.input_type,
            "inputs": [{"name": n, "size": sizes.get(n)} for n in self.inputs],
            "outputs": [
                {"name": n, "size": getattr(by_name.get(n), "n_out", None)}
                for n in self.outputs
            ],
            "layers": layers,
            "entries": self.entries,
            "serialized_entries": self.serialized_entries,
            "foreign_classes": self.foreign_classes,
            "legacy_custom_layers": self.legacy_custom_layers,
            "missing_classes": self.missing_classes,
        }

    def table(self) -> str:
        """A human-readable description, one layer per row."""
        lines = [
            f"{self.path}: {self.kind}, {_num(self.n_params)} parameters",
            f"  DL4J era      {self.era} ({'; '.join(self.era_evidence)})",
            f"  parameters    {_num(self.n_params)} stored"
            + (
                f", {_num(self.n_params_config)} from the configuration"
                + (" (match)" if self.params_match else " (MISMATCH)")
                if self.n_params_config is not None
                else ""
            )
            + (f", {self.data_type}" if self.data_type else ""),
            f"  updater       {self.updater or '-'}"
            + (f", learning rate {self.learning_rate:g}" if self.learning_rate else "")
            + (
                f"; state stored ({_num(self.updater_state_size)} values)"
                if self.updater_state_stored
                else "; no state stored"
            ),
            f"  normalizer    {self.normalizer or 'none'}",
            f"  input         {self.input_type or '-'}",
        ]
        if self.kind == "ComputationGraph":
            lines.append(
                f"  graph         inputs {', '.join(self.inputs)}; outputs "
                f"{', '.join(self.outputs)}"
            )
        if self.serialized_entries:
            lines.append(
                f"  WARNING       Java-serialized entries: "
                f"{', '.join(self.serialized_entries)} (refused unless trusted)"
            )
        if self.legacy_custom_layers:
            lines.append(
                "  custom code   "
                + ", ".join(self.legacy_custom_layers)
                + " (short names from DL4J 1.0.0-alpha or older: DL4J 1.0.0-M2.1 "
                "cannot load them, even with a jar)"
            )
        if self.missing_classes:
            lines.append(
                "  custom code   "
                + ", ".join(self.missing_classes)
                + " (in no jar on the classpath: add it with --extra-jar)"
            )
        elif self.foreign_classes and self.missing_classes is None:
            lines.append(
                "  custom code   "
                + ", ".join(self.foreign_classes)
                + " (not DL4J's; needs the user's jar, --extra-jar)"
            )
        header = ("layer", "type", "n_in", "n_out", "activation", "loss", "params")
        rows = [header] + [
            (
                layer.name,
                layer.type
                + (f" {'x'.join(map(str, layer.kernel))}" if layer.kernel else ""),
                _dash(layer.n_in),
                _dash(layer.n_out),
                _dash(layer.activation),
                _dash(layer.loss),
                _dash(layer.n_params),
            )
            for layer in self.layers
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines.append("")
        lines += [
            "  "
            + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        ]
        return "\n".join(lines)


def _dash(value) -> str:
    return "-" if value is None else str(value)


def _num(value) -> str:
    return "?" if value is None else f"{value:,}"


def inspect_checkpoint(
    path: str | Path, *, limits: _safety.ZipLimits | None = None
) -> CheckpointSummary:
    """Describes a DL4J model zip without starting Java.

    Parameters
    ----------
    path : str or Path
        A zip written by DL4J's ModelSerializer (any version).
    limits : ZipLimits, optional
        Size limits checked before anything is decompressed.

    Returns
    -------
    CheckpointSummary
        Kind, era, layers, parameter counts, updater, normalizer, ... of the file.

    Raises
    ------
    CheckpointError
        The file is missing, not a DL4J zip, damaged, or over the size limits.
    """
    found = _checkpoint.inspect(path, limits=limits)
    try:
        with zipfile.ZipFile(found.path) as archive:
            infos = archive.infolist()
            config = json.loads(archive.read(_checkpoint.CONFIGURATION))
            coefficients = _array_head(archive, _checkpoint.COEFFICIENTS)
            state = (
                _array_head(archive, _checkpoint.UPDATER_STATE)
                if found.has_updater_state
                else None
            )
            normalizer = (
                _normalizer_type(archive.read(_checkpoint.NORMALIZER)[:512])
                if found.has_normalizer
                else None
            )
    except _checkpoint._ZIP_READ_ERRORS as e:
        raise NotACheckpointError(
            f"{found.path} is a damaged zip ({type(e).__name__}: {e})"
        ) from e

    try:
        return _summary(found, config, infos, coefficients, state, normalizer)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as e:
        raise NotACheckpointError(
            f"{found.path}: configuration.json does not have the structure DL4J "
            f"writes ({type(e).__name__}: {e}); the file is damaged or was edited"
        ) from e


def _summary(found, config, infos, coefficients, state, normalizer):
    if found.kind == "MultiLayerNetwork":
        layers = _mln_layers(config)
        inputs, outputs = ["input"], [layers[-1].name] if layers else []
    else:
        layers = _graph_layers(config)
        inputs = [str(n) for n in config.get("networkInputs") or []]
        outputs = [str(n) for n in config.get("networkOutputs") or []]
    counts = [layer.n_params for layer in layers]
    computed = None if None in counts else sum(counts)
    era, evidence = _era(config, coefficients)
    updater, rate = _updater(config)
    return CheckpointSummary(
        path=str(found.path),
        kind=found.kind,
        era=era,
        era_evidence=evidence,
        layers=layers,
        n_params=coefficients.get("count"),
        n_params_config=computed,
        data_type=coefficients.get("type"),
        updater=updater,
        learning_rate=rate,
        updater_state_stored=found.has_updater_state,
        updater_state_size=state.get("count") if state else None,
        normalizer=normalizer,
        inputs=inputs,
        outputs=outputs,
        input_type=_input_type(config, layers, found.kind),
        iteration_count=_int(config.get("iterationCount")),
        epoch_count=_int(config.get("epochCount")),
        entries=sorted(i.filename for i in infos),
        serialized_entries=_safety.serialized_entries(infos),
        foreign_classes=_safety.foreign_classes(config),
        legacy_custom_layers=_safety.legacy_custom_layers(config),
        missing_classes=_missing_classes(config),
    )


def _missing_classes(config) -> list[str] | None:
    """Classes not on the classpath of the current settings, if its jars are set up.

    Reads the jar lists only (cached beside the jars after the first time); no JVM.
    """
    from . import _jars, _jvm

    try:
        classpath = _jars.classpath(_jvm.settings())
    except Dl4jFtError:
        return None  # not set up (or bad settings): nothing to check against
    return _safety.missing_classes(config, classpath)


# Array headers.


def _array_head(archive: zipfile.ZipFile, name: str) -> dict:
    """Allocation mode, shape, value count and type of an ND4J array entry."""
    with archive.open(name) as f:
        header = _checkpoint._Header(f.read(1024))
    try:
        mode = header.utf()
        header.at = 0
        length, shape_type = header.buffer_head()
        fmt = ">i" if shape_type == "INT" else ">q"
        width = 4 if shape_type == "INT" else 8
        rank = struct.unpack(fmt, header.take(width))[0]
        shape = [struct.unpack(fmt, header.take(width))[0] for _ in range(rank)]
        header.take(width * (length - 1 - rank))
        count, data_type = header.buffer_head()
    except (ValueError, struct.error):
        return {}
    return {"mode": mode, "shape": shape, "count": count, "type": data_type}


def describe_normalizer(path: str | Path) -> str:
    """The strategy of a NormalizerSerializer file (STANDARDIZE, MIN_MAX, ...)."""
    path = _checkpoint.inspect_normalizer(path)
    with Path(path).open("rb") as f:
        return _normalizer_type(f.read(512))


def _normalizer_type(head: bytes) -> str:
    """The strategy NormalizerSerializer wrote (STANDARDIZE, MIN_MAX, ...)."""
    header = _checkpoint._Header(head)
    try:
        if header.utf() != "NORMALIZER":
            return "unknown (no NORMALIZER header)"
        header.take(4)  # format version
        kind = header.utf()
        if kind == "CUSTOM":
            return f"CUSTOM ({header.utf()})"
        return kind
    except (ValueError, UnicodeDecodeError):
        return "unknown (unreadable header)"


# Era.


def _era(config, coefficients: dict) -> tuple[str, list[str]]:
    keys = _all_keys(config)
    mode = coefficients.get("mode")
    evidence = []
    named_by_class = _layers_named_by_class(config)
    if not named_by_class:
        evidence.append("layers named by wrapper objects")
        if "iupdater" not in keys:
            evidence.append("updater as an enum, no iupdater")
            era = "0.5–0.8"
        elif "epochCount" not in keys:
            evidence.append("iupdater, no epochCount")
            era = "0.9"
        else:
            evidence.append("epochCount")
            era = "1.0.0-alpha"
    elif "dataType" not in keys:
        evidence.append("layers named by @class, no dataType")
        if "legacyBatchScaledL2" in keys:
            evidence.append("legacyBatchScaledL2")
            era = "1.0.0-beta3"
        elif mode == "LONG_SHAPE":
            era = "1.0.0-beta2"
        else:
            era = "1.0.0-beta"
    else:
        evidence.append("dataType")
        if coefficients.get("shape") is not None and len(coefficients["shape"]) == 1:
            evidence.append("parameters stored as a rank-1 vector")
            era = "1.0.0-M2.x"
        elif keys & {"timeDistributedFormat", "cnn2dDataFormat"}:
            evidence.append("timeDistributedFormat/cnn2dDataFormat")
            era = "1.0.0-beta7–M1.1"
        else:
            era = "1.0.0-beta4–beta6"
    if mode:
        evidence.append(f"{mode} array header")
        expected = {
            "JAVACPP": ERAS[:4],
            "HEAP": ERAS[:4],
            "DIRECT": ERAS[:4],
            "LONG_SHAPE": ERAS[4:6],
            "MIXED_DATA_TYPES": ERAS[6:],
        }.get(mode, ())
        if era not in expected:
            evidence.append(f"which does not fit {era}")
    return era, evidence


def _all_keys(node) -> set[str]:
    keys: set[str] = set()
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys.update(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return keys


def _layers_named_by_class(config) -> bool:
    for layer in _layer_configs(config):
        return "@class" in layer
    return False


def _layer_configs(config):
    """The raw ``layer`` objects, in order."""
    if not isinstance(config, dict):
        return
    for conf in config.get("confs") or []:
        if isinstance(conf, dict) and isinstance(conf.get("layer"), dict):
            yield conf["layer"]
    for vertex in (config.get("vertices") or {}).values():
        body = _unwrap(vertex)[1] if isinstance(vertex, dict) else {}
        conf = body.get("layerConf") if isinstance(body, dict) else None
        if isinstance(conf, dict) and isinstance(conf.get("layer"), dict):
            yield conf["layer"]


# Layers.


def _unwrap(node: dict) -> tuple[str, dict]:
    """(simple type name, fields) of a polymorphic JSON object in either naming."""
    if "@class" in node:
        return str(node["@class"]).rsplit(".", 1)[-1], node
    if len(node) == 1:
        name, body = next(iter(node.items()))
        if isinstance(body, dict):
            return _LEGACY_LAYER_CLASSES.get(name, name), body
    return "?", node


def _mln_layers(config: dict) -> list[LayerSummary]:
    layers = []
    for i, conf in enumerate(config.get("confs") or []):
        raw = conf.get("layer") if isinstance(conf, dict) else None
        layers.append(_layer(str(i), raw if isinstance(raw, dict) else {}))
    return layers


def _graph_layers(config: dict) -> list[LayerSummary]:
    layers = []
    inputs = config.get("vertexInputs") or {}
    for name, vertex in (config.get("vertices") or {}).items():
        if not isinstance(vertex, dict):
            continue
        vtype, body = _unwrap(vertex)
        conf = body.get("layerConf") if isinstance(body, dict) else None
        if vtype == "LayerVertex" and isinstance(conf, dict):
            layer = _layer(name, conf.get("layer") or {})
        else:
            layer = LayerSummary(name=name, type=vtype, n_params=0)
        layer.inputs = [str(v) for v in inputs.get(name) or []]
        layers.append(layer)
    return layers


def _layer(name: str, raw: dict) -> LayerSummary:
    ltype, body = _unwrap(raw)
    n_in, n_out = (
        _int(body.get("nin", body.get("nIn"))),
        _int(body.get("nout", body.get("nOut"))),
    )
    kernel = body.get("kernelSize")
    stride = body.get("stride")
    updater, rate = _layer_updater(body)
    activation = _function_name(
        body.get("activationFn") or body.get("activationFunction"), "Activation"
    )
    loss = _function_name(body.get("lossFn") or body.get("lossFunction"), "Loss")
    inner = _inner_layer(ltype, body)
    if inner is not None:
        # A wrapper (frozen, bidirectional, last time step) shows what it wraps.
        inner_summary = _layer(name, inner)
        if n_in is None:
            n_in, n_out = inner_summary.n_in, inner_summary.n_out
        activation = activation or inner_summary.activation
        loss = loss or inner_summary.loss
        kernel = kernel if kernel is not None else inner_summary.kernel
        stride = stride if stride is not None else inner_summary.stride
    return LayerSummary(
        name=str(body.get("layerName") or name),
        type=ltype if inner is None else f"{ltype}({_unwrap(inner)[0]})",
        n_in=n_in,
        n_out=n_out,
        activation=activation,
        loss=loss,
        kernel=kernel if isinstance(kernel, list) else None,
        stride=stride if isinstance(stride, list) else None,
        n_params=_params(ltype, body),
        updater=updater,
        learning_rate=rate,
    )


def _inner_layer(ltype: str, body: dict) -> dict | None:
    for key in ("fwd", "underlying", "layer"):
        if isinstance(body.get(key), dict) and ltype != "?":
            return body[key]
    return None


def _features(n: int) -> str:
    return "1 feature" if n == 1 else f"{n} features"


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _function_name(node, prefix: str) -> str | None:
    """ReLU from {"@class": "...ActivationReLU"}, {"ReLU": {}} or "relu"."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and node:
        name, _ = _unwrap(node)
        return name[len(prefix) :] if name.startswith(prefix) else name
    return None


_NO_PARAMS = {
    "ActivationLayer",
    "DropoutLayer",
    "LossLayer",
    "RnnLossLayer",
    "CnnLossLayer",
    "SubsamplingLayer",
    "Subsampling1DLayer",
    "Subsampling3DLayer",
    "GlobalPoolingLayer",
    "ZeroPaddingLayer",
    "ZeroPadding1DLayer",
    "ZeroPadding3DLayer",
    "Upsampling1D",
    "Upsampling2D",
    "Upsampling3D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "LocalResponseNormalization",
    "SpaceToDepthLayer",
    "SpaceToBatchLayer",
}


def _params(ltype: str, b: dict) -> int | None:
    """Parameter count of one layer from its configuration; None if unknown."""
    n_in, n_out = _int(b.get("nin")), _int(b.get("nout"))
    bias = b.get("hasBias", True) is not False
    if ltype in _NO_PARAMS:
        return 0
    if ltype in ("Bidirectional",):
        inner = b.get("fwd")
        one = _params(*_unwrap(inner)) if isinstance(inner, dict) else None
        return None if one is None else 2 * one
    if ltype in ("LastTimeStep", "FrozenLayer", "FrozenLayerWithBackprop"):
        inner = b.get("underlying") or b.get("layer")
        return _params(*_unwrap(inner)) if isinstance(inner, dict) else None
    if n_in is None or n_out is None:
        return None
    if ltype in (
        "DenseLayer",
        "OutputLayer",
        "RnnOutputLayer",
        "EmbeddingLayer",
        "EmbeddingSequenceLayer",
    ):
        if b.get("hasLayerNorm"):
            return None
        return n_in * n_out + (n_out if bias else 0)
    if ltype in ("AutoEncoder", "RBM"):
        return n_in * n_out + n_out + n_in
    if ltype == "CenterLossOutputLayer":
        return n_in * n_out + n_out + n_in * n_out
    if ltype in (
        "ConvolutionLayer",
        "Convolution1DLayer",
        "Convolution1D",
        "Convolution2D",
        "Convolution3D",
        "Deconvolution2D",
    ):
        kernel = b.get("kernelSize")
        if not isinstance(kernel, list) or not all(isinstance(k, int) for k in kernel):
            return None
        return n_in * n_out * math.prod(kernel) + (n_out if bias else 0)
    if ltype in ("SeparableConvolution2D", "DepthwiseConvolution2D"):
        kernel, multiplier = b.get("kernelSize"), b.get("depthMultiplier", 1)
        if not isinstance(kernel, list) or not isinstance(multiplier, int):
            return None
        depthwise = n_in * multiplier * math.prod(kernel)
        if ltype == "DepthwiseConvolution2D":
            return depthwise + (n_in * multiplier if bias else 0)
        return depthwise + n_in * multiplier * n_out + (n_out if bias else 0)
    if ltype == "LSTM":
        return 4 * n_out * (n_in + n_out + 1)
    if ltype == "GravesLSTM":
        return 4 * n_out * n_in + n_out * (4 * n_out + 3) + 4 * n_out
    if ltype == "GravesBidirectionalLSTM":
        return 2 * (4 * n_out * n_in + n_out * (4 * n_out + 3) + 4 * n_out)
    if ltype == "SimpleRnn":
        if b.get("hasLayerNorm"):
            return None
        return n_in * n_out + n_out * n_out + n_out
    if ltype == "BatchNormalization":
        return 2 * n_out if b.get("lockGammaBeta") else 4 * n_out
    if ltype == "VariationalAutoencoder":
        return _vae_params(b, n_in, n_out)
    return None


def _vae_params(b: dict, n_in: int, n_out: int) -> int | None:
    encoder, decoder = b.get("encoderLayerSizes"), b.get("decoderLayerSizes")
    dist = b.get("outputDistribution")
    name = _unwrap(dist)[0] if isinstance(dist, dict) else None
    # Parameters the reconstruction distribution needs per input value.
    per_output = None
    if name in ("Bernoulli", "BernoulliReconstructionDistribution"):
        per_output = 1
    elif name in ("Gaussian", "GaussianReconstructionDistribution"):
        per_output = 2
    if not (isinstance(encoder, list) and isinstance(decoder, list)) or not per_output:
        return None
    total, size = 0, n_in
    for width in encoder:
        total += size * width + width
        size = width
    total += 2 * (size * n_out + n_out)  # mean and log-variance of z
    size = n_out
    for width in decoder:
        total += size * width + width
        size = width
    return total + size * n_in * per_output + n_in * per_output


# Optimizer and input.


def _updater(config) -> tuple[str | None, float | None]:
    """The first layer's optimizer and learning rate (usually all layers share it)."""
    for layer in _layer_configs(config):
        found = _layer_updater(_unwrap(layer)[1])
        if found[0] is not None:
            return found
    return None, None


def _layer_updater(body: dict) -> tuple[str | None, float | None]:
    iupdater = body.get("iupdater")
    if isinstance(iupdater, dict) and iupdater:
        name, fields = _unwrap(iupdater)
        rate = fields.get("learningRate")
        schedule = fields.get("learningRateSchedule")
        if isinstance(schedule, dict) and schedule:
            return f"{name} ({_unwrap(schedule)[0]})", _float(rate)
        return name, _float(rate)
    if isinstance(body.get("updater"), str):
        return body["updater"], _float(body.get("learningRate"))
    return None, None


def _float(value) -> float | None:
    """A finite number, else None (old files write "NaN" for unset rates)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _input_type(config, layers: list[LayerSummary], kind: str) -> str | None:
    """What the first layer takes, from its size and any input preprocessor."""
    if kind != "MultiLayerNetwork" or not layers:
        return None
    pre = (config.get("inputPreProcessors") or {}).get("0")
    if isinstance(pre, dict) and pre:
        name, body = _unwrap(pre)
        dims = [body.get(k) for k in ("inputHeight", "inputWidth", "numChannels")]
        if all(isinstance(d, int) for d in dims) and "ToCnn" in name.replace(
            "feedForwardToCnn", "FeedForwardToCnn"
        ):
            h, w, c = dims
            return f"{h * w * c} features, reshaped to {c}x{h}x{w} images ({name})"
    first = layers[0]
    if first.kernel is not None and first.n_in is not None:
        return f"images with {first.n_in} channels"
    if first.type.startswith(("LSTM", "GravesLSTM", "SimpleRnn", "Bidirectional")):
        return f"sequences of {_features(first.n_in)}"
    if first.n_in is not None:
        return _features(first.n_in)
    return None
