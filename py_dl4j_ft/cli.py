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
import sys
import traceback
from pathlib import Path

import click
import numpy as np

from . import _files, _jars, _jvm, _safety, _settings, training
from ._describe import describe_normalizer, inspect_checkpoint
from .data import load_dataset
from .errors import DataError, Dl4jFtError, TrainingInterruptedError
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


def _fail(error: BaseException) -> None:
    if _state()["verbose"]:
        trace = getattr(error, "java_trace", "")
        click.echo("".join(traceback.format_exception(error)) + (trace or ""), err=True)
    click.echo(f"error: {' '.join(str(error).split())}", err=True)
    sys.exit(getattr(error, "exit_code", 1))


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
                help="Epochs to wait.",
            ),
            click.option(
                "--min-delta",
                type=float,
                default=0.0,
                show_default=True,
                help="Smallest change that counts as an improvement.",
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
    """Progress for people: stdout, unless -q."""
    if not _state()["quiet"]:
        click.echo(line)


# Commands.


@cli.command()
@click.option(
    "--force", is_flag=True, help="Run Maven even if the cache is up to date."
)
@_guarded
def setup(force):
    """Resolve the DL4J/ND4J jars with Maven and build the Java helper (once)."""
    settings = _jvm.settings()
    if not _state()["quiet"]:
        click.echo(
            f"resolving the DL4J {_jars.DL4J_VERSION} jars for the {settings.backend} "
            "backend with Maven (the first run downloads about 180 MB)...",
            err=True,
        )
    target = _jars.setup(settings, force=force)
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


@cli.command("fine-tune")
@_model_argument
@_data_options(labels_required=True)
@click.option(
    "--learning-rate",
    "-lr",
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
    if out.resolve() == model.resolve():
        raise DataError(
            f"--out {out} is the input model; write the result to a new file"
        )
    _files.check_output(out, overwrite)
    if plot is not None:
        _files.check_output(plot, overwrite)
        training.require_matplotlib()
    train = _load_labelled(data_path, label_column, labels_path)
    validation = None
    if validation_file is not None:
        held = _load_labelled(validation_file, label_column, None)
        validation = (held.features, held.labels)
    check = _load_labelled(eval_data, label_column, None) if eval_data else train
    m = PreTrainedModel.load(model, normalizer=normalizer)
    before = m.evaluate(check.features, check.labels)
    if not as_json:
        _say(f"before: {_metrics_line(before)}")

    bar, update = _progress_bar(epochs)
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
        _say(
            f"epoch {i}/{epochs}: loss {e.loss:.4f} ({e.seconds:.2f} s; "
            f"the model's epoch {e.epoch})"
            + (f"; validation {_metrics_line(e.validation)}" if e.validation else "")
        )
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
            raise DataError(f"--out must end in .npy or .csv; got {out.name}")
        _files.check_output(out, overwrite)
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
    _write_predictions(out, result, overwrite)
    if not _state()["quiet"]:
        click.echo(f"wrote {result.shape} predictions to {out}", err=True)


def _write_predictions(out: Path, result: np.ndarray, overwrite: bool) -> None:
    with _files.atomic_output(out, overwrite) as tmp, tmp.open("wb") as f:
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
        return int(value)
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise click.BadParameter(f"expected a number or layer names, got {value!r}")
    return names


@cli.command("transfer")
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
    help="First N layers, or comma-separated layer names (and all below them); "
    "default: every layer kept from MODEL.",
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
    """
    from .transfer import Dense

    if out.resolve() == model.resolve():
        raise DataError(
            f"--out {out} is the input model; write the result to a new file"
        )
    _files.check_output(out, overwrite)
    if plot is not None:
        _files.check_output(plot, overwrite)
        training.require_matplotlib()
    train = _load_labelled(data_path, label_column, labels_path)
    validation = None
    if validation_file is not None:
        held = _load_labelled(validation_file, label_column, None)
        validation = (held.features, held.labels)
    check = _load_labelled(eval_data, label_column, None) if eval_data else train
    m = PreTrainedModel.load(model, normalizer=normalizer)
    try:
        result = m.two_stage(
            train.features,
            train.labels,
            n_classes=n_classes,
            freeze=freeze,
            remove_top=remove_top,
            hidden=[Dense(units) for units in hidden],
            updater=updater,
            head_epochs=head_epochs,
            head_learning_rate=head_lr,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            seed=seed,
            validation_split=validation_split,
            validation_data=validation,
            early_stopping=early_stopping,
            patience=patience,
            min_delta=min_delta,
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
        click.echo(
            json.dumps(
                {
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

    saved = migrate.upgrade(old, new, overwrite=overwrite)
    click.echo(f"upgraded {old} to {saved} (DL4J {_jars.DL4J_VERSION} format)")


@cli.command("import-keras")
@click.argument("keras_model", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@_guarded
def import_keras(keras_model, out, overwrite):
    """Convert a Keras HDF5 model to a DL4J zip with DL4J's own Keras import."""
    from . import migrate

    _files.check_output(out, overwrite)
    m = migrate.import_keras(keras_model)
    saved = m.save(out, overwrite=overwrite)
    click.echo(
        f"imported {keras_model} as a {m.kind} ({m.n_params} parameters): {saved}"
    )


@cli.command("export")
@_model_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["npz", "safetensors"]),
    default="npz",
    show_default=True,
    help="npz (numpy) or safetensors (needs py_dl4j_ft[export]).",
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
    _files.check_output(out, overwrite)
    m = PreTrainedModel.load(model, normalizer=normalizer)
    saved = m.export(out, format=fmt, overwrite=overwrite)
    click.echo(f"exported {m.n_params} parameters of {model} to {saved} ({fmt})")


def main() -> None:
    """Entry point: usage errors end like every other error, in one line."""
    try:
        cli.main(prog_name="dl4j-ft", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(1)
    except click.ClickException as e:
        click.echo(f"error: {' '.join(e.format_message().split())}", err=True)
        sys.exit(2 if isinstance(e, click.UsageError) else e.exit_code)
