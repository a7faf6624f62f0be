"""Start-up cases, each in a fresh Python process: a JVM starts only once per process.

Every child gets an environment without ``PY_DL4J_FT_*`` variables and a config path
that does not exist, so the developer's own settings never leak into a case; each case
then adds exactly the variables and the config file it is about.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import checkpoint

GRAPH = "sawfly29__S_M/MyComputationGraph.zip"
MOON = "deeplearning4j__dl4j-test-resources/MLPMoon_Model_RANDOM_INIT_UNTRAINED.zip"
MOON_EVAL = "deeplearning4j__dl4j-test-resources/moon_data_eval.csv"
MIB = 1024 * 1024


def child_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PY_DL4J_FT_")}
    env["PY_DL4J_FT_CONFIG"] = str(tmp_path / "absent-config.toml")
    env.update(changes)
    return env


def python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Runs ``code`` in a new interpreter; a JVM crash fails the test, not pytest."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode >= 0, f"killed by signal {-done.returncode}: {done.stderr}"
    return done


def last_json(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def dl4j_ft(
    *args: str | Path, env: dict[str, str], cwd: Path, timeout: int = 300
) -> subprocess.CompletedProcess:
    """The command line in a new process, through the absolute interpreter path."""
    done = subprocess.run(
        [sys.executable, "-m", "py_dl4j_ft", *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode >= 0, f"killed by signal {-done.returncode}: {done.stderr}"
    assert done.returncode != 134, f"aborted: {done.stderr}"
    return done


def error_line(done: subprocess.CompletedProcess) -> str:
    """The one ``error:`` line the command printed last on stderr."""
    lines = done.stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    assert lines[-1].startswith("error: "), done.stderr
    return lines[-1]


def nvidia_gpu_present() -> bool:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60)
    return listed.returncode == 0 and "GPU" in listed.stdout


# Importing and configuring start nothing.


def test_import_and_configure_start_no_jvm(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = """if True:
        import json, jpype
        import py_dl4j_ft, py_dl4j_ft.cli
        after_import = jpype.isJVMStarted()
        settings = py_dl4j_ft.configure(heap="1g")
        print(json.dumps({"after_import": after_import,
                          "after_configure": jpype.isJVMStarted(),
                          "heap": settings.heap}))
    """
    result = last_json(python(code, child_env(tmp_path, HOME=str(home)), tmp_path))

    assert result == {"after_import": False, "after_configure": False, "heap": "1g"}
    # Nothing was written either: no cache, no config, no log in the home folder.
    assert list(home.iterdir()) == []
    assert list(tmp_path.iterdir()) == [home]


@pytest.mark.jvm
def test_settings_are_fixed_once_the_jvm_runs(tmp_path):
    code = f"""if True:
        import json, jpype
        import py_dl4j_ft
        from py_dl4j_ft import JVMSettingsError, PreTrainedModel
        py_dl4j_ft.configure(heap="2g")
        PreTrainedModel.load({str(checkpoint(GRAPH))!r})
        started = jpype.isJVMStarted()
        try:
            py_dl4j_ft.configure(heap="1g")
            refused = None
        except JVMSettingsError as e:
            refused = [str(e), isinstance(e, RuntimeError)]
        same = py_dl4j_ft.configure(heap="2g").heap
        print(json.dumps({{"started": started, "refused": refused, "same": same}}))
    """
    result = last_json(python(code, child_env(tmp_path), tmp_path))

    assert result["started"] is True
    assert result["refused"] is not None, "a different heap after start was accepted"
    message, is_runtime_error = result["refused"]
    assert "heap=1g (the JVM runs with 2g)" in message
    assert is_runtime_error is True
    assert result["same"] == "2g"


# Which heap the JVM gets: argument > environment > config file > default.

HEAP_PROBE = """if True:
    import jpype
    import py_dl4j_ft
    {configure}
    py_dl4j_ft.PreTrainedModel.load({model!r})
    print(int(jpype.JClass("java.lang.Runtime").getRuntime().maxMemory()))
"""


@pytest.mark.jvm
@pytest.mark.parametrize(
    "argument, env, config, expected_mib",
    [
        (None, None, None, 2048),
        (None, None, "640m", 640),
        (None, "768m", "640m", 768),
        ("1g", "768m", "640m", 1024),
    ],
    ids=["default", "config", "env-beats-config", "argument-beats-env"],
)
def test_heap_precedence(tmp_path, argument, env, config, expected_mib):
    changes = {}
    if env is not None:
        changes["PY_DL4J_FT_HEAP"] = env
    if config is not None:
        path = tmp_path / "config.toml"
        path.write_text(f'[py_dl4j_ft]\nheap = "{config}"\n')
        changes["PY_DL4J_FT_CONFIG"] = str(path)
    configure = f"py_dl4j_ft.configure(heap={argument!r})" if argument else "pass"
    code = HEAP_PROBE.format(configure=configure, model=str(checkpoint(GRAPH)))

    done = python(code, child_env(tmp_path, **changes), tmp_path)

    assert done.returncode == 0, done.stderr
    max_memory = int(done.stdout.splitlines()[-1])
    # The JVM may keep a little of -Xmx back for a survivor space, never more than it.
    assert 0.85 * expected_mib * MIB <= max_memory <= expected_mib * MIB


@pytest.mark.jvm
@pytest.mark.parametrize("threads", ["1", "2"])
def test_thread_count_reaches_nd4j(tmp_path, threads):
    code = (
        "import py_dl4j_ft, jpype\n"
        f"py_dl4j_ft.PreTrainedModel.load({str(checkpoint(GRAPH))!r})\n"
        "print(jpype.JClass('org.nd4j.linalg.factory.Nd4j').getEnvironment()"
        ".maxThreads())\n"
    )
    env = child_env(tmp_path, PY_DL4J_FT_THREADS=threads)
    env.pop("OMP_NUM_THREADS", None)
    done = python(code, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == threads


# Bad settings are refused with the value named, before anything starts.


@pytest.mark.parametrize(
    "call, env, config, named",
    [
        ('configure(backend="tpu")', {}, None, "'tpu'"),
        ('configure(heap="lots")', {}, None, "'lots'"),
        ("configure()", {"PY_DL4J_FT_OFFHEAP": "8 GB"}, None, "'8 GB'"),
        ("configure()", {}, 'heap = "1g"\ncolour = "blue"\n', "'colour'"),
    ],
    ids=["backend", "heap", "offheap-env", "config-key"],
)
def test_bad_settings_are_refused(tmp_path, call, env, config, named):
    changes = dict(env)
    if config is not None:
        (tmp_path / "config.toml").write_text(config)
        changes["PY_DL4J_FT_CONFIG"] = str(tmp_path / "config.toml")
    code = f"""if True:
        import json, jpype
        import py_dl4j_ft
        try:
            py_dl4j_ft.{call}
            error = None
        except py_dl4j_ft.SetupError as e:
            error = str(e)
        print(json.dumps({{"error": error, "started": jpype.isJVMStarted()}}))
    """
    result = last_json(python(code, child_env(tmp_path, **changes), tmp_path))

    assert result["error"] is not None, "the bad value was accepted"
    assert named in result["error"]
    assert result["started"] is False


# The command line in an unready environment: exit 3 and a message that names the fix.


def test_cuda_backend_without_gpu_exits_cleanly(tmp_path):
    if nvidia_gpu_present():
        pytest.skip("this machine has an NVIDIA GPU; the case needs a machine without")

    done = dl4j_ft(
        "--backend",
        "cuda",
        "predict",  # a command that needs Java (info does not)
        checkpoint(GRAPH),
        "--data",
        iris_rows(tmp_path),
        env=child_env(tmp_path),
        cwd=tmp_path,
    )

    assert done.returncode == 3, done.stderr
    line = error_line(done)
    assert "GPU" in line and "'cpu'" in line
    assert done.stdout == ""


def test_empty_jar_cache_names_setup(tmp_path):
    cache = tmp_path / "jars"
    cache.mkdir()

    done = dl4j_ft(
        "predict",  # a command that needs Java (info does not)
        checkpoint(GRAPH),
        "--data",
        iris_rows(tmp_path),
        env=child_env(tmp_path, PY_DL4J_FT_JAR_CACHE=str(cache)),
        cwd=tmp_path,
    )

    assert done.returncode == 3, done.stderr
    line = error_line(done)
    assert "`dl4j-ft setup`" in line
    assert str(cache) in line
    assert done.stdout == ""


@pytest.mark.parametrize("java_home", ["bogus", None], ids=["bogus-java-home", "unset"])
def test_setup_without_java_names_jdk_and_java_home(tmp_path, java_home):
    cache, bin_dir = tmp_path / "jars", tmp_path / "bin"
    cache.mkdir()
    bin_dir.mkdir()
    # PATH holds one empty folder: no java, and no mvn that could reach the network.
    env = child_env(tmp_path, PATH=str(bin_dir), PY_DL4J_FT_JAR_CACHE=str(cache))
    env.pop("JAVA_HOME", None)
    if java_home is not None:
        env["JAVA_HOME"] = str(tmp_path / java_home)

    done = dl4j_ft("setup", "--force", env=env, cwd=tmp_path)

    assert done.returncode == 3, done.stderr
    line = error_line(done)
    assert "JDK" in line and "JAVA_HOME" in line
    assert "Maven" not in line
    if java_home is not None:
        assert str(tmp_path / java_home) in line
    assert list(cache.rglob("stamp.json")) == []
    assert list(cache.rglob("*.partial")) == []


# The CUDA backend, where there is a GPU to run it.


@pytest.mark.gpu
@pytest.mark.slow
def test_cuda_setup_and_predict_match_cpu(tmp_path):
    if not nvidia_gpu_present():
        pytest.skip("needs an NVIDIA GPU (nvidia-smi -L lists none on this machine)")
    env = child_env(tmp_path)

    setup = dl4j_ft("--backend", "cuda", "setup", env=env, cwd=tmp_path, timeout=3600)
    assert setup.returncode == 0, setup.stderr
    assert setup.stdout.startswith("cuda backend ready")

    predict = (
        "predict",
        checkpoint(MOON),
        "--data",
        checkpoint(MOON_EVAL),
        "--label-column",
        "0",
    )
    on_gpu = dl4j_ft("--backend", "cuda", *predict, env=env, cwd=tmp_path)
    on_cpu = dl4j_ft("--backend", "cpu", *predict, env=env, cwd=tmp_path)
    assert on_gpu.returncode == 0, on_gpu.stderr
    assert on_cpu.returncode == 0, on_cpu.stderr

    gpu = np.loadtxt(on_gpu.stdout.splitlines(), delimiter=",")
    cpu = np.loadtxt(on_cpu.stdout.splitlines(), delimiter=",")
    assert gpu.shape == (1000, 2)
    np.testing.assert_allclose(gpu, cpu, atol=1e-5)


def iris_rows(tmp_path: Path) -> Path:
    """Two rows of four features, for commands that load a model and predict."""
    path = tmp_path / "rows.npy"
    np.save(path, np.ones((2, 4), dtype=np.float32))
    return path
