"""Shared fixtures: where the real third-party inputs are, and the one JVM per session.

Tests marked ``jvm`` start the real DL4J through py_dl4j_ft in this process; those that
need a fresh JVM (start-up, settings, missing jars) run in subprocesses.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PY_DL4J_FT_SHARED", ROOT.parent / "shared"))
CHECKPOINTS = SHARED / "checkpoints"
DATASETS = SHARED / "datasets"


def checkpoint(relative: str) -> Path:
    """A file under ../shared/checkpoints, or a skip that says it is missing."""
    path = CHECKPOINTS / relative
    if not path.exists():
        pytest.skip(f"{path} is not present (tests read ../shared/checkpoints)")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images as [n, 784] floats in [0, 1], with their labels."""
    images, labels = (
        DATASETS / "mnist/t10k-images-idx3-ubyte.gz",
        DATASETS / "mnist/t10k-labels-idx1-ubyte.gz",
    )
    if not images.exists():
        pytest.skip(f"{images} is not present")
    x = np.frombuffer(gzip.decompress(images.read_bytes()), np.uint8, offset=16)
    y = np.frombuffer(gzip.decompress(labels.read_bytes()), np.uint8, offset=8)
    return x.reshape(-1, 784) / np.float32(255), y.astype(np.int64)


def standardized_iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    x, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(x).astype(np.float32), y


@pytest.fixture(scope="session")
def jvm():
    """Starts the JVM once for the session (jars must be resolved: `dl4j-ft setup`)."""
    from py_dl4j_ft import _jvm

    _jvm.ensure_started()
    return _jvm
