"""The ``dl4j-ft`` command line: parse, call the public API, print.

Results go to stdout (JSON with ``--json``), diagnostics to stderr. Exit codes: 0
success, 1 unexpected error, 2 bad usage, 3 environment (Java, Maven, jars, backend, JVM
settings), 4 unusable model file, 5 unusable data, 6 output exists, 7 training diverged.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path

import click
import numpy as np

from . import _jars, _jvm, _settings
from .data import load_dataset
from .errors import DataError, Dl4jFtError, OutputExistsError
from .model import PreTrainedModel

log = logging.getLogger("py_dl4j_ft")


def _fail(error: BaseException, verbose: int) -> None:
    if verbose:
        trace = getattr(error, "java_trace", "")
        click.echo("".join(traceback.format_exception(error)) + (trace or ""), err=True)
    message = " ".join(str(error).split())
    click.echo(f"error: {message}", err=True)
    sys.exit(getattr(error, "exit_code", 1))


def _guarded(command):
    """Runs a command, turning our errors into one line on stderr and an exit code."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        verbose = click.get_current_context().find_root().obj["verbose"]
        try:
            return command(*args, **kwargs)
        except Dl4jFtError as e:
            _fail(e, verbose)
        except (ValueError, OSError) as e:
            # Plain argument and file-system errors from the API: still one line.
            e.exit_code = 5 if isinstance(e, ValueError) else 1
            _fail(e, verbose)

    return run


@click.group()
@click.option(
    "-v", "--verbose", count=True, help="More output; -vv shows DL4J's own log."
)
@click.option("-q", "--quiet", count=True, help="Less output.")
@click.option(
    "--backend",
    type=click.Choice(_settings.BACKENDS),
    help="ND4J backend [env PY_DL4J_FT_BACKEND; default cpu].",
)
@click.option("--heap", help="Java heap, e.g. 4g [env PY_DL4J_FT_HEAP; default 2g].")
@click.option(
    "--offheap", help="Cap on ND4J native memory, e.g. 8g [PY_DL4J_FT_OFFHEAP]."
)
@click.option(
    "--jar-cache",
    type=click.Path(path_type=Path),
    help="Where setup puts the jars [PY_DL4J_FT_JAR_CACHE].",
)
@click.option(
    "--extra-jar",
    "extra_jars",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Jar to add to the classpath (e.g. custom layers); repeatable.",
)
@click.version_option(package_name="py_dl4j_ft")
@click.pass_context
def cli(ctx, verbose, quiet, backend, heap, offheap, jar_cache, extra_jars):
    """Inspect, fine-tune, evaluate and save DeepLearning4J checkpoints."""
    level = verbose - quiet
    logging.basicConfig(
        level=logging.WARNING - 10 * max(min(level, 2), -2),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    java_log = "info" if level >= 2 else "warn" if level >= 0 else "error"
    ctx.obj = {"verbose": verbose, "quiet": quiet > 0}
    try:
        _jvm.configure(
            backend=backend,
            heap=heap,
            offheap=offheap,
            jar_cache=jar_cache,
            extra_jars=extra_jars or None,
            java_log_level=java_log,
        )
    except Dl4jFtError as e:
        _fail(e, verbose)


# Options several commands share, defined once.


def _model_argument(command):
    command = click.option(
        "--normalizer",
        type=click.Path(path_type=Path),
        help="NormalizerSerializer file; default: the one in the zip.",
    )(command)
    return click.argument("model", type=click.Path(path_type=Path))(command)


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


def _progress_bar(ctx, epochs: int):
    """A tqdm bar over all minibatches, or None when stderr is no terminal or -q."""
    if ctx.find_root().obj["quiet"] or not sys.stderr.isatty():
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


# Commands.


@cli.command()
@click.option(
    "--force", is_flag=True, help="Run Maven even if the cache is up to date."
)
@_guarded
def setup(force):
    """Resolve the DL4J/ND4J jars with Maven and build the Java helper (once)."""
    settings = _jvm.settings()
    target = _jars.setup(settings, force=force)
    jars = len(list((target / "lib").glob("*.jar")))
    click.echo(f"{settings.backend} backend ready: {jars} jars in {target}")


@cli.command()
@_model_argument
@_json_option
@_guarded
def info(model, normalizer, as_json):
    """Show a checkpoint's layers, sizes, losses, learning rates and inputs."""
    m = PreTrainedModel.load(model, normalizer=normalizer)
    if as_json:
        click.echo(
            json.dumps(
                dict(m.info, path=str(model), normalizer=m.normalizer is not None),
                indent=2,
            )
        )
    else:
        click.echo(m.summary())


@cli.command("fine-tune")
@_model_argument
@_data_options(labels_required=True)
@click.option(
    "--learning-rate",
    "-lr",
    type=float,
    required=True,
    help="Rate for every layer; usually well below the original.",
)
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Shuffling seed.")
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
@_json_option
@click.pass_context
@_guarded
def fine_tune(
    ctx,
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
    as_json,
):
    """Fine-tune MODEL on labelled data at a small learning rate; save to --out."""
    _check_out(out, overwrite)
    if out.resolve() == model.resolve():
        raise DataError(
            f"--out {out} is the input model; write the result to a new file"
        )
    train = _load_labelled(data_path, label_column, labels_path)
    check = _load_labelled(eval_data, label_column, None) if eval_data else train
    m = PreTrainedModel.load(model, normalizer=normalizer)
    before = m.evaluate(check.features, check.labels)
    if not as_json:
        click.echo(f"before: {_metrics_line(before)}")

    bar, update = _progress_bar(ctx, epochs)
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
        )
    finally:
        if bar is not None:
            bar.close()
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
                    "saved": str(saved),
                },
                indent=2,
            )
        )
    else:
        for e in history.epochs:
            click.echo(f"epoch {e.epoch}: loss {e.loss:.4f} ({e.seconds:.2f} s)")
        click.echo(f"after:  {_metrics_line(after)}")
        click.echo(f"saved {saved}")


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuses an unusable --out before any work is done."""
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"{out} already exists; choose another --out or pass --overwrite"
        )
    if not out.parent.is_dir():
        raise DataError(
            f"--out {out}: folder {out.parent} does not exist; create it first"
        )


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
        _check_out(out, overwrite)
        if out.suffix.lower() not in (".npy", ".csv"):
            raise DataError(f"--out must end in .npy or .csv; got {out.name}")
    data = load_dataset(data_path, label_column=label_column, labels_path=labels_path)
    m = PreTrainedModel.load(model, normalizer=normalizer)
    result = m.predict_classes(data.features) if classes else m.predict(data.features)
    if out is None:
        np.savetxt(
            sys.stdout,
            result.reshape(len(result), -1),
            fmt="%d" if classes else "%.7g",
            delimiter=",",
        )
        return
    _write_atomically(out, result)
    click.echo(f"wrote {result.shape} predictions to {out}", err=True)


def _write_atomically(out: Path, result: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(
        prefix=f".{out.name}.", suffix=out.suffix, dir=out.parent
    )
    try:
        with os.fdopen(fd, "wb") as f:
            if out.suffix.lower() == ".npy":
                np.save(f, result)
            else:
                np.savetxt(
                    f,
                    result.reshape(len(result), -1),
                    delimiter=",",
                    fmt="%d" if result.dtype.kind == "i" else "%.7g",
                )
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=Path("dl4j-ft-demo"),
    show_default=True,
    help="Where the base and fine-tuned checkpoints go.",
)
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@_json_option
@click.pass_context
@_guarded
def demo(ctx, workdir, epochs, as_json):
    """Fine-tune a DL4J checkpoint on scikit-learn's digits, end to end."""
    from . import demo as demo_module

    bar, update = _progress_bar(ctx, epochs)
    echo = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    try:
        result = demo_module.run(workdir, epochs=epochs, echo=echo, progress=update)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        click.echo(json.dumps(result, indent=2))


def main() -> None:
    cli(prog_name="dl4j-ft")
