"""Every error py_dl4j_ft raises on purpose.

Each leaf also derives from the built-in exception a caller would naturally catch
(``ValueError`` for bad input, ``FileNotFoundError`` for a missing file, ...), so code
that knows nothing of this package still handles it. The CLI maps each branch to an exit
code. This module imports nothing heavy: it is safe to import before the JVM exists.
"""

from __future__ import annotations


class Dl4jFtError(Exception):
    """Base of all py_dl4j_ft errors."""

    exit_code = 1


# Environment: Java, Maven, jars, backend, JVM settings.


class SetupError(Dl4jFtError, RuntimeError):
    """The machine is not ready: Java, Maven, the jars or the backend are missing."""

    exit_code = 3


class JavaNotFoundError(SetupError):
    """No usable ``java`` (JDK 11 or newer) was found."""


class MavenError(SetupError):
    """Maven is missing or could not resolve the DL4J jars."""


class JarsMissingError(SetupError):
    """The jars for the chosen backend have not been resolved yet."""


class BackendUnavailableError(SetupError):
    """The chosen ND4J backend cannot run on this machine (e.g. CUDA without a GPU)."""


class JVMSettingsError(Dl4jFtError, RuntimeError):
    """JVM settings were asked for after the JVM had started with other ones."""

    exit_code = 3


class ArgumentError(Dl4jFtError, ValueError):
    """An argument is out of its range or of the wrong type (epochs, rates, ...)."""

    exit_code = 2


class LayerNotFoundError(ArgumentError):
    """A layer or vertex name (to freeze, to set a rate on) that the model lacks."""


class NothingToTrainError(ArgumentError):
    """A transfer request would leave the output layer frozen or removed."""


class PretrainedLayerChangeError(ArgumentError):
    """Fine-tune settings would change pretrained layers (activation, weight init)."""


class ScheduleError(ArgumentError):
    """A learning-rate schedule with values that make no sense (negative, no start)."""


# Input files.


class CheckpointError(Dl4jFtError, ValueError):
    """A model file cannot be used as a DL4J checkpoint."""

    exit_code = 4


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The model path does not exist or is not a file."""


class NotACheckpointError(CheckpointError):
    """Not a usable DL4J zip: empty, an LFS pointer, another format, or damaged."""


class CorruptCheckpointError(CheckpointError):
    """The file looks like a DL4J zip but DL4J could not restore a network from it."""


class UnsafeCheckpointError(CheckpointError):
    """The zip holds Java-serialized entries or exceeds the size limits (zip bomb)."""


class UnknownClassError(CheckpointError):
    """configuration.json names a class that neither DL4J nor an added jar provides.

    ``classes`` lists the class names that were not found.
    """

    def __init__(self, message: str, classes: list[str] | None = None):
        super().__init__(message)
        self.classes = list(classes or [])


class DataError(Dl4jFtError, ValueError):
    """Features, labels or a data file do not fit the model or cannot be read."""

    exit_code = 5


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file does not exist."""


class ShapeError(DataError):
    """An array's shape does not match what the model expects."""


class LabelError(DataError):
    """Labels are missing, out of range or of the wrong shape for the output layer."""


# Outputs and training.


class OutputExistsError(Dl4jFtError, FileExistsError):
    """The output file exists and overwriting was not asked for."""

    exit_code = 6


class OutputPathError(Dl4jFtError, FileNotFoundError):
    """The output cannot be written there: no such folder, or not writable."""

    exit_code = 6


class TrainingDivergedError(Dl4jFtError, ArithmeticError):
    """The loss stopped being finite; the model was put back as it was before."""

    exit_code = 7


class JavaError(Dl4jFtError, RuntimeError):
    """DL4J raised an exception that has no more specific translation.

    ``java_class`` names the Java exception and ``java_trace`` holds its stack trace.
    """

    def __init__(self, message: str, java_class: str = "", java_trace: str = ""):
        super().__init__(message)
        self.java_class = java_class
        self.java_trace = java_trace


class TrainingInterruptedError(Dl4jFtError, KeyboardInterrupt):
    """Ctrl-C stopped training at a minibatch boundary; the model was kept.

    The model holds the best epoch so far when early stopping was on, otherwise the
    state after the last minibatch. ``history`` holds the epochs that ran. It is also a
    KeyboardInterrupt, so a script that does not catch it stops as on any Ctrl-C.
    """

    exit_code = 130

    def __init__(self, message: str, history=None, model=None):
        super().__init__(message)
        self.history = history
        # Set where the trained model is not the caller's own (two_stage's new model).
        self.model = model


class OptionalDependencyError(Dl4jFtError, ImportError):
    """A feature needs an optional package that is not installed (e.g. matplotlib)."""

    exit_code = 3


# Migration: upgrade, Keras import, export.


class NotAKerasModelError(CheckpointError):
    """Not a Keras HDF5 model: another format, or weights without a model config."""


class UnsupportedLayerError(CheckpointError):
    """A layer that cannot be imported or exported; ``layer`` and ``layer_class``
    name it."""

    def __init__(self, message: str, layer: str = "", layer_class: str = ""):
        super().__init__(message)
        self.layer = layer
        self.layer_class = layer_class
