"""Resume: N iterations, save, reload, N more equals 2N in one go, for Adam and
Nesterovs, on a MultiLayerNetwork and a ComputationGraph."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import checkpoint, standardized_iris

from py_dl4j_ft import PreTrainedModel, load_dataset

pytestmark = pytest.mark.jvm

LOAN = "kam2018__ai-agent-service/"
SAWFLY = "sawfly29__S_M/"


def params(model) -> np.ndarray:
    from py_dl4j_ft import _arrays

    return _arrays.from_java(model.java_model.params())


def updater_state(model) -> np.ndarray:
    from py_dl4j_ft import _arrays

    return _arrays.from_java(model.java_model.getUpdater().getStateViewArray())


def _loan():
    data = load_dataset(
        checkpoint(LOAN + "synthetic_loan_data.csv"), label_column="label"
    )
    return data.features[:400], data.labels[:400]


def _graph_switched_to_adam(tmp_path, x, y):
    """sawfly29's 0.8.0 graph with its Nesterovs replaced by Adam through DL4J's own
    configuration API, trained a little so the Adam moments are not zero, saved."""
    from py_dl4j_ft import _jvm

    source = PreTrainedModel.load(checkpoint(SAWFLY + "MyComputationGraph.zip"))
    conf = source.java_model.getConfiguration().clone()
    adam = _jvm.jclass("org.nd4j.linalg.learning.config.Adam")
    layer_vertex = _jvm.jclass("org.deeplearning4j.nn.conf.graph.LayerVertex")
    vertices = conf.getVertices()
    for name in vertices.keySet():
        vertex = vertices.get(name)
        if isinstance(vertex, layer_vertex):
            vertex.getLayerConf().getLayer().setIUpdater(adam(0.01))
    graph = _jvm.jclass("org.deeplearning4j.nn.graph.ComputationGraph")(conf)
    graph.init(source.java_model.params().dup(), False)
    model = PreTrainedModel(graph, "ComputationGraph")
    assert model.info["layers"][1]["updater"] == "Adam"
    model.train(x, y, epochs=1, batch_size=30, shuffle=False)
    return model.save(tmp_path / "graph_adam.zip")


CASES = {
    "MultiLayerNetwork-Adam": (
        "Adam",
        lambda tmp, x, y: checkpoint(LOAN + "loan_approval_model.zip"),
    ),
    "MultiLayerNetwork-Nesterovs": (
        "Nesterovs",
        lambda tmp, x, y: checkpoint(SAWFLY + "MyMultiLayerNetwork.zip"),
    ),
    "ComputationGraph-Nesterovs": (
        "Nesterovs",
        lambda tmp, x, y: checkpoint(SAWFLY + "MyComputationGraph.zip"),
    ),
    "ComputationGraph-Adam": ("Adam", _graph_switched_to_adam),
}


@pytest.mark.parametrize("case", list(CASES))
def test_save_reload_and_continue_equals_training_in_one_go(jvm, tmp_path, case):
    updater, make_base = CASES[case]
    if case.startswith("MultiLayerNetwork-Adam"):
        x, y = _loan()
        normalizer = checkpoint(LOAN + "normalizer.bin")
    else:
        x, y = standardized_iris()
        normalizer = None
    base = make_base(tmp_path, x, y)
    batch = 25  # N = len(x) / batch iterations per epoch, in file order

    def load(path, **kw):
        return PreTrainedModel.load(
            path, normalizer=normalizer if path == base else None, **kw
        )

    def fit(model, epochs):
        model.train(x, y, epochs=epochs, batch_size=batch, shuffle=False)

    straight = load(base)
    assert straight.info["layers"][-1]["updater"] == updater
    fit(straight, 2)

    first = load(base)
    fit(first, 1)
    # sawfly29's zips store a Nesterovs state of zeros; after N iterations it is not.
    assert np.abs(updater_state(first)).max() > 1e-4  # real optimizer state to carry
    half = first.save(tmp_path / "half.zip")
    resumed = load(half)
    fit(resumed, 1)

    np.testing.assert_allclose(params(resumed), params(straight), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        updater_state(resumed), updater_state(straight), rtol=1e-5, atol=1e-7
    )
    assert resumed.info["iteration_count"] == straight.info["iteration_count"]

    # Without the optimizer state the same data leads elsewhere, so the test can fail.
    fresh = load(half, load_updater=False)
    fit(fresh, 1)
    assert np.abs(params(fresh) - params(straight)).max() > 1e-4
