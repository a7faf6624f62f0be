"""How much the Python bridge costs, measured against the same work done in plain Java.

Two measurements, side by side in one run:

1. Training. One MLP (``Examples.mlp``, same arguments and seed) is trained on the same
   data in two processes: here through ``PreTrainedModel.train``, and in a child JVM
   (``org.pydl4jft.bench.TrainLoopBench``) through ``EarlyStop.fit``, the loop ``train``
   calls, plus DL4J's plain ``net.fit(iterator)`` as a second reference. Rounds of the
   two sides alternate, one process idle while the other runs, after the same warm-up;
   the ratio is the median epoch time through the bridge over the median in Java.
2. Transfer. ``_arrays.to_java`` and ``_arrays.from_java`` on a float32 C-ordered array,
   into new arrays and into reused ones (``out=``), against numpy copying the same array
   (``np.copyto`` into a ready array, and ``.copy()``, which like the bridge's default
   writes into fresh memory).
3. Inspect. ``inspect_checkpoint`` (what ``dl4j-ft info`` runs, no JVM) on a checkpoint
   made here and, where ``../shared/checkpoints`` exists, on every model zip there,
   against the least any reader does: ``zipfile`` opening the zip and ``json.loads`` of
   its ``configuration.json``; and against DL4J restoring the same file. The whole
   ``dl4j-ft info`` command in a fresh process is timed against a bare
   ``python -c pass``.

Usage: ``python bench/run.py [--out bench/results.json] [--quick] [--threads N]``. The
results file holds every timing, the medians, the ratios and the machine they came from;
stdout gets a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

import py_dl4j_ft
from py_dl4j_ft import _arrays, _jars, _jvm
from py_dl4j_ft.model import PreTrainedModel

TRAIN_AIM = 1.05  # bridge epoch time over Java epoch time, at most
TRANSFER_AIM = 0.5  # bridge bandwidth over np.copyto bandwidth, at least
SETTLE_S = 0.3  # pause before each timed run, so the other process's threads go idle

# Rounds go on until the time budget is spent, within the bounds: a fast machine gets
# more rounds, and so less noise, in the same time.
FULL = {"rows": 2048, "n_in": 784, "hidden": 256, "n_out": 10, "batch": 64, "lr": 1e-3,
        "seed": 42, "warmup_epochs": 3, "epochs_per_round": 1, "min_rounds": 4,
        "max_rounds": 40, "rounds_budget_s": 90, "transfer_mib": [64, 256],
        "transfer_repeats": 7}
QUICK = {**FULL, "rows": 640, "warmup_epochs": 1, "min_rounds": 2, "max_rounds": 10,
         "rounds_budget_s": 8, "transfer_mib": [64], "transfer_repeats": 5}

JAVA_LOOPS = ("java_trainer", "java_plain")
PYTHON_LOOPS = ("bridge", "bridge_progress")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results.json",
                        help="results file to write (default: bench/results.json)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller data, fewer rounds and repeats (about 40 s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="ND4J threads on both sides (sets OMP_NUM_THREADS); "
                        "default: ND4J's own choice, one per core")
    args = parser.parse_args(argv)
    config = {**(QUICK if args.quick else FULL), "threads": args.threads}
    # Read by ND4J when it loads, in this process and in the child alike.
    if args.threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    started = time.perf_counter()

    results = {"date": datetime.datetime.now(datetime.UTC)
               .isoformat(timespec="seconds"),
               "quick": args.quick, "config": config,
               "load_average_before": list(os.getloadavg())}
    with tempfile.TemporaryDirectory(prefix="py_dl4j_ft_bench_") as tmp:
        results["training"] = bench_training(config, Path(tmp))
    log("measuring transfers")
    results["transfer"] = bench_transfer(config)
    log("measuring inspect")
    with tempfile.TemporaryDirectory(prefix="py_dl4j_ft_bench_") as tmp:
        results["inspect"] = bench_inspect(config, Path(tmp))
    results["load_average_after"] = list(os.getloadavg())
    results["machine"] = machine_facts(results["training"].pop("java_child"))
    results["seconds_total"] = round(time.perf_counter() - started, 1)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)
    print(f"\nwrote {args.out} ({results['seconds_total']} s)")
    return 0


# Training.

def bench_training(config: dict, tmp: Path) -> dict:
    """Interleaved rounds of the Java and Python loops; medians and ratios."""
    # The data, as a user holds it (class ids) and as the Java side reads it (one-hot).
    x, y = synthetic_data(config)
    np.save(tmp / "features.npy", x)
    np.save(tmp / "labels.npy", np.eye(config["n_out"], dtype=np.float32)[y])

    # The child JVM warms up while this process starts its own JVM and warms up too;
    # only the rounds after both are ready are timed.
    log("warming up both JVMs")
    java = JavaLoops(config, tmp)
    try:
        models = {name: new_model(config) for name in PYTHON_LOOPS}
        for name, model in models.items():
            python_round(name, model, x, y, config, config["warmup_epochs"],
                         config["seed"])
        java_ready = java.wait_ready()

        # Each round runs every loop once with the same shuffling seed, in an order that
        # rotates, so drift and the neighbours' load fall on all loops alike.
        loops = [*JAVA_LOOPS, *PYTHON_LOOPS]
        rounds = []
        deadline = time.perf_counter() + config["rounds_budget_s"]
        for r in range(config["max_rounds"]):
            if r >= config["min_rounds"] and time.perf_counter() > deadline:
                break
            seed = config["seed"] + 1 + r
            for name in loops[r % len(loops):] + loops[:r % len(loops)]:
                time.sleep(SETTLE_S)
                if name in JAVA_LOOPS:
                    result = java.round(name, seed)
                else:
                    result = python_round(name, models[name], x, y, config,
                                          config["epochs_per_round"], seed)
                rounds.append({"round": r, "loop": name, "seed": seed, **result})
            log(f"round {r + 1} done")
    except BaseException:
        java.kill()
        raise
    java.close()
    return {**summarize_training(rounds, config), "rounds": rounds,
            "java_child": java_ready}


def synthetic_data(config: dict) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped rows in [0, 1]: a noisy prototype per class, so the loss falls."""
    rng = np.random.default_rng(config["seed"])
    y = rng.integers(0, config["n_out"], config["rows"])
    prototypes = rng.random((config["n_out"], config["n_in"]), dtype=np.float32)
    noise = rng.normal(0.0, 0.3, (config["rows"], config["n_in"])).astype(np.float32)
    return np.clip(prototypes[y] + noise, 0.0, 1.0), y


def new_model(config: dict) -> PreTrainedModel:
    net = _jvm.helper("Examples").mlp(config["n_in"], config["hidden"], config["n_out"],
                                      config["lr"], config["seed"])
    return PreTrainedModel(net, "MultiLayerNetwork")


def python_round(name: str, model: PreTrainedModel, x, y, config: dict, epochs: int,
                 seed: int) -> dict:
    """One ``train`` call, timed from Python; the epochs are also timed inside Java."""
    progress = (lambda *_: None) if name == "bridge_progress" else None
    started, cpu_started = time.perf_counter(), time.process_time()
    history = model.train(x, y, epochs=epochs, batch_size=config["batch"], shuffle=True,
                          seed=seed, progress=progress)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"wall_s": wall, "cpu_s": cpu,
            "epoch_s": [e.seconds for e in history.epochs], "loss": history.loss}


class JavaLoops:
    """The child JVM running TrainLoopBench, one round per line written to its stdin."""

    def __init__(self, config: dict, data_dir: Path):
        settings = _jvm.settings()
        # The same JVM options as the in-process JVM.
        self.options = _jvm.jvm_options(settings)
        command = [_jars.find_java(), *self.options, "-cp",
                   os.pathsep.join(_jars.classpath(settings)),
                   "org.pydl4jft.bench.TrainLoopBench", str(data_dir),
                   *(str(config[k]) for k in ("hidden", "lr", "seed", "batch",
                                              "epochs_per_round", "warmup_epochs"))]
        self.stderr = (data_dir / "java-stderr.txt").open("w+")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.stderr,
                                        text=True, bufsize=1)

    def wait_ready(self) -> dict:
        ready = self._read("ready")
        return {"java_version": ready["java_version"], "java_home": ready["java_home"],
                "backend": ready["backend"], "options": self.options}

    def round(self, loop: str, seed: int) -> dict:
        self.process.stdin.write(f"{loop.removeprefix('java_')} {seed}\n")
        self.process.stdin.flush()
        done = self._read("round")
        return {key: done[key] for key in ("wall_s", "cpu_s", "epoch_s", "loss")}

    def _read(self, event: str) -> dict:
        # ND4J may print to stdout too; only the JSON lines of TrainLoopBench count.
        for line in self.process.stdout:
            if line.startswith('{"event":'):
                message = json.loads(line)
                if message["event"] == event:
                    return message
        self.process.wait()
        self.stderr.seek(0)
        tail = self.stderr.read()[-2000:]
        raise RuntimeError(f"TrainLoopBench exited with {self.process.returncode} "
                           f"before '{event}'; its stderr ends with:\n{tail}")

    def close(self) -> None:
        """Ends the child: end of input is its signal to stop."""
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.stderr.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.stderr.close()


def summarize_training(rounds: list[dict], config: dict) -> dict:
    epochs = {name: [s for r in rounds if r["loop"] == name for s in r["epoch_s"]]
              for name in (*JAVA_LOOPS, *PYTHON_LOOPS)}
    per_call = {name: [r["wall_s"] / len(r["epoch_s"]) for r in rounds
                       if r["loop"] == name]
                for name in ("java_trainer", "bridge")}
    cpu = {name: statistics.median(r["cpu_s"] / len(r["epoch_s"]) for r in rounds
                                   if r["loop"] == name)
           for name in (*JAVA_LOOPS, *PYTHON_LOOPS)}
    outside = {name: [r["wall_s"] - sum(r["epoch_s"]) for r in rounds
                      if r["loop"] == name]
               for name in ("java_trainer", "bridge")}
    median_epoch = {k: statistics.median(v) for k, v in epochs.items()}
    median_call = {k: statistics.median(v) for k, v in per_call.items()}

    # Same net, data, seeds and loop on both sides: the losses should agree exactly.
    java_loss = [v for r in rounds if r["loop"] == "java_trainer" for v in r["loss"]]
    bridge_loss = [v for r in rounds if r["loop"] == "bridge" for v in r["loss"]]
    loss_diff = max(abs(a - b) for a, b in zip(java_loss, bridge_loss, strict=True))

    # Within a round both sides met about the same load from outside; the spread of the
    # per-round ratios shows how far the medians can be trusted.
    by_round = {}
    for r in rounds:
        by_round.setdefault(r["round"], {})[r["loop"]] = sum(r["epoch_s"])
    paired = [loops["bridge"] / loops["java_trainer"] for loops in by_round.values()]

    ratio = median_epoch["bridge"] / median_epoch["java_trainer"]
    return {
        "median_epoch_s": median_epoch,
        "min_epoch_s": {k: min(v) for k, v in epochs.items()},
        "median_call_s_per_epoch": median_call,
        "median_cpu_s_per_epoch": cpu,
        "median_outside_loop_s_per_call": {k: statistics.median(v)
                                           for k, v in outside.items()},
        "ratio_epoch": ratio,
        "ratio_epoch_min": min(epochs["bridge"]) / min(epochs["java_trainer"]),
        "ratio_per_round_quartiles": statistics.quantiles(paired, n=4)
        if len(paired) > 1 else paired * 3,
        "rounds_bridge_slower": sum(p > 1 for p in paired),
        "ratio_call": median_call["bridge"] / median_call["java_trainer"],
        "ratio_cpu": cpu["bridge"] / cpu["java_trainer"],
        "ratio_progress_callback": median_epoch["bridge_progress"]
        / median_epoch["java_trainer"],
        "ratio_vs_plain_dl4j_loop": median_epoch["bridge"] / median_epoch["java_plain"],
        "aim_max_ratio": TRAIN_AIM,
        "meets_aim": ratio <= TRAIN_AIM,
        "max_loss_difference_bridge_vs_java": loss_diff,
        "batches_per_epoch": -(-config["rows"] // config["batch"]),
        "rounds_run": len(epochs["bridge"]) // config["epochs_per_round"],
    }


# Transfer.

def bench_transfer(config: dict) -> dict:
    return {f"{mib}MiB": transfer_one(mib, config["transfer_repeats"])
            for mib in config["transfer_mib"]}


def transfer_one(mib: int, repeats: int) -> dict:
    """Median seconds of each way to copy ``mib`` MiB of float32; bandwidth ratios."""
    src = np.random.default_rng(0).random(mib * 2**20 // 4, dtype=np.float32)
    ready = np.ones_like(src)
    indarray = _arrays.to_java(src)
    if not np.array_equal(_arrays.from_java(indarray), src):
        raise RuntimeError("numpy -> ND4J -> numpy did not give the array back")
    nd4j = _jvm.jclass("org.nd4j.linalg.factory.Nd4j")
    float_type = _jvm.jclass("org.nd4j.linalg.api.buffer.DataType").FLOAT
    shape = _jvm.long_array(src.shape)
    # to_java and from_java into targets that already exist (out=), as a caller that
    # moves batches of one size reuses them: the copy without fresh memory.
    target = nd4j.createUninitialized(float_type, shape, "c")

    # What each run makes is freed before the next one, outside the timing, so every run
    # starts from the same memory state; the order rotates between repeats.
    runs = {
        "numpy_copyto": lambda: np.copyto(ready, src),
        "numpy_copy": src.copy,
        "to_java": lambda: _arrays.to_java(src),
        "from_java": lambda: _arrays.from_java(indarray),
        "nd4j_alloc_only": lambda: nd4j.createUninitialized(float_type, shape, "c"),
        "to_java_reused": lambda: _arrays.to_java(src, out=target),
        "from_java_reused": lambda: _arrays.from_java(indarray, out=ready),
    }
    times = {name: [] for name in runs}
    names = list(runs)
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            begin = time.perf_counter()
            made = runs[name]()
            times[name].append(time.perf_counter() - begin)
            if name in ("to_java", "nd4j_alloc_only"):
                made.close()
            del made
    indarray.close()
    target.close()

    median = {name: statistics.median(t) for name, t in times.items()}
    gbps = {name: src.nbytes / s / 1e9 for name, s in median.items()
            if name != "nd4j_alloc_only"}
    ratio = {f"{way}_vs_{base}": median[base] / median[way]
             for way, base in (("to_java", "numpy_copyto"),
                               ("from_java", "numpy_copyto"),
                               ("to_java", "numpy_copy"), ("from_java", "numpy_copy"),
                               ("to_java_reused", "numpy_copyto"),
                               ("from_java_reused", "numpy_copyto"))}
    return {"bytes": src.nbytes, "median_s": median, "gb_per_s": gbps, "ratio": ratio,
            "aim_min_ratio_vs_copyto": TRANSFER_AIM,
            "meets_aim": min(ratio["to_java_vs_numpy_copyto"],
                             ratio["from_java_vs_numpy_copyto"]) >= TRANSFER_AIM,
            "meets_aim_reused": min(ratio["to_java_reused_vs_numpy_copyto"],
                                    ratio["from_java_reused_vs_numpy_copyto"])
            >= TRANSFER_AIM,
            "seconds": times}


# Facts and output.

# Inspect.

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "checkpoints"


def bench_inspect(config: dict, tmp: Path) -> dict:
    import zipfile

    made = new_model(config).save(tmp / "made_here.zip")
    files = [made]
    manifest = SHARED / "MANIFEST.tsv"
    if manifest.exists():
        for row in manifest.read_text().splitlines()[1:]:
            cells = row.split("\t")
            if cells[7] in ("MultiLayerNetwork", "ComputationGraph"):
                files.append(SHARED / cells[0])
    repeats = config["transfer_repeats"]

    def floor(path):
        with zipfile.ZipFile(path) as z:
            json.loads(z.read("configuration.json"))

    def median_s(action, path):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            action(path)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    per_file, inspect_total, floor_total, load_total, loaded = {}, 0.0, 0.0, 0.0, 0
    for path in files:
        try:
            py_dl4j_ft.inspect_checkpoint(path)
        except py_dl4j_ft.Dl4jFtError:
            continue  # refused files (custom layers) are not what this measures
        row = {"bytes": path.stat().st_size,
               "inspect_s": median_s(py_dl4j_ft.inspect_checkpoint, path),
               "zip_and_json_s": median_s(floor, path)}
        try:
            started = time.perf_counter()
            PreTrainedModel.load(path)
            row["dl4j_load_s"] = time.perf_counter() - started  # once: JVM is warm
            load_total += row["dl4j_load_s"]
            loaded += 1
        except py_dl4j_ft.Dl4jFtError as e:
            row["dl4j_load_refused"] = type(e).__name__
        inspect_total += row["inspect_s"]
        floor_total += row["zip_and_json_s"]
        per_file[str(path.relative_to(SHARED) if path != made else path.name)] = row

    def wall(command):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    cli = [sys.executable, "-m", "py_dl4j_ft", "info", str(made)]
    bare = [sys.executable, "-c", "pass"]
    cli_s, bare_s = wall(cli), wall(bare)
    inspected = [r for r in per_file.values() if "dl4j_load_s" in r]
    return {
        "files": len(per_file),
        "per_file": per_file,
        "max_inspect_s": max(r["inspect_s"] for r in per_file.values()),
        "ratio_inspect_to_zip_and_json": inspect_total / floor_total,
        "ratio_dl4j_load_to_inspect": (
            load_total / sum(r["inspect_s"] for r in inspected) if loaded else None),
        "info_command_s": cli_s,
        "python_pass_s": bare_s,
        "ratio_info_command_to_python_pass": cli_s / bare_s,
    }


def machine_facts(java_child: dict) -> dict:
    system = _jvm.jclass("java.lang.System")
    settings = _jvm.settings()
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jpype": metadata.version("JPype1"),
        "py_dl4j_ft": py_dl4j_ft.__version__,
        "dl4j": _jars.DL4J_VERSION,
        "backend": settings.backend,
        "classifier": _jars.native_classifier(settings.backend),
        "java_version": str(system.getProperty("java.version")),
        "java_vm": str(system.getProperty("java.vm.name")),
        "java_home": str(system.getProperty("java.home")),
        "heap": settings.heap,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "nd4j_threads": int(_jvm.jclass("org.nd4j.linalg.factory.Nd4j").getEnvironment()
                            .maxThreads()),
        "java_child": java_child,
    }


def print_table(results: dict) -> None:
    t, c = results["training"], results["config"]
    print(f"training {c['rows']} x {c['n_in']} -> {c['hidden']} -> {c['n_out']}, batch "
          f"{c['batch']}, {t['rounds_run']} rounds of {c['epochs_per_round']} "
          "epoch(s): median seconds per epoch, ratio to Java EarlyStop.fit")
    epoch, cpu = t["median_epoch_s"], t["median_cpu_s_per_epoch"]
    rows = [("Java  EarlyStop.fit (reference)", epoch["java_trainer"], None),
            ("Java  net.fit(ViewIterator)", epoch["java_plain"], None),
            ("bridge train(), epoch", epoch["bridge"], t["ratio_epoch"]),
            ("bridge train(), fastest epoch", t["min_epoch_s"]["bridge"],
             t["ratio_epoch_min"]),
            ("bridge train(), whole call", t["median_call_s_per_epoch"]["bridge"],
             t["ratio_call"]),
            ("bridge train(progress=...)", epoch["bridge_progress"],
             t["ratio_progress_callback"]),
            ("Java  EarlyStop.fit, CPU seconds", cpu["java_trainer"], None),
            ("bridge train(), CPU seconds", cpu["bridge"], t["ratio_cpu"])]
    for label, seconds, ratio in rows:
        print(f"  {label:34} {seconds:8.3f}" + (f"   x{ratio:.3f}" if ratio else ""))
    q = t["ratio_per_round_quartiles"]
    print(f"  per-round ratio quartiles {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}; bridge "
          f"slower in {t['rounds_bridge_slower']} of {t['rounds_run']} rounds")
    print(f"  aim <= {TRAIN_AIM}: {'met' if t['meets_aim'] else 'NOT met'}; losses "
          f"bridge vs Java differ by {t['max_loss_difference_bridge_vs_java']:.2g}")

    sizes = list(results["transfer"])
    print("transfer: median GB/s, ratio to np.copyto"
          + "".join(f"{s:>18}" for s in sizes))
    for label, way in (("numpy np.copyto (ready target)", "numpy_copyto"),
                       ("numpy .copy() (fresh target)", "numpy_copy"),
                       ("to_java", "to_java"),
                       ("to_java(out=reused INDArray)", "to_java_reused"),
                       ("from_java", "from_java"),
                       ("from_java(out=reused array)", "from_java_reused")):
        cells = []
        for size in sizes:
            r = results["transfer"][size]
            ratio = r["median_s"]["numpy_copyto"] / r["median_s"][way]
            cells.append(f"{r['gb_per_s'][way]:9.2f} (x{ratio:.2f})")
        print(f"  {label:39}" + "".join(f"{cell:>18}" for cell in cells))
    print(f"  {'ND4J allocation alone, ms':39}" + "".join(
        f"{results['transfer'][s]['median_s']['nd4j_alloc_only'] * 1e3:18.1f}"
        for s in sizes))
    print(f"  aim >= {TRANSFER_AIM} for to_java and from_java: " + ", ".join(
        f"{s} {'met' if results['transfer'][s]['meets_aim'] else 'NOT met'}"
        for s in sizes) + "; reusing targets (out=): " + ", ".join(
        f"{s} {'met' if results['transfer'][s]['meets_aim_reused'] else 'NOT met'}"
        for s in sizes))

    n = results["inspect"]
    print(f"inspect, {n['files']} checkpoints: all together x"
          f"{n['ratio_inspect_to_zip_and_json']:.1f} the time of zipfile + json.loads "
          f"alone; slowest file {n['max_inspect_s'] * 1e3:.1f} ms; DL4J's own load x"
          f"{n['ratio_dl4j_load_to_inspect']:.0f} slower (JVM already running)")
    print(f"  dl4j-ft info in a fresh process {n['info_command_s']:.2f} s, "
          f"x{n['ratio_info_command_to_python_pass']:.1f} a bare python -c pass "
          f"({n['python_pass_s']:.2f} s)")

    m = results["machine"]
    print(f"{m['cpus_usable']} CPUs ({m['cpu_model']}), {m['nd4j_threads']} ND4J "
          f"threads, Java {m['java_version']}, "
          f"{m['classifier']}, numpy {m['numpy']}; load average "
          f"{results['load_average_before'][0]:.1f} before, "
          f"{results['load_average_after'][0]:.1f} after")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
