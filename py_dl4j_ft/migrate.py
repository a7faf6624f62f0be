"""Moving models forward: old DL4J zips to the current format, Keras files to DL4J.

:func:`upgrade` loads a checkpoint of any era DL4J 1.0.0-M2.1 reads (with the
compatibility fixes of :meth:`PreTrainedModel.load`) and writes it again as M2.1 writes
it. :func:`import_keras` builds a DL4J network from a Keras HDF5 file through DL4J's own
model import.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from . import _checkpoint
from .errors import OutputExistsError
from .model import PreTrainedModel

log = logging.getLogger(__name__)


def upgrade(old: str | Path, new: str | Path, *, overwrite: bool = False) -> Path:
    """Rewrites the checkpoint ``old`` in DL4J 1.0.0-M2.1's format as ``new``.

    Parameters
    ----------
    old : str or Path
        A ModelSerializer zip of any era DL4J 1.0.0-M2.1 can read; only ever read.
    new : str or Path
        Where to write the upgraded zip. It must not be ``old`` itself; it is written
        through a temporary file and renamed into place.
    overwrite : bool
        Replace ``new`` if it exists (never ``old``).

    Returns
    -------
    Path
        ``new``. The zip holds the same parameters, the optimizer state when ``old``
        stored one, and the normalizer when ``old`` had one; its configuration.json is
        the one DL4J 1.0.0-M2.1 writes, with the compatibility fixes applied at load
        time (legacy dropout, RNN data formats) now stored in it.
    """
    old, new = Path(old), Path(new)
    if _same_file(old, new):
        raise OutputExistsError(
            f"the upgraded model would overwrite its source {old}; write it to a new "
            "file and replace the old one yourself once it is checked"
        )
    found = _checkpoint.inspect(old)
    model = PreTrainedModel.load(old)
    saved = model.save(new, overwrite=overwrite, save_updater=found.has_updater_state)
    log.info("upgraded %s (%s) to %s", old, found.kind, saved)
    return saved


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()
