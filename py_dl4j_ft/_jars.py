"""Resolving the DL4J/ND4J jars with Maven and building the Java helper.

``setup()`` is the one step that touches the network: it runs Maven on the project's
``pom.xml`` for one backend and one native classifier, and records what it built in a
stamp file. ``classpath()`` afterwards only reads the cache, and refuses a cache that is
missing or was built from other sources.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

from ._settings import Settings
from .errors import JarsMissingError, JavaNotFoundError, MavenError

log = logging.getLogger(__name__)

DL4J_VERSION = "1.0.0-M2.1"
MIN_JAVA = 11
_PACKAGE = Path(__file__).resolve().parent


def _build_root() -> Path:
    """Where pom.xml and java/ are: inside the wheel, or in a source checkout."""
    for root in (_PACKAGE / "_build", _PACKAGE.parent):
        if (root / "pom.xml").is_file() and (root / "java").is_dir():
            return root
    raise JarsMissingError(
        f"pom.xml and java/ were not found next to {_PACKAGE}; reinstall py_dl4j_ft"
    )


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def platform_name() -> str:
    """The JavaCPP platform string of this machine, e.g. ``linux-x86_64``."""
    system = {"Linux": "linux", "Darwin": "macosx", "Windows": "windows"}.get(
        platform.system()
    )
    machine = {
        "x86_64": "x86_64",
        "AMD64": "x86_64",
        "aarch64": "arm64",
        "arm64": "arm64",
    }.get(platform.machine())
    if system is None or machine is None:
        raise JarsMissingError(
            f"ND4J has no native build for {platform.system()} {platform.machine()}; "
            "supported: Linux, macOS and Windows on x86_64, Linux and macOS on arm64"
        )
    return f"{system}-{machine}"


def native_classifier(backend: str, flags: set[str] | None = None) -> str:
    """The one nd4j native classifier for this machine.

    The AVX builds are only taken when the CPU really has those instructions: an AVX-512
    build on a CPU without them dies with an illegal instruction, not an exception.
    """
    plat = platform_name()
    if backend != "cpu" or plat != "linux-x86_64":
        return plat
    flags = cpu_flags() if flags is None else flags
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"} <= flags:
        return f"{plat}-avx512"
    if {"avx2", "fma"} <= flags:
        return f"{plat}-avx2"
    return plat


def _digest(paths: list[Path], *salt: str) -> str:
    root = _build_root()
    digest = hashlib.sha256(":".join(salt).encode())
    for f in paths:
        digest.update(f.relative_to(root).as_posix().encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def backend_dir(settings: Settings) -> Path:
    """The jars for one backend, classifier and pom.xml, shared by source trees."""
    classifier = native_classifier(settings.backend)
    pom = _digest([_build_root() / "pom.xml"], settings.backend, classifier)
    return settings.jar_cache / DL4J_VERSION / f"{settings.backend}-{classifier}-{pom}"


def helper_jar(settings: Settings) -> Path:
    """The helper built from exactly these java/ sources (and this pom.xml)."""
    root = _build_root()
    sources = _digest([root / "pom.xml", *sorted((root / "java").rglob("*.java"))])
    return backend_dir(settings) / "helpers" / f"py-dl4j-ft-helper-{sources}.jar"


def java_version(java: str) -> int:
    out = subprocess.run(
        [java, "-version"], capture_output=True, text=True, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise JavaNotFoundError(
            f"could not read the version of {java}: {out.stderr.strip()}"
        )
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major


def find_java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise JavaNotFoundError(
            f"no Java found (JAVA_HOME={home!r}, nothing named java on PATH); "
            f"install a JDK {MIN_JAVA} or newer (e.g. apt-get install "
            "openjdk-17-jdk) or set JAVA_HOME"
        )
    version = java_version(java)
    if version < MIN_JAVA:
        raise JavaNotFoundError(
            f"{java} is Java {version}; DL4J {DL4J_VERSION} needs Java {MIN_JAVA} "
            "or newer. "
            "Install a newer JDK and point JAVA_HOME at it"
        )
    return java


def setup(settings: Settings, force: bool = False, announce=None) -> Path:
    """Resolves the jars for ``settings.backend``, builds the helper; returns the dir.

    A second call with the same sources finds everything in place and returns at once.
    ``announce(resolve_jars)`` is called just before Maven runs (``resolve_jars``:
    the jars are downloaded too, not only the helper built); not at all when nothing
    is to do.
    """
    target, helper = backend_dir(settings), helper_jar(settings)
    target.parent.mkdir(parents=True, exist_ok=True)

    # One Maven run at a time per cache: a second process waits, then finds the result.
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jars_ok = not force and _stamp_matches(target)
        if jars_ok and helper.is_file():
            log.debug("jars for %s already resolved in %s", settings.backend, target)
            return target
        if announce is not None:
            announce(not jars_ok)
        _run_maven(settings, target, helper, resolve_jars=not jars_ok)
    return target


def _run_maven(
    settings: Settings, target: Path, helper: Path, resolve_jars: bool
) -> None:
    """Builds the helper and, if asked, resolves the jars, in scratch folders first."""
    # Both tools are checked first, so a missing one is named rather than failing in
    # Maven.
    find_java()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenError(
            "Maven (mvn) is not on PATH; install Maven 3.6 or newer "
            "(e.g. apt-get install maven) and run `dl4j-ft setup` again"
        )

    classifier = native_classifier(settings.backend)
    scratch = target.with_name(target.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(_build_root() / "pom.xml"),
        f"-P{settings.backend}",
        f"-Djavacpp.platform={platform_name()}",
        f"-Dnd4j.classifier={classifier}",
        f"-Dhelper.build.dir={scratch / 'build'}",
        "package",
    ]
    if resolve_jars:
        cmd += ["dependency:copy-dependencies", f"-DoutputDirectory={scratch / 'lib'}"]
        log.info(
            "resolving DL4J %s jars (%s, %s) with Maven; the first run downloads "
            "~250 MB",
            DL4J_VERSION,
            settings.backend,
            classifier,
        )
    log.debug("running %s", " ".join(cmd))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except BaseException:
        # Ctrl-C or SIGTERM while Maven runs: leave no half-built folder behind.
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        errors = [
            ln for ln in (done.stdout + done.stderr).splitlines() if "ERROR" in ln
        ]
        detail = " | ".join(errors[:3]) or (done.stdout + done.stderr).strip()[-500:]
        raise MavenError(
            f"Maven failed (exit {done.returncode}) resolving the {settings.backend}"
            f" jars: {detail}. Check network access to Maven Central and rerun "
            "`dl4j-ft setup -v`"
        )

    # The finished pieces move into place; a failure above leaves the old cache as it
    # was.
    if resolve_jars:
        jars = sorted(p.name for p in (scratch / "lib").glob("*.jar"))
        (scratch / "stamp.json").write_text(
            json.dumps(
                {"classifier": classifier, "backend": settings.backend, "jars": jars},
                indent=1,
            )
        )
        old_helpers = target / "helpers"
        if old_helpers.is_dir():
            old_helpers.rename(scratch / "helpers")
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
        log.info("resolved %d jars into %s", len(jars), target)
        scratch = target
    helper.parent.mkdir(exist_ok=True)
    (scratch / "build" / "py-dl4j-ft-helper.jar").replace(helper)
    shutil.rmtree(scratch / "build")
    if scratch != target:
        shutil.rmtree(scratch)


def _stamp_matches(target: Path) -> bool:
    try:
        stamp = json.loads((target / "stamp.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(stamp.get("jars")) and all(
        (target / "lib" / j).is_file() for j in stamp["jars"]
    )


def classpath(settings: Settings) -> list[str]:
    """The jars to start the JVM with; raises if ``setup`` has not been run for them."""
    target, helper = backend_dir(settings), helper_jar(settings)
    if not (_stamp_matches(target) and helper.is_file()):
        state = "are out of date" if target.parent.is_dir() else "are not resolved"
        raise JarsMissingError(
            f"the DL4J jars and helper for backend {settings.backend!r} {state} in "
            f"{target.parent}; run `dl4j-ft setup"
            f"{' --backend cuda' if settings.backend == 'cuda' else ''}` "
            "(or py_dl4j_ft.setup()) first"
        )
    jars = [str(helper)]
    jars += sorted(str(p) for p in (target / "lib").glob("*.jar"))
    jars += [str(p) for p in settings.extra_jars]
    return jars
