"""What a model file is, found in pure Python before the JVM sees it.

DL4J's own loader answers a 0-byte file, a Git LFS pointer or an empty zip with a Java
stack trace; here each gets a sentence that says what the file is and what to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from .errors import CheckpointNotFoundError, NotACheckpointError

CONFIGURATION = "configuration.json"
COEFFICIENTS = "coefficients.bin"
UPDATER_STATE = "updaterState.bin"
NORMALIZER = "normalizer.bin"

_SIGNATURES = (
    (
        b"version https://git-lfs",
        "a Git LFS pointer, not the model itself; fetch the real "
        "file with `git lfs pull` in the repository it came from",
    ),
    (
        b"\x89HDF\r\n\x1a\n",
        "a Keras/HDF5 file, not a DL4J zip; convert it with DL4J's Keras import first",
    ),
    (
        b"\xac\xed\x00\x05",
        "a Java-serialized object, not a DL4J zip; py_dl4j_ft never "
        "deserializes such files",
    ),
)


@dataclasses.dataclass(frozen=True)
class CheckpointFile:
    """A file that looks like a DL4J ModelSerializer zip."""

    path: Path
    kind: str  # "MultiLayerNetwork" or "ComputationGraph"
    has_updater_state: bool
    has_normalizer: bool
    legacy_dropout: bool = False


def inspect(path: str | Path) -> CheckpointFile:
    """Checks that ``path`` is a DL4J model zip and finds which kind of network."""
    path = Path(path)
    if not path.exists():
        raise CheckpointNotFoundError(
            f"model file {path} does not exist; check the path"
        )
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"model path {path} is not a file; pass the .zip that ModelSerializer wrote"
        )
    size = path.stat().st_size
    if size == 0:
        raise NotACheckpointError(
            f"{path} is an empty file (0 bytes), not a DL4J model; it "
            "was probably never fully written: export it again"
        )
    with path.open("rb") as f:
        head = f.read(64)
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise NotACheckpointError(f"{path} ({size} bytes) is {what}")
    if head.lstrip().startswith(b"{"):
        raise NotACheckpointError(
            f"{path} is a JSON file, not a DL4J zip; a configuration "
            "alone holds no trained parameters"
        )
    if not zipfile.is_zipfile(path):
        raise NotACheckpointError(
            f"{path} ({size} bytes) is not a zip archive (it starts with "
            f"{head[:8]!r}); expected a zip written by ModelSerializer"
        )

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            raw = archive.read(CONFIGURATION) if CONFIGURATION in names else None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise NotACheckpointError(
            f"{path} is a damaged or truncated zip ({e}); copy the "
            "file again from its source"
        ) from e
    if not names:
        raise NotACheckpointError(
            f"{path} is an empty zip archive with no entries; "
            "expected configuration.json and coefficients.bin"
        )
    missing = [n for n in (CONFIGURATION, COEFFICIENTS) if n not in names]
    if missing:
        raise NotACheckpointError(
            f"{path} is a zip but not a DL4J model: it lacks {' and '.join(missing)} "
            f"(it holds {', '.join(sorted(names)[:5])})"
        )
    try:
        config = json.loads(raw)
    except ValueError as e:  # includes UnicodeDecodeError
        raise NotACheckpointError(
            f"{path}: configuration.json is not valid JSON ({e})"
        ) from e

    if isinstance(config, dict) and "vertices" in config:
        kind = "ComputationGraph"
    elif isinstance(config, dict) and "confs" in config:
        kind = "MultiLayerNetwork"
    else:
        raise NotACheckpointError(
            f"{path}: configuration.json describes neither a "
            "MultiLayerNetwork (confs) nor a ComputationGraph (vertices)"
        )
    return CheckpointFile(
        path,
        kind,
        UPDATER_STATE in names,
        NORMALIZER in names,
        kind == "ComputationGraph" and _drop_zero_dropout(config),
    )


NORMALIZER_HEADER = b"\x00\x0aNORMALIZER"  # writeUTF("NORMALIZER")
_BYTE_ORDER_MARKS = ((b"\xfe\xff", "UTF-16"), (b"\xef\xbb\xbf", "UTF-8"))


def inspect_normalizer(path: str | Path) -> Path:
    """Checks that ``path`` starts like a file from DL4J's NormalizerSerializer."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"normalizer file {path} does not exist or is not a file; check the path"
        )
    with path.open("rb") as f:
        head = f.read(len(NORMALIZER_HEADER) + 3)
    if head.startswith(NORMALIZER_HEADER):
        return path
    for mark, name in _BYTE_ORDER_MARKS:
        if head.startswith(mark) and head[len(mark) :].startswith(NORMALIZER_HEADER):
            raise NotACheckpointError(
                f"{path} is a DL4J normalizer with a {name} byte-order mark "
                f"({len(mark)} bytes) put in front of it, probably by an editor or a "
                f"text conversion; remove those bytes (tail -c +{len(mark) + 1} FILE > "
                "fixed.bin) and pass the fixed file"
            )
    raise NotACheckpointError(
        f"{path} is not a normalizer written by DL4J's NormalizerSerializer (it does "
        f"not start with the NORMALIZER header but with {head[:8]!r}); pass the file "
        "that NormalizerSerializer or ModelSerializer.addNormalizerToModel wrote"
    )


def _drop_zero_dropout(node) -> bool:
    """Removes ``"dropOut": 0.0`` entries in place; True if there were any.

    Before 1.0, a dropOut of 0.0 meant "no dropout". DL4J 1.0.0-M2.1 reads it that way
    for a MultiLayerNetwork but turns it into an invalid Dropout(0.0) for a
    ComputationGraph, so such graphs cannot load unless the entry is removed first.
    """
    found = False
    if isinstance(node, dict):
        if node.get("dropOut") == 0.0:
            del node["dropOut"]
            found = True
        for value in node.values():
            found |= _drop_zero_dropout(value)
    elif isinstance(node, list):
        for value in node:
            found |= _drop_zero_dropout(value)
    return found


@contextlib.contextmanager
def loadable_copy(found: CheckpointFile):
    """Yields a path DL4J can load: the file itself, or a patched temporary copy.

    The copy differs only in configuration.json (see :func:`_drop_zero_dropout`); the
    original file is only read.
    """
    if not found.legacy_dropout:
        yield found.path
        return
    fd, tmp = tempfile.mkstemp(prefix="py_dl4j_ft-", suffix=".zip")
    try:
        with (
            os.fdopen(fd, "wb") as out,
            zipfile.ZipFile(found.path) as src,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
        ):
            for item in src.infolist():
                if item.filename == CONFIGURATION:
                    config = json.loads(src.read(item))
                    _drop_zero_dropout(config)
                    dst.writestr(CONFIGURATION, json.dumps(config, indent=2))
                else:
                    with src.open(item) as data, dst.open(item.filename, "w") as copy:
                        shutil.copyfileobj(data, copy)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)
