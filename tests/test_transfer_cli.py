"""``dl4j-ft transfer`` and ``dl4j-ft transfer-demo``, in-process, on real DL4J."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import checkpoint, sha256, standardized_iris

from py_dl4j_ft import PreTrainedModel, transfer_demo
from py_dl4j_ft.cli import cli

pytestmark = pytest.mark.jvm

IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
GRAPH = "sawfly29__S_M/MyComputationGraph.zip"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def virginica_csv(workdir: Path) -> Path:
    """Iris with a new, two-class label set: is it virginica?"""
    x, y = standardized_iris()
    path = workdir / "virginica.csv"
    np.savetxt(
        path, np.column_stack([(y == 2).astype(int), x]), delimiter=",", fmt="%.6f"
    )
    return path


def run(*args) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def transfer_args(model: Path, data: Path, *extra) -> list:
    return [
        "transfer",
        model,
        "--data",
        data,
        "--label-column",
        "0",
        "--n-classes",
        "2",
        *extra,
    ]


def assert_one_error_line(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("model", [IRIS, GRAPH])
def test_transfer_two_stages_and_saves_a_loadable_zip(
    jvm, workdir, virginica_csv, model
):
    source = checkpoint(model)
    digest = sha256(source)
    result = run(
        *transfer_args(source, virginica_csv),
        "--freeze",
        "1",
        "--head-epochs",
        "15",
        "--head-lr",
        "0.05",
        "--epochs",
        "5",
        "--lr",
        "0.005",
        "--batch-size",
        "30",
        "--out",
        "new.zip",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["head_loss"]) == 15 and len(report["loss"]) == 5
    assert report["after"]["accuracy"] >= 0.8  # the majority class is 2/3
    reloaded = PreTrainedModel.load(workdir / "new.zip")
    assert reloaded.n_outputs == 2
    assert reloaded.frozen_layers == []
    assert reloaded.learning_rate == pytest.approx(0.005)
    assert sha256(source) == digest


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["--freeze", "7"], ["--freeze 7", "3 layers"]),
        (["--freeze", "dense9"], ["dense9", "no such layer"]),
        (["--freeze", "layer1", "--remove-top", "2"], ["removes them"]),
    ],
)
def test_bad_transfer_requests_are_one_line(
    jvm, workdir, virginica_csv, extra, fragments
):
    result = run(
        *transfer_args(checkpoint(IRIS), virginica_csv), *extra, "--out", "x.zip"
    )
    assert_one_error_line(result, 2, *fragments)
    assert not (workdir / "x.zip").exists()
    assert sorted(p.name for p in workdir.glob(".*")) == []


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--n-classes", "1"], "--n-classes"),
        (["--updater", "adamw"], "adamw"),
        (["--lr", "-1"], "positive"),
        (["--freeze", ","], "layer names"),
    ],
)
def test_bad_transfer_options_are_one_line_usage_errors(
    workdir, virginica_csv, extra, fragment
):
    # As a shell runs it: click refuses these before any JVM starts.
    args = [str(a) for a in transfer_args(Path("m.zip"), virginica_csv)]
    done = subprocess.run(
        [sys.executable, "-m", "py_dl4j_ft", *args, *extra, "--out", "x.zip"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert fragment in lines[0]


def test_transfer_refuses_an_existing_output(jvm, workdir, virginica_csv):
    (workdir / "x.zip").write_bytes(b"keep")
    result = run(*transfer_args(checkpoint(IRIS), virginica_csv), "--out", "x.zip")
    assert_one_error_line(result, 6, "x.zip")
    assert (workdir / "x.zip").read_bytes() == b"keep"


@pytest.mark.slow
def test_transfer_demo_compares_with_training_from_scratch(jvm, tmp_path):
    lines = []
    result = transfer_demo.run(tmp_path, task="parity", draws=2, echo=lines.append)
    assert set(result["mean"]) == {"head", "two-stage", "scratch"}
    for values in result["accuracy"].values():
        assert len(values) == 2 and all(0.5 < v <= 1 for v in values)
    # On these two draws the frozen base's features beat training from scratch.
    assert result["mean"]["head"] > result["mean"]["scratch"]
    assert lines[-1].startswith("mean accuracy: head ")


def test_transfer_with_early_stopping_and_a_loss_curve(workdir, virginica_csv):
    out, png = workdir / "new.zip", workdir / "curve.png"
    result = run(
        *transfer_args(checkpoint(IRIS), virginica_csv),
        "--head-epochs",
        "6",
        "--head-lr",
        "0.5",
        "--epochs",
        "6",
        "--lr",
        "0.05",
        "--validation-split",
        "0.3",
        "--early-stopping",
        "loss",
        "--patience",
        "2",
        "--plot",
        png,
        "--out",
        out,
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["head_best_epoch"] is not None and report["best_epoch"] is not None
    assert report["best_epoch"] > report["head_best_epoch"]  # the counter runs on
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = PreTrainedModel.load(out)
    assert saved.frozen_layers == [] and saved.n_outputs == 2
    x, y = standardized_iris()
    assert saved.evaluate(x, y == 2)["accuracy"] == pytest.approx(
        report["after"]["accuracy"]
    )
