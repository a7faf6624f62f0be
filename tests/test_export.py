"""Exported weights, run by plain numpy, give DL4J's outputs; both formats agree."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import checkpoint, mnist_test_set, sha256, standardized_iris

import py_dl4j_ft as ft
from py_dl4j_ft.cli import cli

pytestmark = pytest.mark.jvm

IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
LOAN = "kam2018__ai-agent-service/loan_approval_model.zip"
LOAN_NORMALIZER = "kam2018__ai-agent-service/normalizer.bin"
LOAN_DATA = "kam2018__ai-agent-service/synthetic_loan_data.csv"
LENET_SAME = "sjsdfg__dl4j-tutorials/LeNetModel.zip"  # first convolution in Same mode
LENET_M21 = "oliveirasamuel5959__face-recognition-system/trained_mnist_model.zip"
LSTM = "ermao3__testdl/lstm.mod"  # LSTM + RNN output layer, with a normalizer
GRAPH = "sawfly29__S_M/MyComputationGraph.zip"  # a 0.8 ComputationGraph, 4-3-3
GRAVES = (
    "deeplearning4j__dl4j-test-resources/080_ModelSerializer_Regression_CG_LSTM_1.zip"
)

# numpy in float64 against DL4J in float32: the sums run in another order, so the two
# agree to float32 rounding of the largest terms, not to the bit.
RTOL, ATOL = 2e-5, 2e-6


# A forward pass written from the export's documented layout alone.


def _activation(name: str, z: np.ndarray, axis: int = 1) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0)
    if name == "identity":
        return z
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-z))
    if name == "softsign":
        return z / (1 + np.abs(z))
    if name == "softmax":
        e = np.exp(z - z.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
    raise AssertionError(f"activation {name} not in this test's forward pass")


def _same_padding(size: int, kernel: int, stride: int, dilation: int):
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _windows(x: np.ndarray, layer: dict, fill: float) -> np.ndarray:
    """[n, c, out_h, out_w, kh, kw] patches of NCHW ``x`` under the layer's settings."""
    (kh, kw), (sh, sw) = layer["kernel"], layer["stride"]
    (dh, dw), (ph, pw) = layer["dilation"], layer["padding"]
    if layer["convolution_mode"] == "Same":
        pad_h = _same_padding(x.shape[2], kh, sh, dh)
        pad_w = _same_padding(x.shape[3], kw, sw, dw)
    else:
        pad_h, pad_w = (ph, ph), (pw, pw)
    x = np.pad(x, ((0, 0), (0, 0), pad_h, pad_w), constant_values=fill)
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    view = np.lib.stride_tricks.sliding_window_view(x, (span_h, span_w), axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def numpy_forward(arrays: dict, x: np.ndarray) -> np.ndarray:
    """Runs a feed-forward or CNN MultiLayerNetwork from its export, in float64."""
    arch = json.loads(str(arrays["architecture"]))
    if arch["normalizer"] is not None:
        assert arch["normalizer"]["type"] == "NormalizerStandardize"
        x = (x - arrays["normalizer.mean"]) / arrays["normalizer.std"]
    a = x.astype(np.float64)
    for layer in arch["layers"]:
        name, kind = layer["name"], layer["type"]
        pre = layer.get("preprocessor")
        if pre and pre["type"] == "FeedForwardToCnnPreProcessor":
            a = a.reshape(len(a), pre["channels"], pre["height"], pre["width"])
        if pre and pre["type"] == "CnnToFeedForwardPreProcessor":
            a = a.reshape(len(a), -1)  # [n, c, h, w] flattened in C order
        if kind == "Input":
            continue  # a ComputationGraph's input vertex
        if kind in ("DenseLayer", "OutputLayer"):
            w, b = arrays[f"{name}.weight"], arrays[f"{name}.bias"]
            a = _activation(layer["activation"], a @ w.T + b)
        elif kind == "ConvolutionLayer":
            w, b = arrays[f"{name}.weight"], arrays[f"{name}.bias"]
            patches = _windows(a, layer, 0.0)
            z = np.einsum("ncyxij,ocij->noyx", patches, w) + b[None, :, None, None]
            a = _activation(layer["activation"], z)
        elif kind == "BatchNormalization":
            scale = arrays[f"{name}.gamma"] / np.sqrt(
                arrays[f"{name}.var"] + layer["eps"]
            )
            z = (a - arrays[f"{name}.mean"]) * scale + arrays[f"{name}.beta"]
            a = _activation(layer["activation"], z)
        elif kind == "SubsamplingLayer":
            assert layer["pooling"] == "MAX"
            a = _windows(a, layer, -np.inf).max(axis=(4, 5))
        else:
            raise AssertionError(f"{kind} not in this test's forward pass")
    return a


def numpy_lstm_forward(arrays: dict, x: np.ndarray) -> np.ndarray:
    """LSTM (gates input, forget, cell, output) then a softmax per time step."""
    arch = json.loads(str(arrays["architecture"]))
    lstm, out = arch["layers"]
    assert arch["lstm_gate_order"] == ["input", "forget", "cell", "output"]
    assert lstm["gate_activation"] == "ActivationSigmoid"
    x = (x - arrays["normalizer.mean"][None, :, None]) / arrays["normalizer.std"][
        None, :, None
    ]
    w_ih = arrays["layer0.weight_ih"].astype(np.float64)
    w_hh = arrays["layer0.weight_hh"].astype(np.float64)
    bias = arrays["layer0.bias"]
    size = lstm["n_out"]
    h = np.zeros((len(x), size))
    c = np.zeros((len(x), size))
    steps = []
    for t in range(x.shape[2]):
        z = x[:, :, t] @ w_ih.T + h @ w_hh.T + bias
        i, f, g, o = (z[:, k * size : (k + 1) * size] for k in range(4))
        sig = lambda v: _activation("sigmoid", v)  # noqa: E731
        c = sig(f) * c + sig(i) * _activation(lstm["activation"], g)
        h = sig(o) * _activation(lstm["activation"], c)
        z_out = h @ arrays["layer1.weight"].T + arrays["layer1.bias"]
        steps.append(_activation(out["activation"], z_out))
    return np.stack(steps, axis=2)  # [batch, classes, time]


def _export(model, tmp_path, fmt="npz"):
    path = model.export(tmp_path / f"model.{fmt}", format=fmt)
    if fmt == "npz":
        return dict(np.load(path))
    from safetensors import safe_open
    from safetensors.numpy import load_file

    arrays = load_file(path)
    with safe_open(path, "np") as f:
        arrays["architecture"] = np.array(f.metadata()["architecture"])
    return arrays


@pytest.mark.parametrize("relative", [IRIS, GRAPH])
def test_dense_mlp_export_runs_in_numpy(jvm, tmp_path, relative):
    model = ft.PreTrainedModel.load(checkpoint(relative))
    arrays = _export(model, tmp_path)
    assert arrays["layer0.weight"].shape == (3, 4)  # [out, in]
    assert arrays["layer0.bias"].shape == (3,)
    x, y = standardized_iris()
    expected = model.predict(x)
    np.testing.assert_allclose(numpy_forward(arrays, x), expected, RTOL, ATOL)
    total = sum(v.size for k, v in arrays.items() if k != "architecture")
    assert total == model.n_params


def test_normalizer_is_exported_and_applied(jvm, tmp_path):
    model = ft.PreTrainedModel.load(
        checkpoint(LOAN), normalizer=checkpoint(LOAN_NORMALIZER)
    )
    arrays = _export(model, tmp_path)
    assert arrays["normalizer.mean"].shape == (4,)
    data = ft.load_dataset(checkpoint(LOAN_DATA), label_column="label")
    x = data.features[:200]
    np.testing.assert_allclose(numpy_forward(arrays, x), model.predict(x), RTOL, ATOL)
    # The loan model's accuracy on its own data, computed from numpy alone.
    agree = numpy_forward(arrays, data.features).argmax(axis=1) == data.labels
    assert agree.mean() == pytest.approx(0.936)


@pytest.mark.parametrize("relative", [LENET_SAME, LENET_M21])
def test_lenet_export_runs_in_numpy(jvm, tmp_path, relative):
    model = ft.PreTrainedModel.load(checkpoint(relative))
    arrays = _export(model, tmp_path)
    arch = json.loads(str(arrays["architecture"]))
    modes = [l.get("convolution_mode") for l in arch["layers"]]  # noqa: E741
    assert arrays["layer0.weight"].shape == (20, 1, 5, 5)  # [out, in, kh, kw]
    images, _ = mnist_test_set()
    x = images[:64].astype(np.float32)
    expected = model.predict(x)
    got = numpy_forward(arrays, x)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    if relative == LENET_SAME:
        assert modes[:4] == ["Same", "Truncate", "Truncate", "Truncate"]


def _batch_norm_mlp(jvm):
    """Dense -> BatchNormalization -> Output, built by DL4J (no checkpoint has one)."""
    j = jvm.jclass
    relu = j("org.nd4j.linalg.activations.Activation").RELU
    softmax = j("org.nd4j.linalg.activations.Activation").SOFTMAX
    mcxent = j("org.nd4j.linalg.lossfunctions.LossFunctions$LossFunction").MCXENT
    layers = "org.deeplearning4j.nn.conf.layers."
    conf = (
        j("org.deeplearning4j.nn.conf.NeuralNetConfiguration$Builder")()
        .seed(1)
        .updater(j("org.nd4j.linalg.learning.config.Adam")(0.01))
        .list(
            j(layers + "DenseLayer$Builder")().nIn(4).nOut(8).activation(relu).build(),
            j(layers + "BatchNormalization$Builder")().build(),
            j(layers + "OutputLayer$Builder")(mcxent)
            .nIn(8)
            .nOut(3)
            .activation(softmax)
            .build(),
        )
        .build()
    )
    net = j("org.deeplearning4j.nn.multilayer.MultiLayerNetwork")(conf)
    net.init()
    return ft.PreTrainedModel(net, "MultiLayerNetwork")


def test_batch_norm_export_runs_in_numpy(jvm, tmp_path):
    model = _batch_norm_mlp(jvm)
    x, y = standardized_iris()
    model.fine_tune(x, y, 0.01, epochs=5, batch_size=16)  # running mean and var move
    arrays = _export(model, tmp_path)
    # M2.1 keeps log10 of the deviation; the export turns it back into a variance.
    assert {k for k in arrays if k.startswith("layer1.")} == {
        "layer1.gamma",
        "layer1.beta",
        "layer1.mean",
        "layer1.var",
    }
    assert arrays["layer1.var"].shape == (8,)
    assert not np.allclose(arrays["layer1.var"], 1)
    # Its configuration says sigmoid (the global default), which DL4J does not apply.
    assert model.info["layers"][1]["activation"] == "sigmoid"
    arch = json.loads(str(arrays["architecture"]))
    assert arch["layers"][1]["activation"] == "identity"
    np.testing.assert_allclose(numpy_forward(arrays, x), model.predict(x), RTOL, ATOL)


def test_lstm_export_runs_in_numpy(jvm, tmp_path):
    model = ft.PreTrainedModel.load(checkpoint(LSTM))
    arrays = _export(model, tmp_path)
    assert arrays["layer0.weight_ih"].shape == (120, 86)  # [4*out, in]
    assert arrays["layer0.weight_hh"].shape == (120, 30)
    # Feature 9 never varied in training: DL4J stored the floor 1e-5 as its deviation
    # and divides by 1 there, so the export holds 1.
    assert arrays["normalizer.std"][9] == 1
    assert arrays["normalizer.std"][0] == pytest.approx(14.234523)
    x = np.random.default_rng(5).standard_normal((3, 86, 7)).astype(np.float32)
    np.testing.assert_allclose(
        numpy_lstm_forward(arrays, x), model.predict(x), rtol=1e-4, atol=1e-5
    )


def test_safetensors_holds_the_same_as_npz(jvm, tmp_path):
    model = ft.PreTrainedModel.load(checkpoint(LSTM))
    npz = _export(model, tmp_path, "npz")
    st = _export(model, tmp_path, "safetensors")
    assert sorted(st) == sorted(npz)
    for key in npz:
        if key == "architecture":
            assert json.loads(str(st[key])) == json.loads(str(npz[key]))
        else:
            assert st[key].dtype == npz[key].dtype == np.float32
            np.testing.assert_array_equal(st[key], npz[key])


def test_export_refusals(jvm, tmp_path, monkeypatch):
    model = ft.PreTrainedModel.load(checkpoint(IRIS))
    with pytest.raises(ft.ArgumentError, match="npz, safetensors"):
        model.export(tmp_path / "m.onnx", format="onnx")
    with pytest.raises(ft.OutputPathError, match="does not exist"):
        model.export(tmp_path / "no" / "m.npz")
    (tmp_path / "m.npz").write_bytes(b"keep")
    with pytest.raises(ft.OutputExistsError):
        model.export(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == b"keep"

    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ft.OptionalDependencyError, match=r"py_dl4j_ft\[export\]"):
        model.export(tmp_path / "m.safetensors", format="safetensors")
    monkeypatch.undo()

    graves = ft.PreTrainedModel.load(checkpoint(GRAVES))
    with pytest.raises(ft.UnsupportedLayerError, match="GravesLSTM") as caught:
        graves.export(tmp_path / "g.npz")
    assert caught.value.layer == "0" and caught.value.layer_class == "GravesLSTM"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_cli_export(jvm, tmp_path):
    source = checkpoint(IRIS)
    before = sha256(source)
    out = tmp_path / "iris.safetensors"
    runner = CliRunner()
    done = runner.invoke(
        cli, ["export", str(source), "--format", "safetensors", "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert "exported 39 parameters" in done.output
    again = runner.invoke(cli, ["export", str(source), "--out", str(out)])
    assert again.exit_code == 6 and again.output.startswith("error:")
    bad = runner.invoke(cli, ["export", str(source), "--format", "onnx", "--out", "x"])
    assert bad.exit_code == 2 and "onnx" in bad.output
    graves = runner.invoke(
        cli, ["export", str(checkpoint(GRAVES)), "--out", str(tmp_path / "g.npz")]
    )
    assert graves.exit_code == 4 and "GravesLSTM" in graves.output
    assert sha256(source) == before


def test_a_transferred_model_with_frozen_layers_exports(jvm, tmp_path):
    from py_dl4j_ft import transfer

    base = ft.PreTrainedModel.load(checkpoint(IRIS))
    model = transfer.transfer(base, freeze=2, n_classes=2)
    x, y = standardized_iris()
    model.fine_tune(x, (y == 2).astype(int), 0.05, epochs=2, batch_size=50)
    arrays = _export(model, tmp_path)
    layers = json.loads(str(arrays["architecture"]))["layers"]
    assert [layer.get("frozen", False) for layer in layers] == [True, True, False]
    assert [layer["type"] for layer in layers] == ["DenseLayer"] * 2 + ["OutputLayer"]
    # Frozen layers still hold the checkpoint's weights, in the usual layout.
    (tmp_path / "base").mkdir()
    base_arrays = _export(base, tmp_path / "base")
    np.testing.assert_array_equal(arrays["layer0.weight"], base_arrays["layer0.weight"])
    assert arrays["new_output.weight"].shape == (2, 3)
    np.testing.assert_allclose(numpy_forward(arrays, x), model.predict(x), RTOL, ATOL)
