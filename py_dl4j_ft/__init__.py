"""Fine-tune DeepLearning4J checkpoints from Python.

Importing this package starts nothing; the JVM starts when the first model is loaded,
with the settings given to :func:`configure` (or taken from ``PY_DL4J_FT_*`` variables,
the config file, or the defaults). Run :func:`setup` (``dl4j-ft setup``) once per
machine to resolve the DL4J jars.
"""

from __future__ import annotations

from pathlib import Path as _Path

from . import _jars, _jvm, _settings
from ._describe import CheckpointSummary, LayerSummary, inspect_checkpoint
from ._safety import ZipLimits
from .data import Dataset, load_dataset
from .errors import *  # noqa: F403 - the exception tree is part of the public API
from .migrate import import_keras, upgrade
from .model import EpochRecord, History, PreTrainedModel

__version__ = "0.1.0"

configure = _jvm.configure


def setup(
    backend: str | None = None,
    *,
    jar_cache: str | _Path | None = None,
    force: bool = False,
) -> _Path:
    """Resolves the DL4J/ND4J jars for ``backend`` and builds the Java helper.

    Runs Maven once; later calls with unchanged sources return at once. Returns the
    folder that holds the jars.
    """
    settings = _settings.resolve(backend=backend, jar_cache=jar_cache)
    return _jars.setup(settings, force=force)


__all__ = [
    "CheckpointSummary",
    "Dataset",
    "EpochRecord",
    "History",
    "LayerSummary",
    "PreTrainedModel",
    "ZipLimits",
    "configure",
    "inspect_checkpoint",
    "import_keras",
    "load_dataset",
    "setup",
    "upgrade",
]
