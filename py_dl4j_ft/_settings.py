"""JVM settings and where each comes from.

One precedence for every setting: an explicit argument, then a ``PY_DL4J_FT_*``
environment variable, then the config file (``PY_DL4J_FT_CONFIG`` or
``~/.config/py_dl4j_ft/config.toml``), then the default. Settings are fixed once the JVM
starts.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import zipfile
from pathlib import Path

from .errors import SetupError

BACKENDS = ("cpu", "cuda")
_SIZE = re.compile(r"^([1-9][0-9]*)([kKmMgG])$")
_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30}
_MIN_HEAP = 64 * 2**20  # below this DL4J cannot even load a small model
_LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "off")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything that must be decided before the JVM starts.

    ``backend`` picks the ND4J backend (``cpu`` or ``cuda``); ``heap`` is the Java heap
    (``-Xmx``); ``offheap`` caps ND4J's native memory (JavaCPP ``maxbytes``), ``None``
    leaves JavaCPP's default; ``jar_cache`` is where ``dl4j-ft setup`` puts the jars;
    ``extra_jars`` are added to the classpath (e.g. custom layers); ``threads`` is the
    number of threads ND4J's native code uses (``None``: one per core, ND4J's default,
    which is slow on a machine shared with other work); ``java_log_level`` is the level
    of DL4J's own logging (``error`` by default: DL4J warns about things its users
    cannot change, such as sizes Keras import fills in later).
    """

    backend: str = "cpu"
    heap: str = "2g"
    offheap: str | None = None
    jar_cache: Path = Path.home() / ".cache" / "py_dl4j_ft"
    extra_jars: tuple[Path, ...] = ()
    threads: int | None = None
    java_log_level: str = "error"

    def startup_key(self) -> tuple:
        """The settings that cannot change once the JVM runs (all but the log level)."""
        return (
            self.backend,
            self.heap,
            self.offheap,
            self.jar_cache.resolve(),
            tuple(p.resolve() for p in self.extra_jars),
            self.threads,
        )


def _config_path() -> Path:
    return Path(
        os.environ.get("PY_DL4J_FT_CONFIG")
        or Path.home() / ".config" / "py_dl4j_ft" / "config.toml"
    )


def _config_file() -> dict:
    path = _config_path()
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SetupError(
            f"config file {path} could not be read ({e}); fix or remove it"
        ) from e
    return data.get("py_dl4j_ft", data)


def resolve(**given) -> Settings:
    """Builds :class:`Settings` from arguments (``None``: not given), env, config."""
    config = _config_file()
    unknown = set(config) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise SetupError(
            f"config file {_config_path()} has unknown keys {sorted(unknown)}; "
            f"known: {[f.name for f in dataclasses.fields(Settings)]}. Fix or remove "
            "them"
        )
    values = {}
    for field in dataclasses.fields(Settings):
        env = os.environ.get(f"PY_DL4J_FT_{field.name.upper()}")
        for candidate in (given.get(field.name), env or None, config.get(field.name)):
            if candidate is not None:
                values[field.name] = candidate
                break

    for name in ("backend", "heap", "offheap", "java_log_level"):
        if name in values and not isinstance(values[name], str):
            raise SetupError(f"{name} must be a string; got {values[name]!r}")
    if "threads" in values:
        try:
            values["threads"] = int(values["threads"])
        except (TypeError, ValueError):
            raise SetupError(
                f"threads must be a whole number; got {values['threads']!r}"
            ) from None
    if "jar_cache" in values:
        if not isinstance(values["jar_cache"], (str, os.PathLike)):
            raise SetupError(f"jar_cache must be a path; got {values['jar_cache']!r}")
        values["jar_cache"] = Path(values["jar_cache"]).expanduser()
    if "extra_jars" in values:
        jars = values["extra_jars"]
        if isinstance(jars, (str, os.PathLike)):
            jars = [j for j in str(jars).split(os.pathsep) if j]
        if not all(isinstance(j, (str, os.PathLike)) for j in jars):
            raise SetupError(f"extra_jars must be a list of paths; got {jars!r}")
        values["extra_jars"] = tuple(Path(j).expanduser() for j in jars)
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.backend not in BACKENDS:
        raise SetupError(
            f"backend must be one of {', '.join(BACKENDS)}; got {s.backend!r}"
        )
    # A heap the JVM cannot start with ends the whole Python process, so it is checked
    # here: a unit is required (a bare 512 would mean 512 bytes), and the size must fit.
    for name in ("heap", "offheap"):
        value = getattr(s, name)
        if value is None:
            continue
        match = _SIZE.match(value)
        if not match:
            raise SetupError(
                f"{name} must be a size with a unit, such as 512m or 4g; got {value!r}"
            )
        size = int(match.group(1)) * _UNITS[match.group(2).lower()]
        if size < _MIN_HEAP:
            raise SetupError(f"{name} must be at least 64m; got {value!r}")
        if size > _physical_memory():
            raise SetupError(
                f"{name} {value} is more than this machine's "
                f"{_physical_memory() / 2**30:.0f} GiB of memory; choose a smaller size"
            )
    if s.threads is not None and not 1 <= s.threads <= 1024:
        raise SetupError(f"threads must be between 1 and 1024; got {s.threads}")
    if s.java_log_level not in _LOG_LEVELS:
        raise SetupError(
            f"java_log_level must be one of {', '.join(_LOG_LEVELS)}; "
            f"got {s.java_log_level!r}"
        )
    for jar in s.extra_jars:
        if jar.is_dir():
            raise SetupError(
                f"extra jar {jar} is a directory, not a jar; pass the path of each "
                ".jar file (repeat --extra-jar for several)"
            )
        if not jar.is_file():
            raise SetupError(
                f"extra jar {jar} does not exist; pass the path of a .jar file"
            )
        if not zipfile.is_zipfile(jar):
            raise SetupError(f"extra jar {jar} is not a jar (zip) file")


def differences(given: dict, running: Settings) -> list[str]:
    """The asked-for start-up settings that differ from those the JVM runs with.

    ``given`` holds the arguments of a ``configure`` call; only those passed (not
    None) are compared, so a setting left out is never reported as changed. Each
    difference reads ``heap=3g (the JVM runs with 2g)``.
    """
    wanted = resolve(**given)
    startup = ("backend", "heap", "offheap", "jar_cache", "extra_jars", "threads")
    keys = dict(zip(startup, wanted.startup_key(), strict=True))
    now = dict(zip(startup, running.startup_key(), strict=True))
    return [
        f"{name}={_shown(keys[name])} (the JVM runs with {_shown(now[name])})"
        for name in startup
        if given.get(name) is not None and keys[name] != now[name]
    ]


def _shown(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return "default" if value is None else str(value)


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62  # unknown: let the JVM judge
