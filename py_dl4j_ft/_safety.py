"""What a model zip may contain before any of it reaches DL4J.

Three kinds of content are refused here, in pure Python:

- entries that DL4J reads with Java deserialization (``preprocessor.bin``, ``objects/``,
  the pre-1.0 ``updater.bin``), which can run code chosen by whoever wrote the file,
  unless the caller trusts the file (``trust_serialized=True``, ``--trust-serialized``);
- archives whose entries would take more memory or disk than any real model needs (zip
  bombs), judged from the zip's table of contents before anything is decompressed;
- class names in ``configuration.json`` that are not DL4J's or ND4J's own and are not
  in a jar the user added (``extra_jars``, ``--extra-jar``): Jackson would otherwise
  instantiate whatever class the file names.

The JVM also runs with a process-wide deserialization filter (see ``_jvm`` and
``SafeDeserialization.java``), so a path missed here still cannot deserialize objects.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import NotACheckpointError, UnknownClassError, UnsafeCheckpointError

GiB = 1 << 30
MiB = 1 << 20


@dataclasses.dataclass(frozen=True)
class ZipLimits:
    """Limits a model zip must stay within; checked before any entry is decompressed.

    The defaults leave room for models far larger than the largest real checkpoint
    seen (about 3 MB compressed, 4.5 MB uncompressed): a 4 GiB entry holds a billion
    float32 parameters. Trained parameters and optimizer state compress little
    (about 1.1 times), so a large entry that compresses 200 times is almost surely a
    zip bomb; entries up to ``ratio_floor`` are exempt, because small all-zero arrays
    (the optimizer state of an untrained model) compress about 1000 times. A large
    model saved untrained, with its all-zero optimizer state, needs a higher
    ``max_ratio``.

    Attributes
    ----------
    max_entry_bytes : int
        Largest uncompressed size of one entry (default 4 GiB).
    max_total_bytes : int
        Largest uncompressed size of all entries together (default 12 GiB: parameters,
        Adam's two moments of the same size, and room to spare).
    max_config_bytes : int
        Largest ``configuration.json``, which is parsed in memory (default 64 MiB; the
        largest real one is 64 KB).
    max_ratio : float
        Largest uncompressed/compressed ratio of an entry above ``ratio_floor``
        (default 200).
    ratio_floor : int
        Entries up to this uncompressed size are exempt from ``max_ratio`` (16 MiB).
    max_entries : int
        Most entries in one archive (default 1,000; DL4J writes at most five, plus
        any ``objects/``).
    """

    max_entry_bytes: int = 4 * GiB
    max_total_bytes: int = 12 * GiB
    max_config_bytes: int = 64 * MiB
    max_ratio: float = 200.0
    ratio_floor: int = 16 * MiB
    max_entries: int = 1_000


DEFAULT_LIMITS = ZipLimits()

# Entries that ModelSerializer reads with ObjectInputStream.
SERIALIZED_ENTRIES = ("preprocessor.bin", "updater.bin")
SERIALIZED_FOLDERS = ("objects/",)


def check_sizes(
    path: Path, infos: list[zipfile.ZipInfo], limits: ZipLimits | None = None
) -> None:
    """Refuses an archive by its table of contents alone: entry count, sizes, ratios.

    Sizes come from the central directory; Python's zipfile never inflates an entry
    past the size declared there, so checking the declared sizes bounds every read.

    Raises
    ------
    UnsafeCheckpointError
        A limit of ``limits`` (default :data:`DEFAULT_LIMITS`) is exceeded.
    """
    limits = limits or DEFAULT_LIMITS
    if len(infos) > limits.max_entries:
        raise UnsafeCheckpointError(
            f"{path} holds {len(infos)} entries, more than the limit of "
            f"{limits.max_entries}; a DL4J model has at most five: the file is not a "
            "model, or was built to exhaust resources"
        )
    total = 0
    for info in infos:
        if not info.filename:
            raise NotACheckpointError(
                f"{path} has a zip entry without a name; the zip is damaged: copy the "
                "file again from its source"
            )
        size, packed = info.file_size, max(info.compress_size, 1)
        total += size
        if size > limits.max_entry_bytes:
            raise UnsafeCheckpointError(
                f"{path}: entry {info.filename} unpacks to {size:,} bytes, more than "
                f"the per-entry limit of {limits.max_entry_bytes:,}; if the model is "
                "really that large, raise ZipLimits.max_entry_bytes"
            )
        if size > limits.ratio_floor and size / packed > limits.max_ratio:
            raise UnsafeCheckpointError(
                f"{path}: entry {info.filename} claims {size:,} bytes from {packed:,} "
                f"compressed (ratio {size / packed:.0f}, limit "
                f"{limits.max_ratio:.0f}); "
                "this is a zip bomb or a forged header, not a model (an untrained "
                "model's all-zero optimizer state can compress this much: raise "
                "ZipLimits.max_ratio if you trust the file)"
            )
        if info.filename == "configuration.json" and size > limits.max_config_bytes:
            raise UnsafeCheckpointError(
                f"{path}: configuration.json unpacks to {size:,} bytes, more than the "
                f"limit of {limits.max_config_bytes:,}; real ones are a few KB"
            )
    if total > limits.max_total_bytes:
        raise UnsafeCheckpointError(
            f"{path} unpacks to {total:,} bytes in all, more than the limit of "
            f"{limits.max_total_bytes:,}; if the model is really that large, raise "
            "ZipLimits.max_total_bytes"
        )


def check_serialized(path: Path, trust_serialized: bool = False) -> None:
    """Refuses a zip with entries DL4J would hand to ObjectInputStream, unless trusted.

    Raises
    ------
    UnsafeCheckpointError
        ``preprocessor.bin``, ``updater.bin`` or ``objects/...`` is present and
        ``trust_serialized`` is false.
    """
    if trust_serialized:
        return
    with zipfile.ZipFile(path) as archive:
        serialized = serialized_entries(archive.infolist())
    if serialized:
        raise UnsafeCheckpointError(
            f"{path} holds Java-serialized entries ({', '.join(serialized)}); "
            "deserializing them can run any code the file's author chose, so "
            "py_dl4j_ft refuses them. If you trust where this file came from, pass "
            "trust_serialized=True (CLI: --trust-serialized)"
        )


_trust: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "py_dl4j_ft_trust_serialized", default=False
)


@contextlib.contextmanager
def trusting(trust: bool) -> Iterator[None]:
    """Makes ``trust`` the default ``trust_serialized`` inside the block (CLI)."""
    token = _trust.set(trust)
    try:
        yield
    finally:
        _trust.reset(token)


def trust_default() -> bool:
    """The ``trust_serialized`` in force when a call does not say."""
    return _trust.get()


def serialized_entries(infos: Iterable[zipfile.ZipInfo]) -> list[str]:
    """Names of the entries that DL4J would Java-deserialize."""
    return sorted(
        {
            i.filename
            for i in infos
            if i.filename in SERIALIZED_ENTRIES
            or i.filename.startswith(SERIALIZED_FOLDERS)
        }
    )


PRE_ZIP_FILES = ("conf.json", "coefficients.bin", "updater.bin")


def refuse_pre_zip(path: Path) -> None:
    """Refuses the loose files of a DL4J 0.4 model (before ModelSerializer's zip).

    Raises
    ------
    NotACheckpointError
        ``path`` is one of ``conf.json``, ``coefficients.bin``, ``updater.bin`` and at
        least one other of them lies beside it.
    """
    if path.name not in PRE_ZIP_FILES:
        return
    siblings = [n for n in PRE_ZIP_FILES if (path.parent / n).is_file()]
    if len(siblings) < 2:
        return
    raise NotACheckpointError(
        f"{path} is part of a DL4J 0.4 model saved as loose files ("
        f"{', '.join(siblings)}), from before DL4J stored models as one zip. DL4J "
        "1.0.0-M2.1 cannot read that format, and its updater.bin is a Java-serialized "
        "object, which py_dl4j_ft never deserializes (it could run any code). Rebuild "
        "the network from conf.json in a current DL4J and re-train, or re-save it as a "
        "zip with the DL4J 0.4 that wrote it (ModelSerializer.writeModel, without the "
        "updater)"
    )


# Class names in a configuration.

OWN_PREFIXES = ("org.deeplearning4j.", "org.nd4j.")
_CLASS_NAME = re.compile(r"^(?:[A-Za-z_$][\w$]*\.)+[A-Z_$][\w$]*$")

# Layer names that DL4J up to 1.0.0-alpha wrote as wrapper keys ({"dense": {...}})
# and that DL4J 1.0.0-M2.1 still maps to its own classes. Any other key in that place
# is a user's custom layer, which M2.1 can only resolve when it was registered in code.
LEGACY_LAYER_NAMES = frozenset(
    {
        "autoEncoder",
        "convolution",
        "convolution1d",
        "gravesLSTM",
        "LSTM",
        "gravesBidirectionalLSTM",
        "output",
        "CenterLossOutputLayer",
        "rnnoutput",
        "loss",
        "RBM",
        "dense",
        "subsampling",
        "subsampling1d",
        "batchNormalization",
        "localResponseNormalization",
        "embedding",
        "activation",
        "VariationalAutoencoder",
        "dropout",
        "GlobalPooling",
        "zeroPadding",
        "zeroPadding1d",
        "FrozenLayer",
        "Upsampling2D",
        "Yolo2OutputLayer",
        "RnnLossLayer",
        "CnnLossLayer",
    }
)


def class_names(config) -> Iterator[tuple[str, str]]:
    """Every Java class a configuration names: (class, where), outermost first.

    ``@class`` values name the class Jackson instantiates; any other string value
    shaped like a fully qualified class name (e.g. 0.x's ``customLossFunction``) is
    included too, as DL4J may load it by name.
    """
    stack: list[tuple[object, str]] = [(config, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{where}/{key}"
                if isinstance(value, str) and (
                    key == "@class" or _CLASS_NAME.match(value)
                ):
                    yield value, here
                else:
                    stack.append((value, here))
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(node))


def legacy_custom_layers(config) -> list[str]:
    """Wrapper-object layer names (pre-1.0.0-beta) that DL4J does not define."""
    found = []
    for node in _dicts(config):
        layer = node.get("layer")
        if (
            isinstance(layer, dict)
            and len(layer) == 1
            and "@class" not in layer
            and isinstance(next(iter(layer.values())), dict)
        ):
            name = next(iter(layer))
            if name not in LEGACY_LAYER_NAMES:
                found.append(name)
    return sorted(set(found))


# Classes DL4J 1.0.0-M2 moved from modelimport into deeplearning4j-nn; files saved by
# Keras-imported models before then name the old package, which M2.1 no longer has.
_OLD_KERAS_PREPROCESSORS = "org.deeplearning4j.nn.modelimport.keras.preprocessors."
MOVED_CLASSES = {
    _OLD_KERAS_PREPROCESSORS + name: "org.deeplearning4j.preprocessors." + name
    for name in (
        "KerasFlattenRnnPreprocessor",
        "PermutePreprocessor",
        "ReshapePreprocessor",
    )
}


def moved_classes(missing: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    """DL4J/ND4J classes of ``missing`` that now live in another package: old -> new.

    DL4J 1.0.0-M2 moved, e.g., the Keras-import preprocessors into deeplearning4j-nn;
    a file written before names them by the old package.
    """
    by_simple: dict[str, list[str]] = {}
    for name in known:
        if name.startswith(OWN_PREFIXES):
            by_simple.setdefault(name.rsplit(".", 1)[-1], []).append(name)
    moved = {}
    for name in missing:
        if name.startswith(OWN_PREFIXES):
            candidates = by_simple.get(name.rsplit(".", 1)[-1], [])
            if len(candidates) == 1:
                moved[name] = candidates[0]
    return moved


def missing_classes(config, classpath: Iterable[Path | str]) -> list[str]:
    """Classes the configuration names that no jar on ``classpath`` holds."""
    known = jar_classes(classpath)
    names = {MOVED_CLASSES.get(c, c) for c, _ in class_names(config)}
    return sorted(names - known)


def foreign_classes(config) -> list[str]:
    """Classes the configuration names outside DL4J's and ND4J's packages."""
    return sorted({c for c, _ in class_names(config) if not c.startswith(OWN_PREFIXES)})


def check_classes(path: Path, config, classpath: Iterable[Path | str]) -> None:
    """Refuses a configuration naming a class that no jar on ``classpath`` contains.

    Raises
    ------
    UnknownClassError
        With every missing class named and how to add the jar that holds it.
    """
    legacy = legacy_custom_layers(config)
    if legacy:
        raise UnknownClassError(
            f"{path} uses the custom layer type {', '.join(legacy)}, written by DL4J "
            "1.0.0-alpha or older under its short name; DL4J 1.0.0-M2.1 cannot map a "
            "short name to a user's class, even from a jar. Re-save the model with the "
            "DL4J version that wrote it after registering the layer "
            "(NeuralNetConfiguration.registerLegacyCustomClassesForJSON), or rebuild "
            "that layer in standard DL4J layers"
        )
    named = {}
    for name, where in class_names(config):
        # A class DL4J moved is loaded under its new name (see _checkpoint).
        named.setdefault(MOVED_CLASSES.get(name, name), where)
    foreign = sorted(n for n in named if not n.startswith(OWN_PREFIXES))
    known = jar_classes(classpath)
    missing = sorted(n for n in named if n not in known)
    if missing:
        outside = [n for n in missing if n in foreign]
        inside = [n for n in missing if n not in foreign]
        what = []
        if outside:
            what.append(f"classes that are not part of DL4J: {', '.join(outside)}")
        if inside:
            what.append(
                f"classes named like DL4J's that no jar on the classpath holds: "
                f"{', '.join(inside)}"
            )
        moved = moved_classes(inside, known)
        if moved:
            what.append(
                "DL4J 1.0.0-M2.1 has "
                + ", ".join(f"{old} as {new}" for old, new in moved.items())
                + " (the file uses the names from before DL4J moved them)"
            )
        raise UnknownClassError(
            f"{path} names {'; and '.join(what)} (first at "
            f"{named[missing[0]]} in configuration.json). These are custom layers or "
            "other user code: add the jar that holds them with --extra-jar JAR "
            "(Python: py_dl4j_ft.configure(extra_jars=[...]) before the first load) "
            "and load again",
            classes=missing,
        )


_jar_cache: dict[tuple[str, int, int], frozenset[str]] = {}


def jar_classes(classpath: Iterable[Path | str]) -> frozenset[str]:
    """Every class name (``a.b.C``, nested ``a.b.C$D``) in the jars of ``classpath``."""
    found: set[str] = set()
    for jar in classpath:
        jar = Path(jar)
        try:
            stat = jar.stat()
        except OSError:
            continue
        key = (str(jar), stat.st_mtime_ns, stat.st_size)
        if key not in _jar_cache:
            _jar_cache[key] = _read_jar(jar)
        found |= _jar_cache[key]
    return frozenset(found)


def _read_jar(jar: Path) -> frozenset[str]:
    """Class names of one jar; for the cached jars, from a list kept beside them."""
    index = jar.with_name(jar.name + ".classes")
    stat = jar.stat() if jar.is_file() else None
    if stat is not None and jar.parent.name == "lib":
        try:
            head, _, body = index.read_text().partition("\n")
            if head == f"{stat.st_size} {stat.st_mtime_ns}":
                return frozenset(body.split())
        except OSError:
            pass
    names = _scan_jar(jar)
    if stat is not None and jar.parent.name == "lib":
        try:  # the cache may be read-only; then the jar is scanned each time
            tmp = index.with_name(f".{index.name}.{os.getpid()}")
            tmp.write_text(f"{stat.st_size} {stat.st_mtime_ns}\n" + "\n".join(names))
            os.replace(tmp, index)
        except OSError:
            pass
    return names


def _scan_jar(jar: Path) -> frozenset[str]:
    if jar.is_dir():
        names = (str(p.relative_to(jar)) for p in jar.rglob("*.class"))
    else:
        try:
            with zipfile.ZipFile(jar) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return frozenset()
    return frozenset(
        n[: -len(".class")].replace("/", ".")
        for n in names
        if n.endswith(".class") and not n.startswith("META-INF/")
    )


def _dicts(node) -> Iterator[dict]:
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
