"""Writing output files whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputExistsError, OutputPathError

# An input to guard: a path, or (what the caller calls it, path); None is skipped.
Inputs = Iterable["Path | str | tuple[str, Path | str | None] | None"]


def same_file(a: Path | str, b: Path | str) -> bool:
    """True when ``a`` and ``b`` are one file: the same path, a symbolic or a hard link.

    Both existing: compared by device and inode. Otherwise by their resolved paths
    (symbolic links followed), since a file yet to be written has no inode.
    """
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_not_input(path: Path, inputs: Inputs) -> None:
    """Refuses an output path that is one of the command's inputs, even overwriting.

    Writing a result over the file it was computed from would lose the input for good
    (and a failed check of the result could not go back to it).
    """
    for given in inputs:
        what, source = given if isinstance(given, tuple) else (None, given)
        if source is None or not same_file(path, source):
            continue
        named = f"{what} {source}" if what else f"the input {source}"
        raise OutputExistsError(
            f"output {path} is the same file as {named}; an input is never "
            "overwritten, not even with --overwrite (overwrite=True): write the "
            "result to a new file and replace the input yourself once it is checked"
        )


def check_output(path: Path, overwrite: bool, inputs: Inputs = ()) -> None:
    """Refuses an output path that cannot or must not be written, before any work.

    ``inputs`` are the files the output is made from; the output may be none of them.
    """
    path = Path(path)
    check_not_input(path, inputs)
    if path.is_dir():
        raise OutputExistsError(f"{path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} already exists; choose another path or allow overwriting "
            "(overwrite=True, --overwrite)"
        )
    if not path.parent.is_dir():
        raise OutputPathError(f"folder {path.parent} does not exist; create it first")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"folder {path.parent} is not writable; choose another")


@contextlib.contextmanager
def atomic_output(path: Path, overwrite: bool, inputs: Inputs = ()) -> Iterator[Path]:
    """Yields a temporary path next to ``path``; renamed onto ``path`` on success.

    On any failure the temporary file is removed and ``path`` is untouched, so no
    reader ever sees a half-written file.
    """
    check_output(path, overwrite, inputs)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private; the result gets the usual permissions.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
