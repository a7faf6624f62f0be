"""Exporting a model's weights as named arrays (npz or safetensors) for other tools.

Each layer parameter becomes one array named ``LAYER.PARAM``, taken from DL4J's own
``paramTable()`` and put in the layout most frameworks use:

=====================  =========================  ===================================
layer                  array                      shape (DL4J's own, if different)
=====================  =========================  ===================================
Dense / Output         ``weight``, ``bias``       [out, in] ([in, out]), [out]
RnnOutput              ``weight``, ``bias``       [out, in] ([in, out]), [out]
Convolution (2D)       ``weight``, ``bias``       [out, in, kh, kw], [out]
BatchNormalization     ``gamma`` ``beta``         [channels] each (``var`` is
                       ``mean`` ``var``           computed when DL4J keeps log10 std)
LSTM                   ``weight_ih``              [4*out, in] ([in, 4*out])
                       ``weight_hh``              [4*out, out] ([out, 4*out])
                       ``bias``                   [4*out]
=====================  =========================  ===================================

LSTM gate blocks are reordered to (input, forget, cell, output), the order PyTorch's
``nn.LSTM`` uses; DL4J stores (cell, forget, output, input). The architecture (layers
with their types, sizes, activations, convolution settings and preprocessors, the DL4J
configuration itself, and the normalizer's kind) is stored as JSON: in an npz as the
string array ``architecture``, in safetensors as the metadata entry ``architecture``.
A normalizer's statistics are arrays named ``normalizer.PARAM``.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np

from . import _arrays, _files, _jvm
from .errors import ArgumentError, OptionalDependencyError, UnsupportedLayerError

log = logging.getLogger(__name__)

FORMATS = ("npz", "safetensors")
# The file name ending each format's output must have.
FORMATS_SUFFIX = {"npz": ".npz", "safetensors": ".safetensors"}
LAYOUT_VERSION = 1

# LSTM gate blocks: DL4J (cell, forget, output, input) -> (input, forget, cell, output).
_LSTM_GATES = (3, 1, 0, 2)

# Layer types whose parameters this module knows how to lay out, by DL4J param key.
_WEIGHTED = {
    "DenseLayer": {"W": "weight", "b": "bias"},
    "OutputLayer": {"W": "weight", "b": "bias"},
    "RnnOutputLayer": {"W": "weight", "b": "bias"},
    "ConvolutionLayer": {"W": "weight", "b": "bias"},
    "BatchNormalization": {
        "gamma": "gamma",
        "beta": "beta",
        "mean": "mean",
        "var": "var",
        "log10stdev": "var",
    },
    "LSTM": {"W": "weight_ih", "RW": "weight_hh", "b": "bias"},
}
# Layers without parameters whose behaviour the architecture JSON fully states.
_PARAMETER_FREE = {
    "SubsamplingLayer",
    "ActivationLayer",
    "DropoutLayer",
    "LossLayer",
    "GlobalPoolingLayer",
    "Input",
}


def export(model, path: str | Path, *, format: str = "npz", overwrite=False) -> Path:
    """Writes ``model``'s parameters and architecture to ``path`` (see module doc).

    Parameters
    ----------
    model : PreTrainedModel
        The network to export; it is only read.
    path : str or Path
        The output file, written whole or not at all.
    format : {"npz", "safetensors"}
        ``safetensors`` needs the ``safetensors`` package (``py_dl4j_ft[export]``).
    overwrite : bool
        Replace ``path`` if it exists.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    UnsupportedLayerError
        A layer has parameters in a layout this exporter does not know (GravesLSTM,
        separable or transposed convolutions, ...); it names the layer and its type.
    """
    if format not in FORMATS:
        raise ArgumentError(
            f"export format must be one of {', '.join(FORMATS)}; got {format!r}"
        )
    path = Path(path)
    save_safetensors = _safetensors_writer() if format == "safetensors" else None
    if path.suffix.lower() != FORMATS_SUFFIX[format]:
        raise ArgumentError(
            f"a {format} export is written to a {FORMATS_SUFFIX[format]} file; got "
            f"{path.name}. Give a path ending in {FORMATS_SUFFIX[format]}"
        )
    inputs = model._input_files() if hasattr(model, "_input_files") else ()
    _files.check_output(path, overwrite, inputs)
    arrays, architecture = collect(model)
    text = json.dumps(architecture)
    if save_safetensors is not None:
        data = save_safetensors(arrays, metadata={"architecture": text})
    else:
        buffer = io.BytesIO()
        np.savez(buffer, architecture=np.array(text), **arrays)
        data = buffer.getvalue()
    with _files.atomic_output(path, overwrite, inputs) as tmp:
        tmp.write_bytes(data)
    log.info("exported %d arrays of %s to %s (%s)", len(arrays), model, path, format)
    return path


def _safetensors_writer():
    try:
        from safetensors.numpy import save
    except ImportError as e:
        raise OptionalDependencyError(
            "exporting to safetensors needs the safetensors package, which is not "
            f"installed ({e}); pip install 'py_dl4j_ft[export]' or use --format npz"
        ) from e
    return save


def collect(model) -> tuple[dict[str, np.ndarray], dict]:
    """The named arrays and the architecture description of ``model``."""
    info = model.info
    config = _configuration(model)
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for index, row in enumerate(info["layers"]):
        name = str(row["name"])
        conf, preprocessor = _layer_config(model.kind, config, index, name)
        frozen = row["type"] in _FROZEN and "wraps" in row
        if frozen:
            # A frozen layer holds the parameters of the layer it wraps, laid out alike.
            row = {**row, "type": row["wraps"]}
            conf = conf.get("layer") or conf.get("underlying") or conf
        kind = row["type"]
        table = _param_table(model, index, name) if row["params"] else {}
        layout = _WEIGHTED.get(kind)
        if table and (layout is None or set(table) - set(layout)):
            known = ", ".join(sorted(_WEIGHTED))
            raise UnsupportedLayerError(
                f"layer {name!r} ({kind}) has parameters {sorted(table)}, which "
                f"this exporter cannot lay out (it exports {known} and layers without "
                "parameters); replace the layer, or read its arrays with DL4J's "
                "paramTable() yourself",
                layer=name,
                layer_class=kind,
            )
        if not table and kind not in _PARAMETER_FREE and not _is_graph_vertex(row):
            raise UnsupportedLayerError(
                f"layer {name!r} ({kind}) does something the exported architecture "
                "cannot describe; this exporter supports "
                f"{', '.join(sorted(set(_WEIGHTED) | _PARAMETER_FREE))}",
                layer=name,
                layer_class=kind,
            )
        entry = _describe(row, conf, preprocessor)
        if frozen:
            entry["frozen"] = True
        params = {}
        for key, value in table.items():
            array = _to_usual_layout(kind, key, value)
            arrays[f"{name}.{layout[key]}"] = array
            params[layout[key]] = list(array.shape)
        entry["params"] = params
        layers.append(entry)

    architecture = {
        "format": "py_dl4j_ft export",
        "layout_version": LAYOUT_VERSION,
        "kind": model.kind,
        "data_type": info["data_type"],
        "inputs": info["inputs"],
        "outputs": info["outputs"],
        "layers": layers,
        "lstm_gate_order": ["input", "forget", "cell", "output"],
        "normalizer": None,
        "dl4j_configuration": config,
    }
    if model.normalizer is not None:
        stats, kind = _normalizer_stats(model.normalizer)
        architecture["normalizer"] = {"type": kind, "arrays": sorted(stats)}
        arrays.update({f"normalizer.{k}": v for k, v in stats.items()})
    return arrays, architecture


_FROZEN = ("FrozenLayer", "FrozenLayerWithBackprop")


def _is_graph_vertex(row: dict) -> bool:
    """A ComputationGraph vertex that is not a layer (merge, element-wise, ...)."""
    return "inputs" in row and row.get("n_in") is None and row["params"] == 0


def _configuration(model) -> dict:
    with _jvm.java_errors("reading the model configuration"):
        if model.kind == "MultiLayerNetwork":
            text = model.java_model.getLayerWiseConfigurations().toJson()
        else:
            text = model.java_model.getConfiguration().toJson()
    return json.loads(str(text))


def _layer_config(kind: str, config: dict, index: int, name: str):
    """One layer's DL4J configuration and its input preprocessor (or None)."""
    if kind == "MultiLayerNetwork":
        pre = (config.get("inputPreProcessors") or {}).get(str(index))
        return config["confs"][index].get("layer", {}), pre
    vertex = config["vertices"].get(name) or {}
    conf = (vertex.get("layerConf") or {}).get("layer", {})
    return conf, vertex.get("preProcessor")


def _param_table(model, index: int, name: str) -> dict[str, np.ndarray]:
    with _jvm.java_errors(f"reading the parameters of layer {name}"):
        if model.kind == "MultiLayerNetwork":
            layer = model.java_model.getLayer(index)
        else:
            layer = model.java_model.getLayer(name)
        table = layer.paramTable()
        return {str(k): _arrays.from_java(table.get(k)) for k in table.keySet()}


def _to_usual_layout(kind: str, key: str, value: np.ndarray) -> np.ndarray:
    """DL4J's parameter array in the layout documented in this module."""
    if key == "log10stdev":
        # Batch normalization with useLogStd keeps log10(sqrt(var)); eps is added at
        # inference, as with a stored variance.
        return (100.0 ** value.reshape(-1).astype(np.float64)).astype(value.dtype)
    if kind == "LSTM":
        if key == "b":
            return _reorder_gates(value.reshape(-1), axis=0)
        return _reorder_gates(value.T, axis=0)
    if key == "W" and kind != "ConvolutionLayer":
        return np.ascontiguousarray(value.T)
    if value.ndim <= 2 and key != "W":
        return np.ascontiguousarray(value.reshape(-1))
    return np.ascontiguousarray(value)


def _reorder_gates(value: np.ndarray, axis: int) -> np.ndarray:
    blocks = np.split(value, 4, axis=axis)
    return np.ascontiguousarray(
        np.concatenate([blocks[i] for i in _LSTM_GATES], axis=axis)
    )


def _describe(row: dict, conf: dict, preprocessor: dict | None) -> dict:
    """A layer's entry in the architecture JSON."""
    entry = {
        k: row[k]
        for k in ("name", "type", "activation", "n_in", "n_out", "loss", "inputs")
        if k in row
    }
    if row["type"] in ("ConvolutionLayer", "SubsamplingLayer"):
        for ours, theirs in (
            ("kernel", "kernelSize"),
            ("stride", "stride"),
            ("padding", "padding"),
            ("dilation", "dilation"),
            ("convolution_mode", "convolutionMode"),
            ("data_format", "cnn2dDataFormat"),
            ("pooling", "poolingType"),
        ):
            if theirs in conf:
                entry[ours] = conf[theirs]
    if row["type"] == "LSTM":
        gate = conf.get("gateActivationFn") or {}
        entry["gate_activation"] = str(gate.get("@class", "")).rsplit(".", 1)[-1]
    if row["type"] == "BatchNormalization":
        entry["eps"] = conf.get("eps")
        # DL4J 1.0.0-M2.1's batch normalization never applies the activation its
        # configuration names (it inherits the global default, often sigmoid).
        entry["activation"] = "identity"
    if preprocessor:
        entry["preprocessor"] = {
            "type": str(preprocessor.get("@class", "")).rsplit(".", 1)[-1],
            **{
                _PREPROCESSOR_KEYS.get(k, k): v
                for k, v in preprocessor.items()
                if k != "@class"
            },
        }
    return entry


_ND4J_EPS = 1e-5

_PREPROCESSOR_KEYS = {
    "numChannels": "channels",
    "inputHeight": "height",
    "inputWidth": "width",
}


def _normalizer_stats(norm) -> tuple[dict[str, np.ndarray], str]:
    kind = str(norm.getClass().getSimpleName())
    with _jvm.java_errors("reading the normalizer"):
        if kind == "NormalizerStandardize":
            getters = {"mean": norm.getMean, "std": norm.getStd}
        elif kind == "NormalizerMinMaxScaler":
            getters = {"min": norm.getMin, "max": norm.getMax}
        else:
            # TODO(issue-4): image and multi-stat normalizers export their kind only.
            return {}, kind
        stats = {k: _arrays.from_java(get()).reshape(-1) for k, get in getters.items()}
        if kind == "NormalizerMinMaxScaler":
            stats["target_range"] = np.array(
                [norm.getTargetMin(), norm.getTargetMax()], dtype=np.float64
            )
    if "std" in stats:
        # DL4J divides by 1 where the stored deviation is zero within its epsilon
        # (1e-5, the floor its statistics clamp to); the export holds the divisor.
        std = stats["std"]
        stats["std"] = np.where(np.abs(std.astype(np.float64)) < _ND4J_EPS, 1, std)
        stats["std"] = stats["std"].astype(std.dtype)
    return stats, kind
