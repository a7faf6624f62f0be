"""SIGTERM, as docker stop, systemd and timeout send it, in a process that runs DL4J."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import checkpoint, standardized_iris

from py_dl4j_ft import PreTrainedModel

pytestmark = pytest.mark.jvm

IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"


def _start(args, cwd):
    return subprocess.Popen(
        args,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PY_DL4J_FT_THREADS": "1"},
    )


def _finish(process):
    try:
        return process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()


def test_sigterm_during_fine_tune_saves_and_exits_130(jvm, tmp_path):
    x, y = standardized_iris()
    np.savez(
        tmp_path / "iris.npz",
        features=np.repeat(x, 20, axis=0),
        labels=np.repeat(y, 20),
    )
    out = tmp_path / "out.zip"
    process = _start(
        [
            sys.executable,
            "-m",
            "py_dl4j_ft",
            "fine-tune",
            str(checkpoint(IRIS)),
            "--data",
            "iris.npz",
            "--lr",
            "0.01",
            "--epochs",
            "100000",
            "--batch-size",
            "8",
            "--out",
            str(out),
        ],
        tmp_path,
    )
    first = process.stdout.readline()  # "before: ...", printed just before training
    assert first.startswith("before:"), first
    time.sleep(1.5)  # into training; no assertion depends on how far it got
    process.send_signal(signal.SIGTERM)
    _, stderr = _finish(process)

    assert process.returncode == 130, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"saved it to {out}" in errors[0], stderr
    assert errors[0].startswith("error: training interrupted (SIGTERM)"), errors[0]
    assert PreTrainedModel.load(out).evaluate(x, y)["accuracy"] > 0.9
    # The JVM did not crash: no crash report, nothing but our files in the folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iris.npz", "out.zip"]


def test_sigterm_ends_a_python_process_with_a_running_jvm_cleanly(jvm, tmp_path):
    # Not the CLI: no handler of ours. Python's default must win, not the JVM's.
    code = (
        "import sys, time\n"
        "from py_dl4j_ft import PreTrainedModel\n"
        f"PreTrainedModel.load({str(checkpoint(IRIS))!r})\n"
        "print('loaded', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = _start([sys.executable, "-c", code], tmp_path)
    assert process.stdout.readline().strip() == "loaded"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = _finish(process)

    assert process.returncode == -signal.SIGTERM, stderr[-2000:]
    assert "SIGSEGV" not in stdout + stderr
    assert list(tmp_path.iterdir()) == []  # no hs_err_pid*.log
