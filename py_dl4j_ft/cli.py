"""The ``dl4j-ft`` command line: parse, call the public API, print.

Results go to stdout (JSON with ``--json``), diagnostics to stderr. Exit codes: 0
success, 1 unexpected error, 2 bad usage, 3 environment (Java, Maven, jars, backend, JVM
settings), 4 unusable model file, 5 unusable data, 6 output exists or cannot be written,
7 training diverged, 130 training interrupted by Ctrl-C (the model kept so far is
saved).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import signal
import sys
import traceback
from pathlib import Path

import click
import numpy as np

from . import _files, _jars, _jvm, _safety, _settings, training
from ._describe import describe_normalizer, inspect_checkpoint
from .data import load_dataset
from .errors import (
    ArgumentError,
    DataError,
    Dl4jFtError,
    OutputExistsError,
    OutputPathError,
    TrainingInterruptedError,
)
from .model import PreTrainedModel

log = logging.getLogger("py_dl4j_ft")

_STATE = "py_dl4j_ft"


# Options every command takes, before or after the command name; defined once.


def _remember(ctx, param, value):
    """Collects the shared options wherever they were given, in the root context."""
    state = ctx.find_root().meta.setdefault(_STATE, {"verbose": 0, "quiet": 0})
    if param.name in ("verbose", "quiet"):
        state[param.name] += value
    elif value not in (None, ()):
        state[param.name] = value
    return value


_SHARED_OPTIONS = [
    (
        ("-v", "--verbose"),
        {"count": True, "help": "More output; -vv adds DL4J's log and stack traces."},
    ),
    (("-q", "--quiet"), {"count": True, "help": "Only results and errors."}),
    (
        ("--backend",),
        {
            "type": click.Choice(_settings.BACKENDS),
            "help": "ND4J backend [PY_DL4J_FT_BACKEND; default cpu].",
        },
    ),
    (("--heap",), {"help": "Java heap, e.g. 4g [PY_DL4J_FT_HEAP; default 2g]."}),
    (
        ("--offheap",),
        {"help": "Cap on ND4J native memory, e.g. 8g [PY_DL4J_FT_OFFHEAP]."},
    ),
    (
        ("--threads",),
        {
            "type": click.IntRange(1, 1024),
            "help": "ND4J threads [PY_DL4J_FT_THREADS; default one per core].",
        },
    ),
    (
        ("--jar-cache",),
        {
            "type": click.Path(path_type=Path),
            "help": "Where setup puts the jars [PY_DL4J_FT_JAR_CACHE].",
        },
    ),
    (
        ("--extra-jar", "extra_jars"),
        {
            "multiple": True,
            "type": click.Path(path_type=Path),
            "help": "Jar to add to the classpath (custom layers); repeatable.",
        },
    ),
    (
        ("--trust-serialized",),
        {
            "is_flag": True,
            "default": None,
            "help": "Load zips with Java-serialized entries (preprocessor.bin, "
            "objects/); only for files from a source you trust.",
        },
    ),
]


def _shared(command):
    """Adds the shared options; their values are collected by :func:`_remember`."""
    for names, settings in reversed(_SHARED_OPTIONS):
        command = click.option(
            *names, expose_value=False, callback=_remember, **settings
        )(command)
    return command


def _state() -> dict:
    return (
        click.get_current_context()
        .find_root()
        .meta.setdefault(_STATE, {"verbose": 0, "quiet": 0})
    )


class _LogFormat(logging.Formatter):
    """Warnings as the CLI's own read (``warning: ...``); -v detail names its logger."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {record.getMessage()}"
        return f"{record.levelname} {record.name}: {record.getMessage()}"


# What interrupted the command, for its one-line message.
_signal_received = "Ctrl-C"


def _fail(error: BaseException) -> None:
    if _state()["verbose"]:
        trace = getattr(error, "java_trace", "")
        click.echo("".join(traceback.format_exception(error)) + (trace or ""), err=True)
    message = " ".join(str(error).split())
    if isinstance(error, ArgumentError):
        message = _option_names(message)
    if _signal_received == "SIGTERM":
        message = message.replace("(Ctrl-C)", "(SIGTERM)")
    click.echo(f"error: {message}", err=True)
    sys.exit(getattr(error, "exit_code", 1))


# The API's keyword arguments and the options that set them, for error messages.
_OPTION_OF = {
    "validation_data=(features, labels)": "--validation-file FILE",
    "validation_split": "--validation-split",
    "validation_data": "--validation-file",
    "early_stopping": "--early-stopping",
    "min_delta": "--min-delta",
    "remove_top": "--remove-top",
    "n_classes": "--n-classes",
    "head_learning_rate": "--head-lr",
    "learning_rate": "--lr",
    "batch_size": "--batch-size",
    "head_epochs": "--head-epochs",
    "patience": "--patience",
    "freeze": "--freeze",
    "hidden": "--hidden",
    "epochs": "--epochs",
    "seed": "--seed",
}


def _option_names(message: str) -> str:
    """Rewrites the API's argument names in ``message`` as the CLI's options.

    Names with an underscore are rewritten wherever they stand; plain words (freeze,
    epochs, ...) only as ``name=`` or at the start, where they cannot be prose.
    """
    for name, option in _OPTION_OF.items():
        if not name.isidentifier():
            message = message.replace(name, option)
            continue
        message = re.sub(rf"\b{name}=", f"{option} ", message)
        if "_" in name:
            message = re.sub(rf"(?<![-\w]){name}\b", option, message)
        else:
            message = re.sub(rf"^{name}\b", option, message)
    return message


def _guarded(command):
    """Applies the shared options, then runs the command with errors as one line."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        state = _state()
        level = state["verbose"] - state["quiet"]
        logging.basicConfig(
            level=logging.WARNING - 10 * max(min(level, 2), -1),
            stream=sys.stderr,
            format="%(levelname)s %(name)s: %(message)s",
        )
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler:  # basicConfig's, not a test's
                handler.setFormatter(_LogFormat())
        try:
            _jvm.configure(
                backend=state.get("backend"),
                heap=state.get("heap"),
                offheap=state.get("offheap"),
                jar_cache=state.get("jar_cache"),
                extra_jars=state.get("extra_jars"),
                threads=state.get("threads"),
                java_log_level="info"
                if level >= 2
                else "warn"
                if level == 1
                else "error",
            )
            with _safety.trusting(bool(state.get("trust_serialized"))):
                return command(*args, **kwargs)
        except Dl4jFtError as e:
            _fail(e)
        except BrokenPipeError:
            raise  # the reader has gone; click ends quietly (exit 1)
        except KeyboardInterrupt:
            # Before or after training (JVM start, loading, saving): nothing was kept.
            click.echo(
                f"error: interrupted ({_signal_received}) outside training; nothing "
                "was written",
                err=True,
            )
            sys.exit(130)
        except (ValueError, OSError) as e:
            # Argument and file-system errors that the API passes on as they are.
            e.exit_code = 5 if isinstance(e, ValueError) else 1
            _fail(e)

    return _shared(run)


@click.group()
@click.version_option(package_name="py_dl4j_ft")
@_shared
def cli():
    """Inspect, fine-tune, evaluate and save DeepLearning4J checkpoints.

    The options -v, -q, --backend, --heap, --offheap, --threads, --jar-cache and
    --extra-jar may be given before or after the command name.
    """


# Options several commands share, defined once.


def _model_argument(command):
    command = click.option(
        "--normalizer",
        type=click.Path(path_type=Path),
        help="NormalizerSerializer file; default: the one in the zip.",
    )(command)
    return click.argument("model", type=click.Path(path_type=Path))(command)


def _validation_options(command):
    """Validation, early stopping and loss-curve options of the training commands."""
    for option in reversed(
        [
            click.option(
                "--validation-split",
                type=float,
                help="Hold out this fraction of --data (seeded by --seed) for "
                "validation.",
            ),
            click.option(
                "--validation-file",
                type=click.Path(path_type=Path),
                help="Validation data (same format and --label-column as --data).",
            ),
            click.option(
                "--early-stopping",
                metavar="METRIC",
                help="Stop when this validation metric stops improving and keep the "
                "best epoch: loss, accuracy, precision, recall, f1 (classifiers); "
                "loss, mse, mae, rmse, r2.",
            ),
            click.option(
                "--patience",
                type=int,
                default=3,
                show_default=True,
                help="Epochs to wait (with --early-stopping; given without it, a "
                "warning on stderr).",
            ),
            click.option(
                "--min-delta",
                type=float,
                default=0.0,
                show_default=True,
                help="Smallest change that counts as an improvement (with "
                "--early-stopping; given without it, a warning on stderr).",
            ),
            click.option(
                "--plot",
                type=click.Path(path_type=Path),
                help="Write the loss curve to this PNG (needs py_dl4j_ft[plot]).",
            ),
        ]
    ):
        command = option(command)
    return command


def _data_options(labels_required: bool):
    def decorate(command):
        command = click.option(
            "--label-column",
            help="CSV label column, by header name or 0-based index."
            + (" Required for CSV." if labels_required else ""),
        )(command)
        command = click.option(
            "--labels",
            "labels_path",
            type=click.Path(path_type=Path),
            help="Labels as .npy when --data is .npy.",
        )(command)
        return click.option(
            "--data",
            "data_path",
            required=True,
            type=click.Path(path_type=Path),
            help="Features (and labels): .npz, .npy or .csv.",
        )(command)

    return decorate


_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _positive_rate(ctx, param, value):
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"must be a positive finite number, got {value}")
    return value


def _check_workdir(workdir: Path) -> None:
    """A demo's --workdir must be a folder or not exist yet (it is created)."""
    if workdir.exists() and not workdir.is_dir():
        raise OutputPathError(
            f"--workdir {workdir} is a file, not a folder; give a folder (created "
            "if missing)"
        )


def _training_inputs(model, normalizer, data, labels, validation_file, eval_data):
    return [
        ("the input model", model),
        ("--normalizer", normalizer),
        ("--data", data),
        ("--labels", labels),
        ("--validation-file", validation_file),
        ("--eval-data", eval_data),
    ]


def _load_labelled(path, label_column, labels_path):
    data = load_dataset(path, label_column=label_column, labels_path=labels_path)
    if data.labels is None:
        raise DataError(
            f"{path} holds no labels; for CSV pass --label-column, for .npy pass "
            "--labels, for .npz store them under 'labels' or 'y'"
        )
    return data


def _metrics_line(metrics: dict) -> str:
    return ", ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
        for k, v in metrics.items()
    )


def _progress_bar(epochs: int):
    """A tqdm bar over all minibatches, or None when stderr is no terminal or -q."""
    if _state()["quiet"] or not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=None, unit="batch", file=sys.stderr, leave=False)

    def update(epoch, batch, batches, loss):
        if bar.total is None:
            bar.total = batches * epochs
        bar.set_description(f"epoch {epoch + 1}/{epochs}")
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        bar.update(1)

    return bar, update


def _say(line: str) -> None:
    """Progress and confirmations for people: stderr, unless -q."""
    if not _state()["quiet"]:
        click.echo(line, err=True)


def _check_outputs(overwrite: bool, inputs, *outputs) -> None:
    """Refuses, before any work, outputs that exist, clash, or are one of the inputs.

    ``inputs`` and ``outputs`` are (option, path) pairs; a None path was not given.
    """
    given = [(option, path) for option, path in outputs if path is not None]
    for i, (option, path) in enumerate(given):
        for other_option, other in given[:i]:
            if _files.same_file(path, other):
                raise OutputExistsError(
                    f"{option} {path} and {other_option} {other} are the same file; "
                    "give each output its own path"
                )
        _files.check_output(path, overwrite, inputs)


def _check_plot(plot: Path | None) -> None:
    """A --plot path is checked, with matplotlib, before any training."""
    if plot is None:
        return
    if plot.suffix.lower() != ".png":
        raise ArgumentError(
            f"--plot writes a PNG image; give a path ending in .png, got {plot.name}"
        )
    training.require_matplotlib()


def _check_validation(
    validation_split, validation_file, early_stopping, patience, min_delta
) -> None:
    """The validation and early-stopping options, checked before Java starts.

    Whether the metric suits the model (classifier or regression) is checked again
    once the model is loaded, before anything is evaluated.
    """
    known = {**training.CLASSIFIER_METRICS, **training.REGRESSOR_METRICS}
    if early_stopping is not None and early_stopping not in known:
        raise ArgumentError(
            f"--early-stopping must name a validation metric, one of "
            f"{', '.join(training.CLASSIFIER_METRICS)} (classifiers) or "
            f"{', '.join(training.REGRESSOR_METRICS)} (regression); got "
            f"{early_stopping!r}"
        )
    training.check_options(
        early_stopping is None or early_stopping in training.CLASSIFIER_METRICS,
        validation_split,
        None if validation_file is None else (None, None),
        early_stopping,
        patience,
        min_delta,
    )
    ctx = click.get_current_context()
    if early_stopping is None:
        given = [
            f"--{name.replace('_', '-')}"
            for name in ("patience", "min_delta")
            if ctx.get_parameter_source(name)
            not in (None, click.core.ParameterSource.DEFAULT)
        ]
        if given:
            _say(
                f"warning: {' and '.join(given)} "
                f"{'has' if len(given) == 1 else 'have'} no effect without "
                "--early-stopping"
            )


def _check_metric_fits(m, validation_split, validation_file, early_stopping):
    """The early-stopping metric against the loaded model (classifier or not)."""
    training.check_options(
        m.is_classifier,
        validation_split,
        None if validation_file is None else (None, None),
        early_stopping,
        1,
        0.0,
    )


def _epoch_printer(m, epochs: int, rows: int, batch_size: int, bar):
    """A progress callback that prints each epoch's line as the epoch ends.

    The loss is the epoch's mean minibatch loss weighted by minibatch size, as DL4J's
    loop computes it; validation metrics come after training, with the history.
    """
    import time

    first = m.info["epoch_count"]
    batches = -(-rows // batch_size)
    state = {"sum": 0.0, "weight": 0, "started": time.perf_counter()}

    def update(epoch, batch, n_batches, loss):
        if bar is not None:
            bar(epoch, batch, n_batches, loss)
        size = batch_size if batch < batches else rows - (batches - 1) * batch_size
        state["sum"] += loss * size
        state["weight"] += size
        if batch != n_batches:
            return
        now = time.perf_counter()
        line = (
            f"epoch {epoch + 1}/{epochs}: loss {state['sum'] / state['weight']:.4f} "
            f"({now - state['started']:.2f} s; the model's epoch {first + epoch + 1})"
        )
        state.update(sum=0.0, weight=0, started=now)
        if not _state()["quiet"]:
            if bar is not None:
                from tqdm import tqdm

                tqdm.write(line, file=sys.stderr)
            else:
                click.echo(line, err=True)

    return update


class _OldLrSpelling(click.Command):
    """Takes ``-lr`` (the first spelling of ``--lr``) without listing it in --help."""

    def parse_args(self, ctx, args):
        args = [
            "--lr" if a == "-lr" else "--lr=" + a[4:] if a.startswith("-lr=") else a
            for a in args
        ]
        return super().parse_args(ctx, args)


# Commands.


@cli.command()
@click.option(
    "--force", is_flag=True, help="Run Maven even if the cache is up to date."
)
@_guarded
def setup(force):
    """Resolve the DL4J/ND4J jars with Maven and build the Java helper (once)."""
    settings = _jvm.settings()

    def announce(resolve_jars: bool) -> None:
        if resolve_jars:
            _say(
                f"resolving the DL4J {_jars.DL4J_VERSION} jars for the "
                f"{settings.backend} backend with Maven (the first run downloads about "
                "180 MB)..."
            )
        else:
            _say("building the Java helper with Maven...")

    target = _jars.setup(settings, force=force, announce=announce)
    jars = len(list((target / "lib").glob("*.jar")))
    click.echo(f"{settings.backend} backend ready: {jars} jars in {target}")


@cli.command()
@_model_argument
@_json_option
@_guarded
def info(model, normalizer, as_json):
    """Describe a checkpoint without loading it: kind, DL4J era, layers, sizes,
    activations, losses, parameters, updater, normalizer.

    Reads the zip in pure Python (no Java starts, nothing in the file runs), so it is
    safe on files from anyone and answers at once.
    """
    described = inspect_checkpoint(model)
    result = described.to_dict()
    if normalizer is not None:
        result["normalizer"] = True
        result["normalizer_type"] = describe_normalizer(normalizer)
        described.normalizer = f"{result['normalizer_type']} ({normalizer})"
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(described.table())


def _prepare_training(
    model,
    normalizer,
    data_path,
    labels_path,
    label_column,
    eval_data,
    out,
    overwrite,
    validation_split,
    validation_file,
    early_stopping,
    patience,
    min_delta,
    plot,
):
    """What fine-tune and transfer check and load before training, in that order.

    Options first, outputs next (before any work), then the data, then the model.
    Returns the model, the training data, the validation pair (or None) and the data
    to report metrics on.
    """
    _check_validation(
        validation_split, validation_file, early_stopping, patience, min_delta
    )
    _check_plot(plot)
    _check_outputs(
        overwrite,
        _training_inputs(
            model, normalizer, data_path, labels_path, validation_file, eval_data
        ),
        ("--out", out),
        ("--plot", plot),
    )
    train = _load_labelled(data_path, label_column, labels_path)
    validation = None
    if validation_file is not None:
        held = _load_labelled(validation_file, label_column, None)
        validation = (held.features, held.labels)
    check = _load_labelled(eval_data, label_column, None) if eval_data else train
    m = PreTrainedModel.load(model, normalizer=normalizer)
    _check_metric_fits(m, validation_split, validation_file, early_stopping)
    return m, train, validation, check


@cli.command("fine-tune", cls=_OldLrSpelling)
@_model_argument
@_data_options(labels_required=True)
@click.option(
    "--lr",
    "--learning-rate",
    "learning_rate",
    type=float,
    required=True,
    callback=_positive_rate,
    help="Rate for every layer; usually well below the original.",
)
@click.option(
    "--epochs", type=click.IntRange(1, 2**31 - 1), default=1, show_default=True
)
@click.option(
    "--batch-size", type=click.IntRange(1, 2**31 - 1), default=32, show_default=True
)
@click.option(
    "--seed",
    type=click.IntRange(-(2**63), 2**63 - 1),
    default=0,
    show_default=True,
    help="Shuffling seed.",
)
@click.option("--no-shuffle", is_flag=True, help="Keep the file's row order.")
@click.option(
    "--eval-data",
    type=click.Path(path_type=Path),
    help="Data to report metrics on (same format); default: the training data.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the fine-tuned zip.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@_validation_options
@_json_option
@_guarded
def fine_tune(
    model,
    normalizer,
    data_path,
    labels_path,
    label_column,
    learning_rate,
    epochs,
    batch_size,
    seed,
    no_shuffle,
    eval_data,
    out,
    overwrite,
    validation_split,
    validation_file,
    early_stopping,
    patience,
    min_delta,
    plot,
    as_json,
):
    """Fine-tune MODEL on labelled data at a small learning rate; save to --out.

    Ctrl-C stops at the next minibatch, saves the model kept so far (the best epoch with
    --early-stopping) to --out, and exits with code 130.
    """
    m, train, validation, check = _prepare_training(
        model,
        normalizer,
        data_path,
        labels_path,
        label_column,
        eval_data,
        out,
        overwrite,
        validation_split,
        validation_file,
        early_stopping,
        patience,
        min_delta,
        plot,
    )
    before = m.evaluate(check.features, check.labels)
    if not as_json:
        click.echo(f"before: {_metrics_line(before)}")

    bar, update = _progress_bar(epochs)
    rows = len(train.features)
    if validation_split is not None:
        rows -= round(rows * validation_split)
    if not as_json:
        update = _epoch_printer(m, epochs, rows, batch_size, update)
    try:
        history = m.fine_tune(
            train.features,
            train.labels,
            learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=not no_shuffle,
            seed=seed,
            progress=update,
            validation_split=validation_split,
            validation_data=validation,
            early_stopping=early_stopping,
            patience=patience,
            min_delta=min_delta,
        )
    except TrainingInterruptedError as e:
        saved = m.save(out, overwrite=overwrite)
        raise TrainingInterruptedError(f"{e}; saved it to {saved}", e.history) from e
    finally:
        if bar is not None:
            bar.close()
    if plot is not None:
        history.plot(plot, overwrite=overwrite)
    after = m.evaluate(check.features, check.labels)
    saved = m.save(out, overwrite=overwrite)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "before": before,
                    "after": after,
                    "learning_rate": m.learning_rate,
                    "history": [e.__dict__ for e in history.epochs],
                    "best_epoch": history.best_epoch,
                    "stopped": history.stopped,
                    "saved": str(saved),
                },
                indent=2,
            )
        )
        return
    for i, e in enumerate(history.epochs, 1):
        if e.validation:
            _say(f"epoch {i}/{epochs} validation: {_metrics_line(e.validation)}")
    if history.best_epoch is not None:
        _say(
            f"kept the model's epoch {history.best_epoch} (best validation "
            f"{history.monitor}; training {history.stopped.replace('_', ' ')})"
        )
    if plot is not None:
        _say(f"wrote the loss curve to {plot}")
    click.echo(f"after:  {_metrics_line(after)}")
    _say(f"saved {saved}")


@cli.command()
@_model_argument
@_data_options(labels_required=True)
@_json_option
@_guarded
def evaluate(model, normalizer, data_path, labels_path, label_column, as_json):
    """Report DL4J's loss and metrics for MODEL on labelled data."""
    data = _load_labelled(data_path, label_column, labels_path)
    metrics = PreTrainedModel.load(model, normalizer=normalizer).evaluate(
        data.features, data.labels
    )
    click.echo(json.dumps(metrics, indent=2) if as_json else _metrics_line(metrics))


@cli.command()
@_model_argument
@_data_options(labels_required=False)
@click.option(
    "--classes", is_flag=True, help="Print class ids instead of probabilities."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Write .npy or .csv instead of printing CSV.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@_guarded
def predict(
    model, normalizer, data_path, labels_path, label_column, classes, out, overwrite
):
    """Run MODEL on the features in --data (a label column, if named, is dropped)."""
    if out is not None:
        if out.suffix.lower() not in (".npy", ".csv"):
            raise ArgumentError(f"--out must end in .npy or .csv; got {out.name}")
        _check_outputs(
            overwrite,
            [
                ("the input model", model),
                ("--normalizer", normalizer),
                ("--data", data_path),
                ("--labels", labels_path),
            ],
            ("--out", out),
        )
    data = load_dataset(data_path, label_column=label_column, labels_path=labels_path)
    m = PreTrainedModel.load(model, normalizer=normalizer)
    expected = m.info["inputs"][0]["size"] if len(m.info["inputs"]) == 1 else -1
    if (
        label_column is None
        and data.features.ndim == 2
        and data.features.shape[1] == expected + 1
    ):
        raise DataError(
            f"{data_path} has {data.features.shape[1]} columns and the model takes "
            f"{expected}; if one of them holds labels, name it with --label-column"
        )
    result = m.predict_classes(data.features) if classes else m.predict(data.features)
    if out is None:
        np.savetxt(
            sys.stdout,
            result.reshape(len(result), -1),
            fmt="%d" if classes else "%.7g",
            delimiter=",",
        )
        return
    _write_predictions(out, result, overwrite, [data_path, labels_path, model])
    _say(f"wrote {result.shape} predictions to {out}")


def _write_predictions(out: Path, result: np.ndarray, overwrite: bool, inputs) -> None:
    with _files.atomic_output(out, overwrite, inputs) as tmp, tmp.open("wb") as f:
        if out.suffix.lower() == ".npy":
            np.save(f, result)
        else:
            np.savetxt(
                f,
                result.reshape(len(result), -1),
                delimiter=",",
                fmt="%d" if result.dtype.kind == "i" else "%.7g",
            )


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=Path("dl4j-ft-demo"),
    show_default=True,
    help="Where the base and fine-tuned checkpoints go.",
)
@click.option("--epochs", type=click.IntRange(1, 10_000), default=20, show_default=True)
@_json_option
@_guarded
def demo(workdir, epochs, as_json):
    """Fine-tune a DL4J checkpoint on scikit-learn's digits, end to end."""
    from . import demo as demo_module

    _check_workdir(workdir)
    bar, update = _progress_bar(epochs)
    quiet = _state()["quiet"]
    if as_json or quiet:

        def echo(line):
            if not quiet:
                click.echo(line, err=True)
    else:
        echo = click.echo
    try:
        result = demo_module.run(workdir, epochs=epochs, echo=echo, progress=update)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        click.echo(json.dumps(result, indent=2))


def _freeze_option(ctx, param, value):
    """``--freeze 2`` (the first two layers) or ``--freeze a,b`` (layers by name)."""
    if value is None:
        return None
    if value.strip().isdigit():
        return int(value)  # 0: freeze nothing
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise click.BadParameter(f"expected a number or layer names, got {value!r}")
    return names


@cli.command("transfer", cls=_OldLrSpelling)
@_model_argument
@_data_options(labels_required=True)
@click.option(
    "--n-classes",
    type=click.IntRange(2, 2**31 - 1),
    required=True,
    help="Classes of the new output layer.",
)
@click.option(
    "--freeze",
    callback=_freeze_option,
    help="Stage 1 freezes the first N layers, or comma-separated layer names (and "
    "all below them); 0 freezes nothing. Default: every layer kept from MODEL (the "
    "Python transfer() freezes nothing unless told; two_stage() freezes like this).",
)
@click.option(
    "--remove-top",
    type=click.IntRange(0, 2**31 - 1),
    default=0,
    show_default=True,
    help="Top layers to drop (the output layer counts); 0 replaces the output layer.",
)
@click.option(
    "--hidden",
    type=click.IntRange(1, 2**31 - 1),
    multiple=True,
    help="Units of a new dense (ReLU) layer under the head; repeatable.",
)
@click.option(
    "--updater",
    type=click.Choice(
        ["sgd", "adam", "nesterovs", "rmsprop", "adagrad", "adamax", "nadam", "amsgrad"]
    ),
    default="adam",
    show_default=True,
)
@click.option(
    "--head-epochs",
    type=click.IntRange(1, 2**31 - 1),
    default=10,
    show_default=True,
    help="Stage 1: epochs for the new head.",
)
@click.option(
    "--head-lr",
    "--head-learning-rate",
    "head_lr",
    type=float,
    default=1e-2,
    show_default=True,
    callback=_positive_rate,
    help="Stage 1 learning rate.",
)
@click.option(
    "--epochs",
    type=click.IntRange(1, 2**31 - 1),
    default=10,
    show_default=True,
    help="Stage 2: epochs with every layer unfrozen.",
)
@click.option(
    "--lr",
    "--learning-rate",
    "learning_rate",
    type=float,
    default=1e-3,
    show_default=True,
    callback=_positive_rate,
    help="Stage 2 learning rate.",
)
@click.option(
    "--batch-size", type=click.IntRange(1, 2**31 - 1), default=32, show_default=True
)
@click.option(
    "--seed",
    type=click.IntRange(-(2**63), 2**63 - 1),
    default=0,
    show_default=True,
)
@click.option(
    "--eval-data",
    type=click.Path(path_type=Path),
    help="Data to report metrics on (same format); default: the training data.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the new zip.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@_validation_options
@_json_option
@_guarded
def transfer_command(
    model,
    normalizer,
    data_path,
    labels_path,
    label_column,
    n_classes,
    freeze,
    remove_top,
    hidden,
    updater,
    head_epochs,
    head_lr,
    epochs,
    learning_rate,
    batch_size,
    seed,
    eval_data,
    out,
    overwrite,
    validation_split,
    validation_file,
    early_stopping,
    patience,
    min_delta,
    plot,
    as_json,
):
    """Put a new head of --n-classes on MODEL, train it with the rest frozen, then
    unfreeze and train everything at the smaller --lr; save to --out.

    Validation and early stopping apply to each stage. Ctrl-C stops at the next
    minibatch, saves the model kept so far to --out, and exits with code 130.

    MODEL's own metrics on the check data ("before:", and "before" in --json) are
    reported only when MODEL is a classifier with --n-classes outputs; otherwise its
    outputs do not fit the labels. --json's "frozen_layers" lists the layers stage 1
    froze.
    """
    from .transfer import Dense

    m, train, validation, check = _prepare_training(
        model,
        normalizer,
        data_path,
        labels_path,
        label_column,
        eval_data,
        out,
        overwrite,
        validation_split,
        validation_file,
        early_stopping,
        patience,
        min_delta,
        plot,
    )
    before = None
    if m.is_classifier and m.n_outputs == n_classes:
        # MODEL's own outputs fit the new labels only then.
        before = m.evaluate(check.features, check.labels)
        if not as_json:
            click.echo(f"before: {_metrics_line(before)}")
    head = {
        "n_classes": n_classes,
        "remove_top": remove_top,
        "hidden": [Dense(units) for units in hidden],
    }
    fit = {
        "batch_size": batch_size,
        "seed": seed,
        "validation_split": validation_split,
        "validation_data": validation,
        "early_stopping": early_stopping,
        "patience": patience,
        "min_delta": min_delta,
    }
    try:
        result = m.two_stage(
            train.features,
            train.labels,
            freeze=freeze,
            updater=updater,
            head_epochs=head_epochs,
            head_learning_rate=head_lr,
            epochs=epochs,
            learning_rate=learning_rate,
            **head,
            **fit,
        )
    except TrainingInterruptedError as e:
        saved = e.model.save(out, overwrite=overwrite)
        raise TrainingInterruptedError(
            f"{e}; saved it to {saved}", e.history, e.model
        ) from e
    if plot is not None:
        result.history.plot(plot, overwrite=overwrite)
    after = result.model.evaluate(check.features, check.labels)
    saved = result.model.save(out, overwrite=overwrite)
    if as_json:
        report = {} if before is None else {"before": before}
        click.echo(
            json.dumps(
                {
                    **report,
                    "frozen_layers": list(result.frozen),
                    "head_loss": result.head.loss,
                    "loss": result.full.loss,
                    "head_best_epoch": result.head.best_epoch,
                    "best_epoch": result.full.best_epoch,
                    "after": after,
                    "saved": str(saved),
                },
                indent=2,
            )
        )
        return
    _say(
        f"stage 1, new head of {n_classes} classes ({head_epochs} epochs at "
        f"{head_lr:g}): loss {result.head.loss[0]:.4f} -> {result.head.loss[-1]:.4f}"
    )
    _say(
        f"stage 2, all layers ({epochs} epochs at {learning_rate:g}): loss "
        f"{result.full.loss[0]:.4f} -> {result.full.loss[-1]:.4f}"
    )
    if plot is not None:
        _say(f"wrote the loss curve of both stages to {plot}")
    click.echo(f"after:  {_metrics_line(after)}")
    _say(f"saved {saved}")


@cli.command("transfer-demo")
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=Path("dl4j-ft-demo"),
    show_default=True,
    help="Where the base checkpoints go.",
)
@click.option(
    "--task",
    type=click.Choice(["parity", "new-digits"]),
    default="parity",
    show_default=True,
)
@click.option("--per-class", type=click.IntRange(1, 50), default=10, show_default=True)
@click.option("--draws", type=click.IntRange(1, 100), default=5, show_default=True)
@_json_option
@_guarded
def transfer_demo(workdir, task, per_class, draws, as_json):
    """Adapt a DL4J base model to a new task from a few examples per class, against
    the same network trained from scratch."""
    from . import transfer_demo as demo_module

    _check_workdir(workdir)
    quiet = _state()["quiet"]
    if as_json or quiet:

        def echo(line):
            if not quiet:
                click.echo(line, err=True)
    else:
        echo = click.echo
    result = demo_module.run(
        workdir, task=task, per_class=per_class, draws=draws, echo=echo
    )
    if as_json:
        click.echo(json.dumps(result, indent=2))


@cli.command()
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace NEW if it exists.")
@_guarded
def upgrade(old, new, overwrite):
    """Rewrite the checkpoint OLD (any era DL4J 1.0.0-M2.1 reads) in today's format."""
    from . import migrate

    _check_outputs(overwrite, [("the checkpoint to upgrade", old)], ("NEW", new))
    saved = migrate.upgrade(old, new, overwrite=overwrite)
    _say(f"upgraded {old} to {saved} (DL4J {_jars.DL4J_VERSION} format)")


@cli.command("import-keras")
@click.argument("keras_model", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@_guarded
def import_keras(keras_model, out, overwrite):
    """Convert a Keras HDF5 model to a DL4J zip with DL4J's own Keras import."""
    from . import migrate

    _check_outputs(overwrite, [("the Keras model", keras_model)], ("OUT", out))
    m = migrate.import_keras(keras_model)
    saved = m.save(out, overwrite=overwrite)
    _say(f"imported {keras_model} as a {m.kind} ({m.n_params} parameters): {saved}")


@cli.command("export")
@_model_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["npz", "safetensors"]),
    help="npz (numpy) or safetensors (needs py_dl4j_ft[export]); default: from "
    "--out's ending (.npz, .safetensors), which must match the format.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The file to write.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@_guarded
def export_command(model, normalizer, fmt, out, overwrite):
    """Write MODEL's parameters as named arrays, with its architecture as JSON."""
    from .export import FORMATS_SUFFIX

    ending = {suffix: name for name, suffix in FORMATS_SUFFIX.items()}
    fmt = fmt or ending.get(out.suffix.lower(), "npz")
    if out.suffix.lower() != FORMATS_SUFFIX[fmt]:
        raise ArgumentError(
            f"--format {fmt} writes a {FORMATS_SUFFIX[fmt]} file; --out {out.name} "
            f"should end in {FORMATS_SUFFIX[fmt]}"
        )
    _check_outputs(
        overwrite,
        [("the input model", model), ("--normalizer", normalizer)],
        ("--out", out),
    )
    m = PreTrainedModel.load(model, normalizer=normalizer)
    saved = m.export(out, format=fmt, overwrite=overwrite)
    _say(f"exported {m.n_params} parameters of {model} to {saved} ({fmt})")


def _terminate_like_ctrl_c(signum, frame) -> None:
    """SIGTERM (docker stop, systemd, timeout) does what Ctrl-C does at that moment."""
    global _signal_received
    _signal_received = "SIGTERM"
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def main() -> None:
    """Entry point: usage errors end like every other error, in one line."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        # Training then stops at a minibatch, saves what it kept and exits with 130.
        signal.signal(signal.SIGTERM, _terminate_like_ctrl_c)
    try:
        cli.main(prog_name="dl4j-ft", standalone_mode=False)
    except click.exceptions.Abort:
        # click turns a Ctrl-C outside a command (while parsing) into Abort.
        click.echo("error: interrupted (Ctrl-C); nothing was written", err=True)
        sys.exit(130)
    except click.ClickException as e:
        click.echo(f"error: {' '.join(e.format_message().split())}", err=True)
        sys.exit(2 if isinstance(e, click.UsageError) else e.exit_code)
