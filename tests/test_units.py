"""Pure-Python pieces: settings precedence, the error tree, label encoding (no JVM)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from py_dl4j_ft import _jars, _settings, errors
from py_dl4j_ft.model import _check_features, _encode_labels


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in (
        "BACKEND",
        "HEAP",
        "OFFHEAP",
        "JAR_CACHE",
        "EXTRA_JARS",
        "JAVA_LOG_LEVEL",
    ):
        monkeypatch.delenv(f"PY_DL4J_FT_{name}", raising=False)
    monkeypatch.setenv("PY_DL4J_FT_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path / "config.toml"


def test_argument_beats_env_beats_config_beats_default(clean_env, monkeypatch):
    assert _settings.resolve().heap == "2g"
    clean_env.write_text('heap = "3g"\noffheap = "5g"\n')
    assert _settings.resolve().heap == "3g"
    monkeypatch.setenv("PY_DL4J_FT_HEAP", "4g")
    s = _settings.resolve()
    assert (s.heap, s.offheap) == ("4g", "5g")
    assert _settings.resolve(heap="6g").heap == "6g"


def test_config_section_and_extra_jars(clean_env, monkeypatch, tmp_path):
    jar = tmp_path / "custom.jar"
    zipfile.ZipFile(jar, "w").close()
    clean_env.write_text(f'[py_dl4j_ft]\nextra_jars = ["{jar}"]\n')
    assert _settings.resolve().extra_jars == (jar,)
    monkeypatch.setenv("PY_DL4J_FT_EXTRA_JARS", str(tmp_path / "missing.jar"))
    with pytest.raises(errors.SetupError, match="missing.jar does not exist"):
        _settings.resolve()
    (tmp_path / "text.jar").write_text("not a jar")
    monkeypatch.setenv("PY_DL4J_FT_EXTRA_JARS", str(tmp_path / "text.jar"))
    with pytest.raises(errors.SetupError, match="text.jar is not a jar"):
        _settings.resolve()


@pytest.mark.parametrize(
    "given, message",
    [
        ({"backend": "tpu"}, "backend must be one of cpu, cuda; got 'tpu'"),
        (
            {"heap": "lots"},
            "heap must be a size with a unit, such as 512m or 4g; got 'lots'",
        ),
        # A JVM refused at start ends the Python process: these never reach it.
        ({"heap": "512"}, "must be a size with a unit"),
        ({"heap": "1m"}, "heap must be at least 64m; got '1m'"),
        ({"offheap": "99999999g"}, "more than this machine's"),
        ({"heap": 4}, "heap must be a string; got 4"),
        ({"threads": "many"}, "threads must be a whole number; got 'many'"),
        ({"threads": 0}, "threads must be between 1 and 1024; got 0"),
        ({"java_log_level": "loud"}, "java_log_level must be one of"),
    ],
)
def test_bad_settings_are_named(clean_env, given, message):
    with pytest.raises(errors.SetupError, match=message):
        _settings.resolve(**given)


def test_bad_config_file(clean_env):
    clean_env.write_text("heap = [")
    with pytest.raises(errors.SetupError, match="could not be read"):
        _settings.resolve()
    clean_env.write_text('colour = "blue"\n')
    with pytest.raises(errors.SetupError, match=r"unknown keys \['colour'\]"):
        _settings.resolve()


def test_each_error_is_also_the_builtin_a_caller_expects():
    assert issubclass(errors.CheckpointNotFoundError, FileNotFoundError)
    assert issubclass(errors.NotACheckpointError, ValueError)
    assert issubclass(errors.ShapeError, ValueError)
    assert issubclass(errors.OutputExistsError, FileExistsError)
    assert issubclass(errors.JarsMissingError, RuntimeError)
    codes = {
        cls.exit_code
        for cls in (
            errors.SetupError,
            errors.CheckpointError,
            errors.DataError,
            errors.OutputExistsError,
            errors.TrainingDivergedError,
        )
    }
    assert codes == {3, 4, 5, 6, 7}


@pytest.mark.parametrize(
    "flags, expected",
    [
        (
            {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"},
            "linux-x86_64-avx512",
        ),
        ({"avx2", "fma", "avx512f"}, "linux-x86_64-avx2"),
        ({"sse4_2"}, "linux-x86_64"),
    ],
)
def test_native_classifier_follows_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(_jars, "platform_name", lambda: "linux-x86_64")
    assert _jars.native_classifier("cpu", flags) == expected
    assert _jars.native_classifier("cuda", flags) == "linux-x86_64"


CLASSES = {"rank": 2, "axis": 1, "size": 3, "loss": "LossMCXENT"}


def test_class_ids_become_one_hot():
    out = _encode_labels(np.array([2, 0, 1]), CLASSES, True, 3, False)
    assert out.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    same = _encode_labels(np.array([2.0, 0.0, 1.0]), CLASSES, True, 3, False)
    assert np.array_equal(out, same)


def test_sequence_labels_become_one_hot_per_step():
    spec = {"rank": 3, "axis": 1, "size": 3}
    out = _encode_labels(np.array([[0, 2], [1, 1]]), spec, True, 2, False)
    assert out.shape == (2, 3, 2)
    assert out[0, :, 1].tolist() == [0, 0, 1] and out[1, :, 0].tolist() == [0, 1, 0]


def test_regression_targets_and_binary_columns():
    spec = {"rank": 2, "axis": 1, "size": 1}
    assert _encode_labels(np.array([0.5, 2.0]), spec, False, 2, False).shape == (2, 1)
    with pytest.raises(errors.LabelError, match=r"0\.\.1"):
        _encode_labels(np.array([0, 2]), spec, True, 2, False)


@pytest.mark.parametrize(
    "shape, spec, message",
    [
        (
            (2, 3, 5),
            {"rank": 3, "axis": 1, "size": 5, "format": "NCW"},
            "transpose(0, 2, 1)",
        ),
        (
            (2, 8, 8, 3),
            {"rank": 4, "axis": 1, "size": 3, "format": "NCHW"},
            "transpose(0, 3, 1, 2)",
        ),
        (
            (2, 3, 8, 8),
            {"rank": 4, "axis": 3, "size": 3, "format": "NHWC"},
            "transpose(0, 2, 3, 1)",
        ),
    ],
)
def test_layout_mistakes_get_a_hint(shape, spec, message):
    with pytest.raises(
        errors.ShapeError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        _check_features(np.zeros(shape, np.float32), spec)


def test_flat_and_nchw_images_for_a_flattening_net():
    spec = {"rank": 2, "axis": 1, "size": 12, "format": "NF", "image": [3, 2, 2]}
    images = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    flat = _check_features(images, spec)
    assert flat.shape == (2, 12) and flat[1, 0] == 12
    with pytest.raises(
        errors.ShapeError, match=r"\[channels, height, width\] = \[3, 2, 2\]"
    ):
        _check_features(np.zeros((2, 2, 2, 3), np.float32), spec)
