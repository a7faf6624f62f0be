"""Outputs never replace inputs, and the CLI speaks in its own option names.

Every case that writes works on copies in a fresh folder; the copies' digests are
compared before and after, so an input that was written over cannot go unnoticed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import checkpoint, sha256

from py_dl4j_ft import PreTrainedModel, _files, _jars, _settings, cli
from py_dl4j_ft.errors import ArgumentError, OutputExistsError, SetupError

MOON = "deeplearning4j__dl4j-test-resources/MLPMoon_Model_RANDOM_INIT_UNTRAINED.zip"
MOON_TRAIN = "deeplearning4j__dl4j-test-resources/moon_data_train.csv"
IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
LOAN = "kam2018__ai-agent-service/loan_approval_model.zip"
LOAN_NORMALIZER = "kam2018__ai-agent-service/normalizer.bin"
KERAS_MLP = "deeplearning4j__deeplearning4j-examples/simple_mlp.h5"
# A 0.7.1 CNN whose preprocessor flattens 3x28x28 = 2352 values into an output layer
# of nIn 2028 (3x26x26): it loads, but no input can go through it.
BROKEN_CNN = (
    "deeplearning4j__dl4j-test-resources/071_ModelSerializer_Regression_CNN_1.zip"
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args) -> Result:
    return CliRunner().invoke(cli.cli, [str(a) for a in args], catch_exceptions=False)


def assert_error(result: Result, exit_code: int, *fragments: str) -> str:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def copy(relative: str, folder: Path, name: str | None = None) -> Path:
    target = folder / (name or Path(relative).name)
    shutil.copyfile(checkpoint(relative), target)
    return target


def iris_csv(folder: Path) -> Path:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    path = folder / "iris.csv"
    np.savetxt(path, np.c_[x, y], delimiter=",", header="a,b,c,d,label", comments="")
    return path


# The same-file check itself (no Java).


def test_same_file_sees_symbolic_and_hard_links(tmp_path):
    source = tmp_path / "model.zip"
    source.write_bytes(b"x")
    (tmp_path / "soft.npz").symlink_to(source)
    os.link(source, tmp_path / "hard.npz")
    (tmp_path / "sub").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "sub")

    assert _files.same_file(tmp_path / "soft.npz", source)
    assert _files.same_file(tmp_path / "hard.npz", source)
    assert _files.same_file(tmp_path / "sub" / ".." / "model.zip", source)
    # Not yet written: compared by resolved path, through the linked folder.
    assert _files.same_file(tmp_path / "alias" / "new", tmp_path / "sub" / "new")
    assert not _files.same_file(tmp_path / "other.zip", source)
    for out in ("soft.npz", "hard.npz", "model.zip"):
        with pytest.raises(OutputExistsError, match="same file as the input"):
            _files.check_output(tmp_path / out, True, [source])
    _files.check_output(tmp_path / "other.zip", True, [source, None])
    assert source.read_bytes() == b"x"


# Every command refuses to write over its input, even with --overwrite (exit 6).


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_commands_never_write_over_their_inputs(workdir, link):
    model = copy(IRIS, workdir, "iris.zip")
    keras = copy(KERAS_MLP, workdir, "mlp.h5")
    np.save(workdir / "x.npy", np.zeros((3, 4), np.float32))
    data = workdir / "x.npy"
    digests = {p: sha256(p) for p in (model, keras, data)}

    def alias(path: Path, suffix: str) -> Path:
        if link == "same":
            return path
        out = workdir / f"{link}-{path.stem}{suffix}"
        out.unlink(missing_ok=True)
        if link == "symlink":
            out.symlink_to(path)
        else:
            os.link(path, out)
        return out

    cases = [
        ("predict", model, "--data", data, "--out", alias(data, ".npy")),
        ("export", model, "--format", "npz", "--out", alias(model, ".npz")),
        ("import-keras", keras, alias(keras, ".zip")),
        ("upgrade", model, alias(model, ".zip")),
        (
            "fine-tune", model, "--data", data, "--lr", "0.1",
            "--out", alias(model, ".zip"),
        ),
        (
            "fine-tune", model, "--data", data, "--lr", "0.1",
            "--out", alias(data, ".zip"),
        ),
        (
            "transfer", model, "--data", data, "--n-classes", "2",
            "--out", alias(model, ".zip"),
        ),
    ]  # fmt: skip
    for args in cases:
        if link == "same" and args[0] == "export":
            continue  # the .npz ending is checked first; the links cover it
        assert_error(run(*args, "--overwrite"), 6, "same file as", "never overwritten")
    assert {p: sha256(p) for p in digests} == digests


def test_api_save_and_export_never_write_over_the_source(jvm, workdir):
    model_path = copy(LOAN, workdir, "loan.zip")
    normalizer = copy(LOAN_NORMALIZER, workdir, "normalizer.bin")
    os.link(model_path, workdir / "hard.npz")
    (workdir / "soft.zip").symlink_to(model_path)
    before = sha256(model_path), sha256(normalizer)
    model = PreTrainedModel.load(model_path, normalizer=normalizer)

    with pytest.raises(OutputExistsError, match="the model's source"):
        model.save(model_path, overwrite=True)
    with pytest.raises(OutputExistsError, match="the model's source"):
        model.save(workdir / "soft.zip", overwrite=True)
    with pytest.raises(OutputExistsError, match="the normalizer file"):
        model.save(normalizer, overwrite=True)
    with pytest.raises(OutputExistsError, match="the model's source"):
        model.export(workdir / "hard.npz", overwrite=True)
    # An export's name must end as its format does.
    with pytest.raises(ArgumentError, match=r"\.npz"):
        model.export(workdir / "loan.npy")
    assert (sha256(model_path), sha256(normalizer)) == before

    # A new file is still written, and holds the same network.
    saved = model.save(workdir / "copy.zip")
    again = PreTrainedModel.load(saved)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    assert np.array_equal(
        again.java_model.params().toDoubleVector(),
        model.java_model.params().toDoubleVector(),
    )
    assert again.predict(x).shape == (5, 2)


def test_export_needs_the_ending_of_its_format(workdir):
    model = copy(IRIS, workdir, "iris.zip")
    assert_error(run("export", model, "--out", "loan.npy"), 2, "should end in .npz")
    assert_error(
        run("export", model, "--format", "safetensors", "--out", "a.npz"),
        2,
        "should end in .safetensors",
    )
    assert not (workdir / "loan.npy").exists() and not (workdir / "a.npz").exists()


# --plot is checked before training.


def test_plot_is_checked_before_training(workdir):
    pytest.importorskip("matplotlib")
    model = copy(IRIS, workdir, "iris.zip")
    data = iris_csv(workdir)
    args = ("fine-tune", model, "--data", data, "--label-column", "label")
    args += ("--lr", "0.01", "--epochs", "50")
    # Neither case starts Java: both fail before the model is loaded.
    assert_error(run(*args, "--plot", "c.jpg", "--out", "o.zip"), 2, "--plot", ".png")
    assert_error(
        run(*args, "--plot", "same.png", "--out", "same.png"),
        6,
        "--plot same.png and --out same.png are the same file",
    )
    assert_error(
        run(
            "transfer", model, "--data", data, "--label-column", "label",
            "--n-classes", "3", "--plot", "c.svg", "--out", "o.zip",
        ),
        2,
        "--plot",
    )  # fmt: skip
    assert sorted(p.name for p in workdir.iterdir()) == ["iris.csv", "iris.zip"]


# Options and their names in errors.


@pytest.mark.parametrize(
    ("extra", "exit_code", "fragments"),
    [
        (
            ["--validation-split", "0.2", "--validation-file", "iris.csv"],
            2,
            ["--validation-split and --validation-file were both given"],
        ),
        (
            ["--early-stopping", "r2"],
            2,
            ["--early-stopping 'r2' needs validation data", "--validation-split"],
        ),
        (["--early-stopping", "auc"], 2, ["--early-stopping must name", "'auc'"]),
        (["--validation-split", "1.5"], 2, ["--validation-split must be a fraction"]),
        (
            ["--patience", "0", "--early-stopping", "loss", "--validation-split", ".2"],
            2,
            ["--patience must be"],
        ),
    ],
)
def test_training_options_checked_before_java_in_cli_names(
    workdir, monkeypatch, extra, exit_code, fragments
):
    copy(IRIS, workdir, "iris.zip")
    iris_csv(workdir)

    def no_java(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(PreTrainedModel, "load", no_java)
    for command in (["fine-tune", "--lr", "0.01"], ["transfer", "--n-classes", "3"]):
        result = run(
            command[0], "iris.zip", "--data", "iris.csv", "--label-column", "label",
            *command[1:], "--out", "o.zip", *extra,
        )  # fmt: skip
        line = assert_error(result, exit_code, *fragments)
        assert "_" not in line.split("got")[0], line


def test_option_names_rewrite_api_names():
    rewrite = cli._option_names
    assert (
        rewrite("remove_top must be from 0 to 2; got 5")
        == "--remove-top must be from 0 to 2; got 5"
    )
    assert rewrite("freeze=7, but the model has 3 layers") == (
        "--freeze 7, but the model has 3 layers"
    )
    assert rewrite("head_learning_rate must be positive") == (
        "--head-lr must be positive"
    )
    # Plain words in prose stay as they are.
    assert rewrite("a whole number of epochs, 1 or more") == (
        "a whole number of epochs, 1 or more"
    )


def test_learning_rate_option_spellings(workdir):
    copy(IRIS, workdir, "iris.zip")
    iris_csv(workdir)
    base = ("--data", "iris.csv", "--label-column", "label", "--out", "o.zip")
    for spelling in ("--lr", "--learning-rate", "-lr"):
        result = run("fine-tune", "iris.zip", *base, spelling, "-1")
        assert "must be a positive finite number, got -1" in result.stderr
        result = run("transfer", "iris.zip", *base, "--n-classes", "3", spelling, "-1")
        assert "must be a positive finite number, got -1" in result.stderr
    for spelling in ("--head-lr", "--head-learning-rate"):
        result = run("transfer", "iris.zip", *base, "--n-classes", "3", spelling, "0")
        assert "must be a positive finite number, got 0" in result.stderr
    help_text = " ".join(run("transfer", "--help").stdout.split())
    assert "--lr, --learning-rate" in help_text and "0 freezes nothing" in help_text


def test_patience_without_early_stopping_warns_once(jvm, workdir):
    copy(IRIS, workdir, "iris.zip")
    iris_csv(workdir)
    result = run(
        "fine-tune", "iris.zip", "--data", "iris.csv", "--label-column", "label",
        "--lr", "0.001", "--patience", "5", "--out", "o.zip",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert warnings == ["warning: --patience has no effect without --early-stopping"]


# Progress lines appear as epochs end, with the loss DL4J reports for the epoch.


def test_epoch_lines_carry_dl4j_epoch_losses(jvm, workdir):
    copy(MOON, workdir, "moon.zip")
    args = (
        "fine-tune", "moon.zip", "--data", checkpoint(MOON_TRAIN),
        "--label-column", "0", "--lr", "0.05", "--epochs", "3", "--batch-size", "64",
        "--validation-split", "0.25", "--seed", "3",
    )  # fmt: skip
    text = run(*args, "--out", "a.zip")
    assert text.exit_code == 0, text.stderr
    report = run(*args, "--out", "b.zip", "--json")
    assert report.exit_code == 0, report.stderr
    history = json.loads(report.stdout)["history"]

    lines = [ln for ln in text.stderr.splitlines() if ln.startswith("epoch ")]
    losses = [ln for ln in lines if "validation" not in ln]
    assert [ln.split(":")[0] for ln in losses] == [
        "epoch 1/3",
        "epoch 2/3",
        "epoch 3/3",
    ]
    # 1999 rows less 500 held out: 24 minibatches, the last of 27 rows.
    printed = [float(ln.split("loss ")[1].split()[0]) for ln in losses]
    assert printed == pytest.approx([round(e["loss"], 4) for e in history], abs=1e-4)
    assert len(set(printed)) == 3
    accuracies = [ln for ln in lines if "validation" in ln]
    assert len(accuracies) == 3
    assert f"accuracy {history[-1]['validation']['accuracy']:.4f}" in accuracies[-1]
    # Metrics are results (stdout); progress and confirmations are diagnostics.
    assert text.stdout.startswith("before: loss ")
    assert "saved a.zip" in text.stderr and "saved" not in text.stdout


# transfer: --freeze 0, and --json's before and frozen_layers.


def test_transfer_freeze_zero_and_json_report(jvm, workdir):
    copy(IRIS, workdir, "iris.zip")
    iris_csv(workdir)
    args = (
        "transfer", "iris.zip", "--data", "iris.csv", "--label-column", "label",
        "--head-epochs", "2", "--epochs", "1", "--json",
    )  # fmt: skip
    default = run(*args, "--n-classes", "3", "--out", "default.zip")
    assert default.exit_code == 0, default.stderr
    unfrozen = run(*args, "--n-classes", "3", "--freeze", "0", "--out", "zero.zip")
    assert unfrozen.exit_code == 0, unfrozen.stderr
    default, unfrozen = json.loads(default.stdout), json.loads(unfrozen.stdout)
    assert default["frozen_layers"] == ["layer0", "layer1"]
    assert unfrozen["frozen_layers"] == []

    # "before" is the base model's evaluation on the same data.
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    base = PreTrainedModel.load(workdir / "iris.zip")
    expected = base.evaluate(x.astype(np.float32), y)
    assert default["before"]["accuracy"] == pytest.approx(expected["accuracy"])
    assert default["before"]["loss"] == pytest.approx(expected["loss"], rel=1e-6)

    # With nothing frozen, the first layer moved; frozen by default, only stage 2
    # moved it, from the same start.
    first = base.java_model.getLayer(0).params().toDoubleVector()
    zero = PreTrainedModel.load(workdir / "zero.zip")
    assert not np.array_equal(
        zero.java_model.getLayer(0).params().toDoubleVector(), first
    )

    # A head of another size: the base model's outputs do not fit, "before" is left out.
    four = run(*args, "--n-classes", "4", "--out", "four.zip")
    assert four.exit_code == 0, four.stderr
    assert "before" not in json.loads(four.stdout)
    # Without --json, the same "before:" line as fine-tune, when it is reported at all.
    text = run(*args[:-1], "--n-classes", "3", "--out", "text.zip")
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("before: ") and lines[-1].startswith("after: ")
    assert f"accuracy {expected['accuracy']:.4f}" in lines[0]


# Ctrl-C before training: one line, exit 130.


def test_ctrl_c_before_training_is_one_line_exit_130(workdir, monkeypatch, capsys):
    copy(IRIS, workdir, "iris.zip")
    iris_csv(workdir)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(PreTrainedModel, "load", interrupted)
    monkeypatch.setattr(
        sys, "argv",
        ["dl4j-ft", "fine-tune", "iris.zip", "--data", "iris.csv", "--label-column",
         "label", "--lr", "0.01", "--out", "o.zip"],
    )  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 130
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: interrupted (Ctrl-C) outside training; nothing was written"]
    assert not (workdir / "o.zip").exists()


# setup says it runs Maven only when it does.


def test_setup_announces_maven_only_when_it_runs(monkeypatch):
    runs = []
    monkeypatch.setattr(_jars, "_run_maven", lambda *a, **k: runs.append(k))
    cached = run("setup")
    assert cached.exit_code == 0, cached.stderr
    assert "Maven" not in cached.stderr and runs == []
    assert "backend ready" in cached.stdout

    forced = run("setup", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert runs == [{"resolve_jars": True}]
    assert "with Maven (the first run downloads" in forced.stderr
    assert "Maven" not in run("-q", "setup", "--force").stderr


# Messages.


def test_messages_name_the_fix(workdir, monkeypatch):
    keras = copy(KERAS_MLP, workdir, "mlp.h5")
    assert_error(run("info", keras), 4, "dl4j-ft import-keras")
    assert_error(
        run("--extra-jar", workdir, "info", keras), 3, "is a directory, not a jar"
    )
    (workdir / "afile").write_text("")
    for command in ("demo", "transfer-demo"):
        assert_error(run(command, "--workdir", "afile"), 6, "--workdir afile is a file")
    config = workdir / "config.toml"
    config.write_text('hep = "3g"\n')
    monkeypatch.setenv("PY_DL4J_FT_CONFIG", str(config))
    with pytest.raises(SetupError, match=f"config file {config} has unknown keys"):
        _settings.resolve()


def test_settings_differences_name_only_what_was_asked():
    running = _settings.resolve(threads=1, heap="2g")
    assert _settings.differences({"heap": "3g"}, running) == [
        "heap=3g (the JVM runs with 2g)"
    ]
    assert _settings.differences({"heap": "2g", "threads": None}, running) == []


# upgrade: confirmations on stderr, and a warning for a model that cannot predict.


def test_upgrade_warns_when_the_model_cannot_predict(jvm, workdir, caplog):
    old = copy(BROKEN_CNN, workdir, "cnn.zip")
    digest = sha256(old)
    done = run("--trust-serialized", "upgrade", old, "new.zip")
    assert done.exit_code == 0, done.stderr
    assert done.stdout == ""
    # The CLI shows WARNING records on stderr; pytest holds them here.
    warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    warning = [m for m in warning if "cannot predict" in m]
    assert len(warning) == 1
    assert "layer 2 takes 2028 inputs" in warning[0] and "3x28x28 = 2352" in warning[0]
    assert "upgraded" in done.stderr
    assert zipfile.is_zipfile(workdir / "new.zip") and sha256(old) == digest

    quiet = run("-q", "upgrade", copy(IRIS, workdir, "iris.zip"), "iris2.zip")
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    loud = run("upgrade", "iris.zip", "iris3.zip")
    assert loud.stdout == "" and "cannot predict" not in loud.stderr
    assert loud.stderr.startswith("upgraded iris.zip to iris3.zip")


def test_save_still_knows_its_source_after_a_change_of_directory(jvm, workdir):
    copy(LOAN, workdir, "loan.zip")
    copy(LOAN_NORMALIZER, workdir, "normalizer.bin")
    before = sha256(workdir / "loan.zip"), sha256(workdir / "normalizer.bin")
    # Relative paths, as a user types them; then the process moves elsewhere.
    model = PreTrainedModel.load("loan.zip", normalizer="normalizer.bin")
    from py_dl4j_ft import transfer

    derived = transfer.transfer(model, freeze=1, n_classes=3)
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    for m in (model, derived):
        with pytest.raises(OutputExistsError, match="the model's source"):
            m.save(workdir / "loan.zip", overwrite=True)
        with pytest.raises(OutputExistsError, match="the normalizer file"):
            m.save(workdir / "normalizer.bin", overwrite=True)
    assert (sha256(workdir / "loan.zip"), sha256(workdir / "normalizer.bin")) == before


def test_setup_interrupted_while_maven_runs_leaves_no_partial_folder(
    tmp_path, monkeypatch
):
    import subprocess

    real_run = subprocess.run

    def interrupted(cmd, *args, **kwargs):
        if not cmd[0].endswith("mvn"):
            return real_run(cmd, *args, **kwargs)  # java -version
        assert (tmp_path / "cpu.partial").is_dir()  # Maven's scratch folder exists
        raise KeyboardInterrupt

    monkeypatch.setattr(_jars.subprocess, "run", interrupted)
    settings = _settings.resolve(jar_cache=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        _jars._run_maven(settings, tmp_path / "cpu", tmp_path / "h.jar", True)
    assert list(tmp_path.iterdir()) == []


def test_predict_out_with_another_ending_is_a_usage_error(workdir):
    copy(IRIS, workdir, "iris.zip")
    np.save(workdir / "x.npy", np.zeros((2, 4), np.float32))
    result = run("predict", "iris.zip", "--data", "x.npy", "--out", "p.zip")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: --out must end in .npy or .csv; got p.zip")
    assert not (workdir / "p.zip").exists()


def test_cli_warnings_read_like_its_own(jvm, workdir):
    import subprocess

    source = checkpoint(
        "deeplearning4j__dl4j-test-resources/071_ModelSerializer_Regression_CNN_1.zip"
    )
    done = subprocess.run(
        [sys.executable, "-m", "py_dl4j_ft", "upgrade", str(source), "up.zip"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    warnings = [ln for ln in done.stderr.splitlines() if "cannot predict" in ln]
    assert len(warnings) == 1 and warnings[0].startswith("warning: "), done.stderr
    assert (workdir / "up.zip").is_file()
