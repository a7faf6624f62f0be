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
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from . import _safety
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
        "a Keras/HDF5 file, not a DL4J zip; convert it first with "
        "`dl4j-ft import-keras MODEL.h5 MODEL.zip` (py_dl4j_ft.import_keras in Python)",
    ),
    (
        b"\xac\xed\x00\x05",
        "a Java-serialized object, not a DL4J zip; py_dl4j_ft never "
        "deserializes such files",
    ),
    (
        b"\x00\x0aNORMALIZER",
        "a DL4J normalizer (NormalizerSerializer), not a model; pass it as the "
        "normalizer (--normalizer FILE) of the model it belongs to",
    ),
    (
        b"\xfe\xff\x00\x0aNORMALIZER",
        "a DL4J normalizer with a UTF-16 byte-order mark put in front of it, not a "
        "model; strip the first 2 bytes and pass it as the normalizer (--normalizer)",
    ),
    *(
        (
            mode,
            "a single ND4J array (Nd4j.write), not a model; a model zip holds "
            "configuration.json and coefficients.bin",
        )
        for mode in (
            b"\x00\x07JAVACPP",
            b"\x00\x0aLONG_SHAPE",
            b"\x00\x10MIXED_DATA_TYPES",
            b"\x00\x04HEAP",
            b"\x00\x06DIRECT",
        )
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
    moved_classes: bool = False
    # configuration.json as parsed, with the fixes above already made.
    config: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)


def inspect(
    path: str | Path, limits: _safety.ZipLimits | None = None
) -> CheckpointFile:
    """Checks that ``path`` is a DL4J model zip and finds which kind of network.

    ``limits`` bounds the sizes in the zip, checked before anything is decompressed.
    """
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
    _safety.refuse_pre_zip(path)
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
        if head.startswith(b"PK\x03\x04"):
            raise NotACheckpointError(
                f"{path} ({size} bytes) is a truncated or damaged zip: it starts like "
                "one but has no readable table of contents; copy it again from its "
                "source"
            )
        raise NotACheckpointError(
            f"{path} ({size} bytes) is not a zip archive (it starts with "
            f"{head[:8]!r}); expected a zip written by ModelSerializer"
        )

    try:
        with zipfile.ZipFile(path) as archive:
            _safety.check_sizes(path, archive.infolist(), limits)
            names = {i.filename for i in archive.infolist() if not i.is_dir()}
            raw = archive.read(CONFIGURATION) if CONFIGURATION in names else None
            stored_types = {
                _check_array_entry(path, archive, entry)
                for entry in (COEFFICIENTS, UPDATER_STATE)
                if entry in names
            }
    except _ZIP_READ_ERRORS as e:
        raise NotACheckpointError(
            f"{path} is a damaged or truncated zip ({type(e).__name__}: {e}); copy the "
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
    except (ValueError, RecursionError) as e:  # ValueError includes UnicodeDecodeError
        raise NotACheckpointError(
            f"{path}: configuration.json is not valid JSON ({e})"
        ) from e

    # Parameters stored in a type the configuration does not declare are read as that
    # type by DL4J and turn every output into garbage.
    declared = _declared_types(config)
    undeclared = stored_types - declared - {None}
    if declared and undeclared:
        raise NotACheckpointError(
            f"{path}: its arrays are stored as {', '.join(sorted(undeclared))} but its "
            f"configuration declares {', '.join(sorted(declared))}; the file is damaged"
        )

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
        _rename_moved_classes(config),
        config,
    )


# What reading a damaged or unusual zip can raise in Python's zipfile and zlib.
_ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    RuntimeError,  # encrypted entries
    NotImplementedError,  # unknown compression methods
    UnicodeDecodeError,  # entry names flagged UTF-8 that are not
)

# ND4J's binary array format (Nd4j.write), as ModelSerializer stores parameters and
# optimizer state: two buffers, shape information then data, each headed by an
# allocation mode, a length (int for the old modes, long since LONG_SHAPE) and a type.
_INT_LENGTH_MODES = {"HEAP", "JAVACPP", "DIRECT"}
_LONG_LENGTH_MODES = {"LONG_SHAPE", "MIXED_DATA_TYPES"}
_WIDTHS = {
    "FLOAT": 4,
    "DOUBLE": 8,
    "HALF": 2,
    "BFLOAT16": 2,
    "INT": 4,
    "LONG": 8,
    "SHORT": 2,
    "BYTE": 1,
    "UBYTE": 1,
    "BOOL": 1,
}
_PARAMETER_TYPES = {"FLOAT", "DOUBLE", "HALF", "BFLOAT16"}
_MAX_RANK = 32
_MAX_DEFLATE_RATIO = 1100  # deflate cannot expand data more than ~1032 times


class _Header:
    """Reads big-endian fields from the start of a stream, as DataInputStream writes."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ValueError("header ends early")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def utf(self) -> str:
        return self.take(struct.unpack(">H", self.take(2))[0]).decode("ascii")

    def buffer_head(self) -> tuple[int, str]:
        mode = self.utf()
        if mode in _INT_LENGTH_MODES:
            length = struct.unpack(">i", self.take(4))[0]
        elif mode in _LONG_LENGTH_MODES:
            length = struct.unpack(">q", self.take(8))[0]
        else:
            raise ValueError(f"allocation mode {mode!r}")
        return length, self.utf()


def _objects(node) -> Iterator[dict]:
    """Every JSON object in a parsed configuration, outermost first."""
    if isinstance(node, dict):
        yield node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return
    for child in children:
        yield from _objects(child)


def _declared_types(config) -> set[str]:
    """Every ``dataType`` value a configuration declares (1.0.0-beta4 and later)."""
    return {
        o["dataType"]
        for o in _objects(config)
        if isinstance(o.get("dataType"), str) and o["dataType"] in _PARAMETER_TYPES
    }


def _check_array_entry(path: Path, archive: zipfile.ZipFile, name: str) -> str | None:
    """Refuses an array entry whose header contradicts its own size.

    DL4J allocates what the header declares before reading the data, so a damaged length
    or stride can take the whole process down in native code; this reads only the header
    (a few hundred bytes) and checks it against the entry's size first. A header in a
    format not recognised here is left for DL4J to judge.
    """
    info = archive.getinfo(name)
    if info.file_size > info.compress_size * _MAX_DEFLATE_RATIO + 4096:
        raise NotACheckpointError(
            f"{path}: {name} claims {info.file_size} bytes from {info.compress_size} "
            "compressed, more than compression can produce; the zip is damaged"
        )
    with archive.open(info) as f:
        header = _Header(f.read(1024))
    # Returns the stored value type, or None for a layout this check does not know.
    try:
        length, shape_type = header.buffer_head()
        if shape_type not in ("INT", "LONG"):
            raise _Bad(f"its shape information is typed {shape_type}, not INT or LONG")
        width = _WIDTHS[shape_type]
        fmt = ">i" if width == 4 else ">q"
        rank = struct.unpack(fmt, header.take(width))[0]
        if not 0 <= rank <= _MAX_RANK or length != 2 * rank + 4:
            raise _Bad(f"its shape header says rank {rank} in {length} values")
        rest = [struct.unpack(fmt, header.take(width))[0] for _ in range(length - 1)]
        shape, strides, order = rest[:rank], rest[rank : 2 * rank], rest[-1]
        count, data_type = header.buffer_head()
    except ValueError:
        return None  # not a layout this check knows
    except _Bad as e:
        raise NotACheckpointError(f"{path}: {name} is damaged: {e}") from None

    expected = 1
    for dim in shape:
        if dim < 0:
            raise NotACheckpointError(f"{path}: {name} is damaged: shape {shape}")
        expected *= dim
    problems = []
    if count != expected:
        problems.append(f"shape {shape} needs {expected} values, header says {count}")
    if order not in (ord("c"), ord("f")):
        problems.append(f"its order code {order} is neither 'c' nor 'f'")
    elif not _default_strides(shape, strides, chr(order)):
        problems.append(f"strides {strides} do not fit shape {shape}")
    width = _WIDTHS.get(data_type) if data_type in _PARAMETER_TYPES else None
    if width is None:
        problems.append(f"its values are typed {data_type}, not a floating-point type")
    elif header.at + count * width != info.file_size:
        problems.append(
            f"{count} {data_type} values need {header.at + count * width} bytes, the "
            f"entry has {info.file_size}"
        )
    if problems:
        raise NotACheckpointError(
            f"{path}: {name} is damaged ({'; '.join(problems)}); copy the file again "
            "from its source"
        )
    return data_type


class _Bad(Exception):
    """A header that parses but is impossible.

    Not a ValueError (as NotACheckpointError is): the parse uses ValueError to mean "a
    layout this check does not know".
    """


def _default_strides(shape: list[int], strides: list[int], order: str) -> bool:
    """True if ``strides`` are the dense ones for ``shape``, ignoring size-1 axes."""
    step = 1
    axes = range(len(shape) - 1, -1, -1) if order == "c" else range(len(shape))
    for axis in axes:
        if shape[axis] != 1 and strides[axis] != step:
            return False
        step *= shape[axis]
    return True


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
        check_normalizer_bytes(f.read(len(NORMALIZER_HEADER) + 3), str(path))
    return path


def normalizer_in_zip(found: CheckpointFile) -> bytes:
    """The ``normalizer.bin`` stored in a model zip, checked like a file."""
    where = f"{found.path} (its {NORMALIZER})"
    try:
        with zipfile.ZipFile(found.path) as archive:
            data = archive.read(NORMALIZER)
    except _ZIP_READ_ERRORS as e:
        raise NotACheckpointError(f"{where} cannot be read ({e})") from e
    check_normalizer_bytes(data, where)
    return data


def check_normalizer_bytes(head: bytes, where: str) -> None:
    """Refuses data that does not start with NormalizerSerializer's header."""
    if head.startswith(NORMALIZER_HEADER):
        return
    for mark, name in _BYTE_ORDER_MARKS:
        if head.startswith(mark) and head[len(mark) :].startswith(NORMALIZER_HEADER):
            raise NotACheckpointError(
                f"{where} is a DL4J normalizer with a {name} byte-order mark "
                f"({len(mark)} bytes) put in front of it, probably by an editor or a "
                f"text conversion; remove those bytes (tail -c +{len(mark) + 1} FILE > "
                "fixed.bin) and pass the fixed file"
            )
    raise NotACheckpointError(
        f"{where} is not a normalizer written by DL4J's NormalizerSerializer (it does "
        f"not start with the NORMALIZER header but with {head[:8]!r}); pass the file "
        "that NormalizerSerializer or ModelSerializer.addNormalizerToModel wrote"
    )


def _rename_moved_classes(node) -> bool:
    """Gives classes DL4J moved their new names (see _safety.MOVED_CLASSES), in place.

    Returns True if any were renamed.
    """
    renamed = False
    for o in _objects(node):
        name = o.get("@class")
        if isinstance(name, str) and name in _safety.MOVED_CLASSES:
            o["@class"] = _safety.MOVED_CLASSES[name]
            renamed = True
    return renamed


def _drop_zero_dropout(node) -> bool:
    """Removes ``"dropOut": 0.0`` entries in place; True if there were any.

    Before 1.0, a dropOut of 0.0 meant "no dropout". DL4J 1.0.0-M2.1 reads it that way
    for a MultiLayerNetwork but turns it into an invalid Dropout(0.0) for a
    ComputationGraph, so such graphs cannot load unless the entry is removed first.
    """
    zero = [o for o in _objects(node) if o.get("dropOut") == 0.0]
    for o in zero:
        del o["dropOut"]
    return bool(zero)


@contextlib.contextmanager
def loadable_copy(found: CheckpointFile):
    """Yields a path DL4J can load: the file itself, or a patched temporary copy.

    The copy differs only in configuration.json (see :func:`_drop_zero_dropout` and
    :func:`_rename_moved_classes`); the original file is only read.
    """
    if not (found.legacy_dropout or found.moved_classes):
        yield found.path
        return
    fd, tmp = tempfile.mkstemp(prefix="py_dl4j_ft-", suffix=".zip")
    try:
        _write_patched_copy(found, fd)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _write_patched_copy(found: CheckpointFile, fd: int) -> None:
    try:
        with (
            os.fdopen(fd, "wb") as out,
            zipfile.ZipFile(found.path) as src,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
        ):
            for item in src.infolist():
                if item.filename == CONFIGURATION:
                    # inspect() parsed it and made the fixes already.
                    dst.writestr(CONFIGURATION, json.dumps(found.config, indent=2))
                else:
                    with src.open(item) as data, dst.open(item.filename, "w") as copy:
                        shutil.copyfileobj(data, copy)
    except _ZIP_READ_ERRORS as e:
        raise NotACheckpointError(
            f"{found.path} is a damaged zip ({type(e).__name__}: {e}); copy the file "
            "again from its source"
        ) from e
