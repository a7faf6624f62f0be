"""Upgrading old checkpoints: same numbers, current format, plain Java loads them."""

from __future__ import annotations

import json
import subprocess
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT, checkpoint, sha256

import py_dl4j_ft as ft
from py_dl4j_ft import _arrays, _jars, _jvm
from py_dl4j_ft.cli import cli

pytestmark = [pytest.mark.jvm, pytest.mark.slow]

# (checkpoint, era, input shape): one file per era DL4J wrote differently.
CASES = [
    ("deeplearning4j__dl4j-test-resources/050_ModelSerializer_Regression_MLP_1.zip",
     "0.5.0", (7, 3)),
    ("deeplearning4j__dl4j-test-resources/071_ModelSerializer_Regression_CNN_1.zip",
     "0.7.1", None),
    ("deeplearning4j__dl4j-test-resources/080_ModelSerializer_Regression_CG_LSTM_1.zip",
     "0.8.0", (3, 3, 6)),
    ("sawfly29__S_M/MyComputationGraph.zip", "0.8.0 graph, dropOut 0.0", (5, 4)),
    ("deeplearning4j__deeplearning4j-examples/trained_iris_model.zip", "0.9.1", (6, 4)),
    ("Well5a__Dl4jRNNRegressionTest/bestModel.bin", "1.0.0-beta", (2, 1, 9)),
    ("ermao3__testdl/lstm.mod", "1.0.0-beta3 + normalizer", (2, 86, 5)),
    ("sjsdfg__dl4j-tutorials/LeNetModel.zip", "1.0.0-beta CNN", (2, 784)),
    ("malfaro2__dl4j-test-resources/VaeMNISTAnomaly_100a.bin", "1.0.0-alpha VAE",
     (2, 784)),
    ("deeplearning4j__dl4j-test-resources/SyntheticCNN_100b4.bin", "1.0.0-beta4",
     (2, 1, 28, 28)),
    ("KonduitAI__dl4j-test-resources/SyntheticBidirectionalRNNGraph_100b6.bin",
     "1.0.0-beta6 graph", (2, 10, 5)),
    ("jiangxlGit__skyworth-ai-tutorials/mnist-model.zip", "1.0.0-beta7", (2, 784)),
    ("ASIMWELA__mnistmodel-rest-example/MyMultiLayerNetwork.zip", "1.0.0-M1.1",
     (2, 784)),
]  # fmt: skip
# The 0.7.1 CNN cannot predict in M2.1 on any input: its CNN-to-dense preprocessor says
# 3x28x28 while its output layer takes 2028 = 3x26x26 values. Its numbers are compared,
# not its outputs.


def _updater_state(model) -> np.ndarray | None:
    updater = model.java_model.getUpdater(False)
    state = None if updater is None else updater.getStateViewArray()
    return None if state is None else _arrays.from_java(state).ravel()


@pytest.fixture(scope="module")
def upgraded(jvm, tmp_path_factory):
    """Every case upgraded once; the originals' numbers and hashes kept beside them."""
    folder = tmp_path_factory.mktemp("upgraded")
    rng = np.random.default_rng(4)
    out = {}
    for index, (relative, _, shape) in enumerate(CASES):
        source = checkpoint(relative)
        x = None if shape is None else rng.standard_normal(shape).astype(np.float32)
        if x is not None:
            np.save(folder / f"x{index}.npy", x)
        before = sha256(source)
        original = ft.PreTrainedModel.load(source)
        target = ft.upgrade(source, folder / f"up{index}.zip")
        upgraded = ft.PreTrainedModel.load(target)
        out[relative] = {
            "source": source,
            "target": target,
            "x": x,
            "x_path": "-" if x is None else folder / f"x{index}.npy",
            "hash_before": before,
            "hash_after": sha256(source),
            "original": original,
            "upgraded": upgraded,
            # Predicted once per model: DL4J M2.1 fails every second prediction of the
            # 0.8 bidirectional-LSTM graph (a workspace scope error).
            "y_old": None if x is None else original.predict(x),
            "y_new": None if x is None else upgraded.predict(x),
        }
    return out


@pytest.mark.parametrize("relative", [c[0] for c in CASES], ids=[c[1] for c in CASES])
def test_upgraded_model_computes_exactly_the_same(upgraded, relative):
    case = upgraded[relative]
    old, new = case["original"], case["upgraded"]
    assert case["hash_after"] == case["hash_before"]

    assert new.kind == old.kind
    np.testing.assert_array_equal(
        _arrays.from_java(new.java_model.params()),
        _arrays.from_java(old.java_model.params()),
    )
    had_state = zipfile.ZipFile(case["source"]).namelist().count("updaterState.bin")
    assert ("updaterState.bin" in zipfile.ZipFile(case["target"]).namelist()) == bool(
        had_state
    )
    if had_state:
        np.testing.assert_array_equal(_updater_state(new), _updater_state(old))
    assert (new.normalizer is None) == (old.normalizer is None)
    # Same DL4J, same parameters, same configuration objects: the same float
    # operations in the same order, so the outputs agree to the bit.
    if case["x"] is not None:
        np.testing.assert_array_equal(case["y_new"], case["y_old"])
    assert new.info["layers"] == old.info["layers"]


def test_upgraded_configuration_is_in_the_current_format(upgraded):
    for relative, case in upgraded.items():
        with zipfile.ZipFile(case["target"]) as z:
            config = json.loads(z.read("configuration.json"))
        # M2.1 names every layer by its class and states the data type; 0.5-0.9 wrapped
        # layers in an object keyed by a short name ({"dense": {...}}).
        if case["original"].kind == "MultiLayerNetwork":
            layers = [c["layer"] for c in config["confs"]]
        else:
            layers = [
                v["layerConf"]["layer"]
                for v in config["vertices"].values()
                if "layerConf" in v
            ]
        assert config["dataType"] == "FLOAT", relative
        assert all(
            layer["@class"].startswith("org.deeplearning4j.") for layer in layers
        )
        with zipfile.ZipFile(case["source"]) as z:
            assert z.read("coefficients.bin") != b"", relative


def test_compat_fixes_are_stored_in_the_upgraded_file(upgraded):
    # The 0.8 graph's RNN output layer had no data format; M2.1 needs NCW stored.
    lstm = upgraded[CASES[2][0]]
    config = json.loads(zipfile.ZipFile(lstm["target"]).read("configuration.json"))
    assert config["vertices"]["2"]["layerConf"]["layer"]["rnnDataFormat"] == "NCW"
    # The graph with "dropOut": 0.0 (no dropout before 1.0) keeps no dropout at all.
    graph = upgraded[CASES[3][0]]
    text = zipfile.ZipFile(graph["target"]).read("configuration.json").decode()
    assert '"dropOut"' not in text and "Dropout" not in text


def test_plain_java_loads_every_upgraded_file(upgraded):
    # Only DL4J's jars, no compatibility fixes: the file itself must be current.
    jars = [j for j in _jars.classpath(_jvm.settings()) if "py-dl4j-ft-helper" not in j]
    args = []
    for case in upgraded.values():
        args += [case["original"].kind, str(case["target"]), str(case["x_path"])]
    done = subprocess.run(
        ["java", "-cp", ":".join(jars), str(ROOT / "tests/java/PlainJavaLoadMany.java")]
        + args,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    blocks = {}
    for line in done.stdout.splitlines():
        key, _, rest = line.partition(" ")
        if key == "model":
            current = blocks.setdefault(rest, {})
        elif key in ("normalizer", "values", "state", "output"):
            current[key] = rest
    assert len(blocks) == len(CASES)

    def floats(text):
        return np.array(text.split(), dtype=np.int64).astype(np.int32).view(np.float32)

    for case in upgraded.values():
        java = blocks[str(case["target"])]
        old = case["original"]
        assert java["normalizer"] == str(old.normalizer is not None).lower()
        np.testing.assert_array_equal(
            floats(java["values"]), _arrays.from_java(old.java_model.params()).ravel()
        )
        state = _updater_state(old)
        if "updaterState.bin" in zipfile.ZipFile(case["source"]).namelist():
            np.testing.assert_array_equal(floats(java["state"]), state)
        if case["x"] is not None:
            np.testing.assert_array_equal(floats(java["output"]), case["y_old"].ravel())


def test_upgrade_refuses_to_write_over_its_input(jvm, tmp_path):
    source = checkpoint(
        "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
    )
    copy = tmp_path / "iris.zip"
    copy.write_bytes(source.read_bytes())
    before = sha256(copy)
    same = "same file as the checkpoint to upgrade"
    with pytest.raises(ft.OutputExistsError, match=same):
        ft.upgrade(copy, tmp_path / "." / "iris.zip", overwrite=True)
    link = tmp_path / "link.zip"
    link.hardlink_to(copy)
    with pytest.raises(ft.OutputExistsError, match=same):
        ft.upgrade(copy, link, overwrite=True)
    assert sha256(copy) == before


def test_cli_upgrade(jvm, tmp_path):
    source = checkpoint(CASES[0][0])
    out = tmp_path / "new.zip"
    runner = CliRunner()
    done = runner.invoke(cli, ["upgrade", str(source), str(out)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("upgraded ")
    again = runner.invoke(cli, ["upgrade", str(source), str(out)])
    assert again.exit_code == 6
    assert again.output.startswith("error:") and "already exists" in again.output
    missing = runner.invoke(cli, ["upgrade", str(source), str(tmp_path / "no/x.zip")])
    assert missing.exit_code == 6 and "does not exist" in missing.output
    not_zip = tmp_path / "bad.zip"
    not_zip.write_bytes(b"hello")
    bad = runner.invoke(cli, ["upgrade", str(not_zip), str(tmp_path / "y.zip")])
    assert bad.exit_code == 4 and "not a zip" in bad.output
    assert not (tmp_path / "y.zip").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
