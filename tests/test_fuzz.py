"""A seeded subset of the loader fuzz run (the full run: tests/fuzz/fuzz_loader.py).

Mutated real checkpoints (bytes flipped, cut short, entries dropped, duplicated or
renamed, configuration values and array headers changed) must each end in a load or
in one of py_dl4j_ft's errors: no other exception, no crash, no hang. The cases run in
a worker process so that a crash of the JVM shows as a failure here instead of ending
the test session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import CHECKPOINTS, checkpoint

FUZZ = Path(__file__).resolve().parent / "fuzz" / "fuzz_loader.py"


def test_mutated_checkpoints_load_or_fail_with_our_errors():
    checkpoint("kam2018__ai-agent-service/loan_approval_model.zip")
    done = subprocess.run(
        [
            sys.executable,
            str(FUZZ),
            "--cases",
            "240",
            "--seed",
            "4",
            "--per-worker",
            "240",
            "--case-timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PY_DL4J_FT_SHARED": str(CHECKPOINTS.parent), **_env()},
    )
    summary = json.loads(done.stdout)

    assert summary["failures"] == [], summary["failures"]
    assert done.returncode == 0
    assert summary["cases"] == 240
    outcomes = summary["outcomes"]
    assert "CRASH" not in outcomes and "HANG" not in outcomes
    # Both ends are reached: some mutations are harmless, most are refused.
    assert outcomes.get("loaded", 0) > 20
    assert outcomes.get("NotACheckpointError", 0) > 20
    assert outcomes.get("CorruptCheckpointError", 0) > 20
    allowed = {
        "loaded",
        "NotACheckpointError",
        "CorruptCheckpointError",
        "UnsafeCheckpointError",
        "UnknownClassError",
    }
    assert set(outcomes) <= allowed | {o for o in outcomes if o.startswith("loaded,")}


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "PY_DL4J_FT_SHARED"}
