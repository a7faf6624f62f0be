"""The README's main job, run as a user runs it."""

from __future__ import annotations

import zipfile

import pytest

from py_dl4j_ft import PreTrainedModel, demo

pytestmark = [pytest.mark.jvm, pytest.mark.slow]


def test_demo_adapts_the_base_model_to_the_shifted_digits(jvm, tmp_path):
    lines = []
    result = demo.run(tmp_path, epochs=20, echo=lines.append)
    assert result["before"]["accuracy"] < 0.3  # the shifted scans defeat the base model
    assert result["after"]["accuracy"] > 0.8
    assert result["loss"][-1] < result["loss"][0] / 5
    assert {"configuration.json", "coefficients.bin", "updaterState.bin"} <= set(
        zipfile.ZipFile(result["saved"]).namelist()
    )
    reloaded = PreTrainedModel.load(result["saved"])
    assert reloaded.learning_rate == demo.FINE_TUNE_LEARNING_RATE
    assert any("after fine-tuning" in line for line in lines)

    # A second run reuses the base checkpoint instead of training it again.
    base = tmp_path / "base_digits.zip"
    stamp = base.stat().st_mtime_ns
    demo.run(tmp_path, epochs=1, echo=lines.append)
    assert base.stat().st_mtime_ns == stamp
