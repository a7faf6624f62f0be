"""The JVM boundary: the only module that imports jpype.

The JVM starts on first need, once per process, with settings that are then fixed. Java
exceptions are translated here into the package's own errors, with the Java stack trace
kept on the Python exception for ``-v``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from collections.abc import Iterator

import jpype
import jpype.nio

from . import _jars, _settings
from .errors import (
    BackendUnavailableError,
    DataError,
    Dl4jFtError,
    JavaError,
    JavaNotFoundError,
    JVMSettingsError,
    ShapeError,
    TrainingDivergedError,
)

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pending: _settings.Settings | None = None
_started: _settings.Settings | None = None


def configure(**settings) -> _settings.Settings:
    """Fixes the settings the JVM will start with (see :class:`Settings`).

    Before the JVM starts this may be called any number of times; afterwards only with
    settings equal to those in force, anything else raises :class:`JVMSettingsError`.
    """
    global _pending
    resolved = _settings.resolve(**settings)
    with _lock:
        if _started is not None:
            # Only what this call asks for counts: a setting left out is not a change.
            changed = _settings.differences(settings, _started)
            if changed:
                raise JVMSettingsError(
                    f"the JVM is already running, so {', '.join(changed)} cannot take "
                    "effect; set it before the first model is loaded, or use a new "
                    "process"
                )
            return _started
        _pending = resolved
    return resolved


def settings() -> _settings.Settings:
    """The settings in force, or those the JVM will start with."""
    return _started or _pending or _settings.resolve()


def check_gpu() -> None:
    """Refuses the CUDA backend early when no NVIDIA driver or device is present.

    Loading ND4J's CUDA natives without a GPU can take the whole process down, so the
    driver is asked directly before the JVM ever sees the CUDA jars.
    """
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        raise BackendUnavailableError(
            "backend 'cuda' needs an NVIDIA GPU and its driver, but the driver "
            f"library could not be loaded ({e}); use backend 'cpu' (the default) "
            "or run on a GPU machine"
        ) from e
    count = ctypes.c_int(0)
    if (
        cuda.cuInit(0) != 0
        or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0
        or not count.value
    ):
        raise BackendUnavailableError(
            "backend 'cuda' needs an NVIDIA GPU, but the driver reports none usable; "
            "use backend 'cpu' (the default) or check nvidia-smi"
        )


def ensure_started() -> None:
    """Starts the JVM with the configured settings unless it already runs."""
    global _started
    with _lock:
        if _started is not None:
            return
        s = _pending or _settings.resolve()

        # Backend first: a missing GPU is refused before anything native is loaded.
        if s.backend == "cuda":
            check_gpu()

        # The classpath comes from the cache that `dl4j-ft setup` filled; the options
        # carry the heap, the off-heap cap and DL4J's log level.
        classpath = _jars.classpath(s)
        options = jvm_options(s)

        # ND4J's native code reads its thread count from the environment when it loads.
        if s.threads is not None:
            os.environ["OMP_NUM_THREADS"] = str(s.threads)

        # Start. JPype finds libjvm through JAVA_HOME or the java on PATH.
        try:
            jvm_path = jpype.getDefaultJVMPath()
        except jpype.JVMNotFoundException as e:
            raise JavaNotFoundError(
                f"no JVM library found ({e}); install a JDK {_jars.MIN_JAVA}+ or set "
                "JAVA_HOME"
            ) from e
        log.debug(
            "starting JVM %s with %s and %d jars", jvm_path, options, len(classpath)
        )
        jpype.startJVM(
            jvm_path,
            *options,
            classpath=classpath,
            convertStrings=False,
            interrupt=False,
        )
        _started = s

        # Loading ND4J now makes a broken backend fail here, with the setting named.
        with java_errors(
            "starting ND4J's " + s.backend + " backend", default=BackendUnavailableError
        ):
            nd4j = jpype.JClass("org.nd4j.linalg.factory.Nd4j")
            backend = nd4j.getBackend().getClass().getSimpleName()
            threads = int(nd4j.getEnvironment().maxThreads())
        # No Java deserialization anywhere in this JVM unless a load is trusted: the
        # filter is process-wide, so a path that the zip checks miss is covered too.
        with java_errors("installing the deserialization filter"):
            jpype.JClass("org.pydl4jft.SafeDeserialization").install()

        version = jpype.JClass("java.lang.System").getProperty("java.version")
        log.info(
            "JVM started: Java %s, ND4J backend %s, %d threads, heap %s%s",
            version,
            backend,
            threads,
            s.heap,
            f", off-heap {s.offheap}" if s.offheap else "",
        )


def jvm_options(s: _settings.Settings) -> list[str]:
    """The JVM options for ``s``: heap, ND4J off-heap cap, DL4J's log level."""
    options = [
        f"-Xmx{s.heap}",
        # Signals stay Python's: without this the JVM takes SIGTERM, and JPype's Java
        # thread that forwards it crashed the process (docker stop, systemd, timeout).
        "-Xrs",
        "-Djava.awt.headless=true",
        f"-Dorg.slf4j.simpleLogger.defaultLogLevel={s.java_log_level}",
        "-Dorg.slf4j.simpleLogger.logFile=System.err",
    ]
    if s.offheap:
        options += [
            f"-Dorg.bytedeco.javacpp.maxbytes={s.offheap}",
            f"-Dorg.bytedeco.javacpp.maxphysicalbytes={s.offheap}",
        ]
    return options


def jclass(name: str):
    """A Java class by its full name; starts the JVM if needed."""
    ensure_started()
    return jpype.JClass(name)


def helper(name: str):
    """A class of the project's own Java helper (package ``org.pydl4jft``)."""
    return jclass("org.pydl4jft." + name)


def direct_buffer(array):
    """A java.nio.ByteBuffer over ``array``'s memory (no copy); keep ``array`` alive."""
    return jpype.nio.convertToDirectBuffer(array)


def input_stream(data: bytes):
    """A java.io.InputStream over a copy of ``data``."""
    ensure_started()
    return jpype.JClass("java.io.ByteArrayInputStream")(jpype.JArray(jpype.JByte)(data))


def long_array(values) -> object:
    return jpype.JArray(jpype.JLong)([int(v) for v in values])


def implements(interface: str):
    """Decorator: a Python class that implements a Java interface, for callbacks.

    Deferred, so the decorated class can be defined before the JVM starts.
    """
    return jpype.JImplements(interface, deferred=True)


def java_override(fn):
    return jpype.JOverride(fn)


# Java exception classes mapped to ours, most specific first.
_TRANSLATIONS = (
    ("org.pydl4jft.Trainer$TrainingDivergedException", TrainingDivergedError),
    ("org.deeplearning4j.exception.DL4JInvalidInputException", ShapeError),
    ("org.nd4j.linalg.exception.ND4JIllegalStateException", DataError),
    ("org.nd4j.linalg.exception.ND4JIllegalArgumentException", DataError),
)


@contextlib.contextmanager
def java_errors(
    doing: str, default: type[Dl4jFtError] = JavaError, advice: str = ""
) -> Iterator[None]:
    """Turns a Java exception raised inside the block into one of our errors.

    ``doing`` starts the message ("loading model.zip: ..."); ``default`` is the class
    used when no more specific translation applies, and ``advice`` (what to do next)
    ends the message in that case.
    """
    try:
        yield
    except jpype.JException as e:
        java_class = e.getClass().getName()
        kind = next((ours for name, ours in _TRANSLATIONS if name == java_class), None)
        if kind is not None and e.getMessage() is not None:
            # Our own and DL4J's input exceptions carry a message meant for the user.
            detail = str(e.getMessage())
        else:
            # Otherwise the innermost cause usually names the real problem.
            root = e
            while root.getCause() is not None and root.getCause() is not root:
                root = root.getCause()
            text = root.getMessage()
            name = str(root.getClass().getSimpleName())
            detail = name if text is None else f"{name}: {text}"
        message = f"{doing}: {detail}"
        if kind is None and advice:
            message += f"; {advice}"
        error = (kind or default)(message)
        error.java_class = java_class
        error.java_trace = str(e.stacktrace())
        raise error from e


@contextlib.contextmanager
def trusted_deserialization(trust: bool) -> Iterator[None]:
    """Lets Java deserialize objects on this thread inside the block, if ``trust``."""
    if not trust:
        yield
        return
    guard = helper("SafeDeserialization")
    guard.setTrusted(True)
    try:
        yield
    finally:
        guard.setTrusted(False)


def classpath() -> list[str]:
    """The jars the JVM runs (or will run) with, extra jars included."""
    return _jars.classpath(settings())
