"""The ``dl4j-ft`` commands, run in-process with click's CliRunner on real checkpoints.

Every command shares the session JVM, so a failure must leave it usable: each error
case ends by running a command that has to succeed. Commands run in a fresh folder
per test, and that folder is checked for the hidden temporary files a failed save could
leave behind.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import checkpoint, sha256, standardized_iris

from py_dl4j_ft import PreTrainedModel, load_dataset
from py_dl4j_ft.cli import cli

pytestmark = pytest.mark.jvm

MOON = "deeplearning4j__dl4j-test-resources/MLPMoon_Model_RANDOM_INIT_UNTRAINED.zip"
MOON_TRAIN = "deeplearning4j__dl4j-test-resources/moon_data_train.csv"
MOON_EVAL = "deeplearning4j__dl4j-test-resources/moon_data_eval.csv"
LOAN = "kam2018__ai-agent-service/loan_approval_model.zip"
LOAN_NORMALIZER = "kam2018__ai-agent-service/normalizer.bin"
LOAN_DATA = "kam2018__ai-agent-service/synthetic_loan_data.csv"
GRAPH = "sawfly29__S_M/MyComputationGraph.zip"

# What DL4J 1.0.0-M2.1 reports for these files. Both are counts over whole examples
# (281 of 1000, 936 of 1000), so they do not move with float rounding.
MOON_UNTRAINED_EVAL_ACCURACY = 0.281
LOAN_ACCURACY = 0.936

# Fine-tuning the untrained moon MLP: these settings reach ~0.96 on the eval file.
FINE_TUNE_ARGS = ["--learning-rate", "0.05", "--epochs", "5", "--batch-size", "32"]
FINE_TUNED_MIN_ACCURACY = 0.9


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    """A fresh folder that is also the working directory while the test runs."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def run_json(*args: str | Path) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def assert_error(result: Result, exit_code: int, *fragments: str) -> str:
    """Exit ``exit_code``, and one ``error:`` line on stderr holding ``fragments``."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def assert_no_leftovers(folder: Path) -> None:
    """No hidden temporary file (``.out.zip.123.tmp``, ``.x.npy.123.npy``) was left."""
    assert sorted(p.name for p in folder.glob(".*")) == []


def assert_jvm_works() -> None:
    """A real DL4J evaluation still runs, and gives the same number as before."""
    metrics = run_json(
        "evaluate",
        checkpoint(MOON),
        "--data",
        checkpoint(MOON_EVAL),
        "--label-column",
        "0",
    )
    assert metrics["accuracy"] == pytest.approx(MOON_UNTRAINED_EVAL_ACCURACY, abs=1e-9)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# info


def test_info_json_computation_graph(jvm, workdir):
    info = run_json("info", checkpoint(GRAPH))

    assert info["kind"] == "ComputationGraph"
    assert info["num_params"] == 27
    assert [layer["name"] for layer in info["layers"]] == ["in", "layer0", "layer1"]
    assert [layer["params"] for layer in info["layers"]] == [0, 15, 12]
    assert info["layers"][2]["inputs"] == ["layer0"]
    assert info["inputs"][0]["size"] == 4
    assert info["outputs"][0]["size"] == 3
    assert info["normalizer"] is False
    assert info["path"] == str(checkpoint(GRAPH))


def test_info_json_loan_model_with_normalizer(jvm, workdir):
    info = run_json(
        "info", checkpoint(LOAN), "--normalizer", checkpoint(LOAN_NORMALIZER)
    )

    assert info["kind"] == "MultiLayerNetwork"
    layers = info["layers"]
    assert [layer["name"] for layer in layers] == ["layer0", "layer1", "layer2"]
    sizes = [(layer["n_in"], layer["n_out"]) for layer in layers]
    assert sizes == [(4, 10), (10, 5), (5, 2)]
    # Dense and output layers hold n_in * n_out weights plus n_out biases.
    assert info["num_params"] == sum(n_in * n_out + n_out for n_in, n_out in sizes)
    assert info["num_params"] == 117
    assert {layer["updater"] for layer in layers} == {"Adam"}
    assert {layer["learning_rate"] for layer in layers} == {0.01}
    assert info["iteration_count"] == 100
    assert info["normalizer"] is True


def test_info_text_names_kind_and_parameter_count(jvm, workdir):
    result = run("info", checkpoint(GRAPH))

    assert result.exit_code == 0, result.stderr
    assert "ComputationGraph, 27 parameters" in result.stdout
    assert "layer1" in result.stdout


# fine-tune


@pytest.fixture(scope="module")
def moon_fine_tuned(jvm, tmp_path_factory):
    """Fine-tunes the untrained moon MLP once: its report, folder, input's sha256."""
    folder = tmp_path_factory.mktemp("moon")
    model = checkpoint(MOON)
    model_sha = sha256(model)
    result = run(
        "fine-tune",
        model,
        "--data",
        checkpoint(MOON_TRAIN),
        "--label-column",
        "0",
        "--eval-data",
        checkpoint(MOON_EVAL),
        *FINE_TUNE_ARGS,
        "--out",
        folder / "moon.zip",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), folder, model_sha


def test_fine_tune_learns_the_moons(moon_fine_tuned):
    report, _, _ = moon_fine_tuned

    assert report["before"]["accuracy"] == pytest.approx(MOON_UNTRAINED_EVAL_ACCURACY)
    assert report["after"]["accuracy"] > FINE_TUNED_MIN_ACCURACY
    assert report["after"]["accuracy"] > report["before"]["accuracy"] + 0.5
    assert report["after"]["loss"] < report["before"]["loss"]
    assert report["before"]["examples"] == report["after"]["examples"] == 1000
    assert report["learning_rate"] == pytest.approx(0.05)
    assert [e["epoch"] for e in report["history"]] == [1, 2, 3, 4, 5]
    assert report["history"][-1]["loss"] < report["history"][0]["loss"]


def test_fine_tune_saves_a_loadable_trained_model(moon_fine_tuned):
    report, folder, _ = moon_fine_tuned
    out = folder / "moon.zip"
    assert report["saved"] == str(out)

    model = PreTrainedModel.load(out)
    assert model.n_params == 102
    assert model.learning_rate == pytest.approx(0.05)
    data = load_dataset(checkpoint(MOON_EVAL), label_column=0)
    metrics = model.evaluate(data.features, data.labels)
    assert metrics["accuracy"] == pytest.approx(report["after"]["accuracy"], abs=1e-9)
    assert sorted(p.name for p in folder.iterdir()) == ["moon.zip"]


def test_fine_tune_leaves_the_input_model_unchanged(moon_fine_tuned):
    _, _, model_sha = moon_fine_tuned

    assert sha256(checkpoint(MOON)) == model_sha


def test_fine_tune_refuses_to_overwrite(moon_fine_tuned):
    _, folder, _ = moon_fine_tuned
    out = folder / "moon.zip"
    saved = out.read_bytes()

    result = run(
        "fine-tune",
        checkpoint(MOON),
        "--data",
        checkpoint(MOON_TRAIN),
        "--label-column",
        "0",
        "--learning-rate",
        "0.05",
        "--out",
        out,
        "--json",
    )

    assert_error(result, 6, str(out), "--overwrite")
    assert result.stdout == ""
    assert out.read_bytes() == saved
    assert_no_leftovers(folder)


def test_fine_tune_that_diverges_writes_nothing(jvm, workdir):
    result = run(
        "fine-tune",
        checkpoint(MOON),
        "--data",
        checkpoint(MOON_TRAIN),
        "--label-column",
        "0",
        "--learning-rate",
        "1e9",
        "--out",
        "nan.zip",
        "--json",
    )

    assert_error(result, 7, "NaN", "learning rate")
    assert not (workdir / "nan.zip").exists()
    assert list(workdir.iterdir()) == []
    assert_jvm_works()


def test_fine_tune_without_out_is_a_usage_error(workdir):
    result = run(
        "fine-tune",
        checkpoint(MOON),
        "--data",
        checkpoint(MOON_TRAIN),
        "--label-column",
        "0",
        "--learning-rate",
        "0.01",
    )

    assert result.exit_code == 2
    assert "Missing option '--out'" in result.stderr
    assert list(workdir.iterdir()) == []


# evaluate and predict


def loan_args() -> list:
    return [
        checkpoint(LOAN),
        "--normalizer",
        checkpoint(LOAN_NORMALIZER),
        "--data",
        checkpoint(LOAN_DATA),
        "--label-column",
        "label",
    ]


def test_evaluate_loan_model_gives_dl4j_accuracy_every_time(jvm, workdir):
    first = run_json("evaluate", *loan_args())
    second = run_json("evaluate", *loan_args())

    assert first["accuracy"] == pytest.approx(LOAN_ACCURACY, abs=1e-6)
    assert second == first
    assert first["examples"] == 1000
    assert 0 < first["loss"] < 0.5


def test_evaluate_applies_the_normalizer(jvm, workdir):
    raw = run_json(
        "evaluate",
        checkpoint(LOAN),
        "--data",
        checkpoint(LOAN_DATA),
        "--label-column",
        "label",
    )

    # Unscaled incomes in the tens of thousands saturate the network.
    assert raw["accuracy"] < LOAN_ACCURACY - 0.05


def test_predict_npy_and_stdout_agree_with_evaluate(jvm, workdir):
    saved = run("predict", *loan_args(), "--classes", "--out", "x.npy")
    printed = run("predict", *loan_args(), "--classes")
    probabilities = run("predict", *loan_args())

    assert saved.exit_code == printed.exit_code == probabilities.exit_code == 0
    classes = np.load(workdir / "x.npy")
    assert classes.shape == (1000,)
    assert classes.dtype.kind == "i"
    printed_classes = np.loadtxt(printed.stdout.splitlines(), dtype=np.int64)
    assert np.array_equal(printed_classes, classes)
    probs = np.loadtxt(probabilities.stdout.splitlines(), delimiter=",")
    assert probs.shape == (1000, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(probs.argmax(axis=1), classes)

    labels = np.loadtxt(checkpoint(LOAN_DATA), delimiter=",", skiprows=1)[:, -1]
    assert np.mean(classes == labels) == pytest.approx(LOAN_ACCURACY, abs=1e-9)
    assert sorted(p.name for p in workdir.iterdir()) == ["x.npy"]


def test_predict_refuses_to_overwrite(jvm, workdir):
    (workdir / "x.npy").write_bytes(b"keep")

    result = run("predict", *loan_args(), "--classes", "--out", "x.npy")

    assert_error(result, 6, "x.npy")
    assert (workdir / "x.npy").read_bytes() == b"keep"
    assert_no_leftovers(workdir)


# Unusable model files: told apart before DL4J sees them.


@pytest.mark.parametrize(
    "relative, fragments",
    [
        (
            "braeunlich__anagnostes/empty_at_4eca7f4/model.zip",
            ["empty file", "0 bytes"],
        ),
        (
            "mladenkralev__AI-Rest-Server/trained_mnist_model.zip",
            ["Git LFS", "git lfs pull"],
        ),
        ("KonduitAI__dl4j-test-resources/empty_zip.zip", ["empty zip archive"]),
    ],
)
def test_unusable_model_file(jvm, workdir, relative, fragments):
    result = run("info", checkpoint(relative))

    line = assert_error(result, 4, *fragments)
    assert "not valid JSON" not in line
    assert_jvm_works()


def test_zip_without_dl4j_entries(jvm, workdir):
    with zipfile.ZipFile(workdir / "notes.zip", "w") as archive:
        archive.writestr("readme.txt", "not a network")

    line = assert_error(
        run("info", "notes.zip"),
        4,
        "lacks configuration.json and coefficients.bin",
        "readme.txt",
    )
    assert "not valid JSON" not in line


def test_missing_model_file(jvm, workdir):
    assert_error(run("info", "nowhere.zip"), 4, "nowhere.zip", "does not exist")


# Unusable data: the command stops before training and writes no model.


def fine_tune_on(data: Path, label_column: str = "0") -> Result:
    return run(
        "fine-tune",
        checkpoint(MOON),
        "--data",
        data,
        "--label-column",
        label_column,
        "--learning-rate",
        "0.01",
        "--out",
        "out.zip",
    )


def test_missing_data_file(jvm, workdir):
    result = fine_tune_on(workdir / "absent.csv")

    assert_error(result, 5, "absent.csv", "does not exist")
    assert list(workdir.iterdir()) == []
    assert_jvm_works()


def test_non_numeric_cell_names_line_and_column(jvm, workdir):
    data = write_csv(workdir / "moon.csv", "label,x,y\n0,0.5,0.2\n1,0.1,high\n")

    assert_error(fine_tune_on(data, "label"), 5, "line 3", "column 'y'", "'high'")
    assert not (workdir / "out.zip").exists()
    assert_no_leftovers(workdir)
    assert_jvm_works()


def test_non_numeric_cell_after_a_blank_line_names_the_file_line(jvm, workdir):
    data = write_csv(workdir / "moon.csv", "0,0.5,0.2\n\n1,0.1,0.3\n1,?,0.3\n")

    assert_error(fine_tune_on(data), 5, "line 4", "column 1", "'?'")


def test_wrong_feature_width(jvm, workdir):
    x, y = standardized_iris()
    data = workdir / "iris.csv"
    np.savetxt(data, np.column_stack([y, x]), delimiter=",", fmt="%.6f")

    assert_error(fine_tune_on(data), 5, "expects 2 features", "(150, 4)")
    assert not (workdir / "out.zip").exists()
    assert_no_leftovers(workdir)
    assert_jvm_works()


def test_labels_out_of_range(jvm, workdir):
    data = write_csv(workdir / "moon.csv", "0,0.5,0.2\n2,0.1,0.3\n1,-0.4,0.9\n")

    assert_error(fine_tune_on(data), 5, "0..1", "got 2")
    assert not (workdir / "out.zip").exists()
    assert_no_leftovers(workdir)
    assert_jvm_works()


def test_evaluate_without_label_column_says_how_to_name_it(jvm, workdir):
    result = run("evaluate", checkpoint(MOON), "--data", checkpoint(MOON_EVAL))

    assert_error(result, 5, "no labels", "--label-column")


# The installed entry point as a shell runs it: options anywhere, one-line errors.


def _dl4j_ft(*args, stdin=None, shell_tail: str = ""):
    import shlex
    import subprocess
    import sys

    command = " ".join(
        shlex.quote(str(a)) for a in (sys.executable, "-m", "py_dl4j_ft", *args)
    )
    return subprocess.run(
        command + shell_tail,
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
        executable="/bin/bash",
    )


def test_shared_options_work_after_the_command_name(jvm, workdir):
    graph = checkpoint(GRAPH)
    after = _dl4j_ft("info", graph, "--json", "-q", "--heap", "1g")
    before = _dl4j_ft("-q", "--heap", "1g", "info", graph, "--json")
    assert after.returncode == before.returncode == 0, after.stderr
    assert json.loads(after.stdout)["num_params"] == 27
    assert after.stdout == before.stdout


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["info"], "Missing argument 'MODEL'"),
        (
            ["fine-tune", "m.zip", "--data", "d.csv", "-lr", "-5", "--out", "o.zip"],
            "must be a positive finite number, got -5.0",
        ),
        (["info", "m.zip", "--no-such-option"], "No such option '--no-such-option'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(workdir, args, fragment):
    done = _dl4j_ft(*args)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


def test_a_closed_pipe_ends_quietly(jvm, workdir):
    # Far more output than a pipe buffers, so the writer surely meets the closed pipe.
    rows = np.random.default_rng(0).normal(size=(50_000, 2))
    np.save(workdir / "many.npy", rows)
    done = _dl4j_ft(
        "predict",
        checkpoint(MOON),
        "--data",
        workdir / "many.npy",
        shell_tail=" | head -n 1; exit ${PIPESTATUS[0]}",
    )
    # click ends a command whose reader has gone with exit 1 and no message.
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 1
    assert done.stderr == ""
