"""Writing output files whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputExistsError, OutputPathError


def check_output(path: Path, overwrite: bool) -> None:
    """Refuses an output path that cannot or must not be written, before any work."""
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
def atomic_output(path: Path, overwrite: bool) -> Iterator[Path]:
    """Yields a temporary path next to ``path``; renamed onto ``path`` on success.

    On any failure the temporary file is removed and ``path`` is untouched, so no
    reader ever sees a half-written file.
    """
    check_output(path, overwrite)
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
