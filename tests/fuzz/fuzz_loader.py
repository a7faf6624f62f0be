"""Fuzz the checkpoint loader with mutated versions of real DL4J zips.

Each case is a real checkpoint from ../shared/checkpoints, changed in one way: bytes
flipped, the file cut short, an entry dropped or duplicated, a value in
configuration.json changed, an array header or array data changed. Every case must end
in a successful load (followed by one prediction) or in one of py_dl4j_ft's own errors;
anything else (another exception, a crash of the process or the JVM, a hang) is a
failure.

Run the full set (thousands of cases, in worker processes so that a crash is seen and
the run goes on):

    python tests/fuzz/fuzz_loader.py --cases 3000 --seed 1

A worker that dies or stops answering is reported with the case it was on. The summary
(JSON on stdout) counts the outcomes by error class.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import queue
import random
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHARED = Path(os.environ.get("PY_DL4J_FT_SHARED", ROOT.parent / "shared"))

# Small real checkpoints from every era and both kinds.
SEEDS = [
    "deeplearning4j__dl4j-test-resources/050_ModelSerializer_Regression_MLP_1.zip",
    "deeplearning4j__dl4j-test-resources/060_ModelSerializer_Regression_CG_LSTM_1.zip",
    "sawfly29__S_M/MyComputationGraph.zip",
    "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip",
    "ZhangYimeng__Goblin/MyMultiLayerNetwork.zip",
    "deeplearning4j__dl4j-test-resources/MLPMoon_Model_RANDOM_INIT_UNTRAINED.zip",
    "Well5a__Dl4jRNNRegressionTest/bestModel.bin",
    "ermao3__testdl/lstm.mod",
    "KonduitAI__dl4j-test-resources/SyntheticBidirectionalRNNGraph_100b6.bin",
    "laurent-daniel-utt__MeshIneBits/trained_model.zip",
    "kam2018__ai-agent-service/loan_approval_model.zip",
    "ykkz000__heart-check/model.zip",
]

MUTATIONS = (
    "flip",
    "truncate",
    "drop",
    "duplicate",
    "json",
    "header",
    "data",
    "rename",
)


def _entries(raw: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return [(i.filename, archive.read(i)) for i in archive.infolist()]


def _rezip(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def _mutate_json(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    config = json.loads(data)
    # Collect every (container, key) pair, then change one value.
    slots = []
    stack = [config]
    while stack:
        node = stack.pop()
        items = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, value in items:
            slots.append((node, key))
            if isinstance(value, dict | list):
                stack.append(value)
    node, key = rng.choice(slots)
    old = node[key]
    choice = rng.randrange(9)
    if choice == 0 and isinstance(node, dict):
        del node[key]
        what = f"deleted {key!r}"
    else:
        new = [
            -1,
            0,
            2**31,
            2**62,
            1e308,
            "",
            "org.nd4j.linalg.activations.impl.ActivationReLU",
            None,
            [],
            {},
            True,
            "x" * 1000,
            {"@class": "java.lang.Runtime"},
            {"@class": "org.deeplearning4j.nn.conf.layers.DenseLayer"},
        ][rng.randrange(14)]
        if (
            isinstance(old, int | float)
            and not isinstance(old, bool)
            and rng.random() < 0.5
        ):
            new = old * rng.choice([-1, 0, 2, 1000, 10**9])
        node[key] = new
        what = f"{key!r}: {str(old)[:30]} -> {str(new)[:30]}"
    return json.dumps(config).encode(), what


def mutate(rng: random.Random, raw: bytes) -> tuple[bytes, str]:
    """One mutated copy of ``raw`` (a zip) and what was done to it."""
    kind = rng.choice(MUTATIONS)
    entries = _entries(raw)
    names = [n for n, _ in entries]
    if kind == "flip":
        data = bytearray(raw)
        spots = [rng.randrange(len(data)) for _ in range(rng.randint(1, 8))]
        for at in spots:
            data[at] ^= 1 << rng.randrange(8)
        return bytes(data), f"flip bytes at {spots}"
    if kind == "truncate":
        cut = rng.randrange(len(raw))
        return raw[:cut], f"truncate to {cut} of {len(raw)}"
    if kind == "drop":
        gone = rng.choice(names)
        return _rezip([e for e in entries if e[0] != gone]), f"drop {gone}"
    if kind == "duplicate":
        name, data = rng.choice(entries)
        other = bytes(reversed(data)) if rng.random() < 0.5 else data
        return _rezip([*entries, (name, other)]), f"duplicate {name}"
    if kind == "rename":
        name = rng.choice(names)
        new = rng.choice(["preprocessor.bin", "objects/x", "../evil", "a" * 300, ""])
        renamed = [(new if n == name else n, d) for n, d in entries]
        try:
            return _rezip(renamed), f"rename {name} -> {new[:20]}"
        except ValueError:
            return raw, "rename (not representable)"
    if kind == "json":
        mutated, what = _mutate_json(rng, dict(entries)["configuration.json"])
        return _rezip(
            [(n, mutated if n == "configuration.json" else d) for n, d in entries]
        ), f"json {what}"
    # Array entries: their header (first ~100 bytes) or their data.
    arrays = [n for n in names if n in ("coefficients.bin", "updaterState.bin")]
    target = rng.choice(arrays)
    data = bytearray(dict(entries)[target])
    if kind == "header":
        span = min(len(data), 120)
        at = rng.randrange(span)
        if rng.random() < 0.5:
            data[at] ^= 1 << rng.randrange(8)
            what = f"flip {target} header byte {at}"
        else:
            width = rng.choice([4, 8])
            at = min(at, len(data) - width)
            value = rng.choice([0, 1, -1, 2**31 - 1, 3, 10**6])
            fmt = ">i" if width == 4 else ">q"
            value = max(min(value, 2**31 - 1), -(2**31)) if width == 4 else value
            data[at : at + width] = struct.pack(fmt, value)
            what = f"set {target} header int{width * 8} at {at} to {value}"
    else:
        at = rng.randrange(len(data) - 4) if len(data) > 4 else 0
        data[at : at + 4] = rng.choice(
            [b"\x7f\xc0\x00\x00", b"\x7f\x80\x00\x00", b"\xff\xff\xff\xff"]
        )
        what = f"set 4 data bytes of {target} at {at} to NaN/inf"
    return _rezip(
        [(n, bytes(data) if n == target else d) for n, d in entries]
    ), f"{kind} {what}"


def cases(seed: int, count: int):
    """(case number, seed checkpoint, description, bytes) for ``count`` cases."""
    rng = random.Random(seed)
    sources = [SHARED / "checkpoints" / s for s in SEEDS]
    sources = [s for s in sources if s.exists()]
    raw = {s: s.read_bytes() for s in sources}
    for number in range(count):
        source = sources[number % len(sources)]
        data, what = mutate(rng, raw[source])
        yield number, source.name, what, data


def run_case(data: bytes, folder: Path) -> str:
    """Loads one mutated file; returns the outcome ("loaded" or the error class)."""
    import numpy as np

    from py_dl4j_ft import PreTrainedModel, inspect_checkpoint
    from py_dl4j_ft.errors import Dl4jFtError

    path = folder / "case.zip"
    path.write_bytes(data)
    try:
        # The pure-Python description first: it too must end in our errors.
        try:
            inspect_checkpoint(path)
        except Dl4jFtError:
            pass
        model = PreTrainedModel.load(path)
        spec = model.info["inputs"][0]
        if spec.get("image"):
            shape = (2, *spec["image"])
        elif spec["rank"] == 3:
            shape = (2, max(spec["size"], 1), 5)
        else:
            shape = (2, max(spec["size"], 1))
        try:
            model.predict(np.random.default_rng(0).random(shape, dtype=np.float32))
        except Dl4jFtError as e:
            return f"loaded, predict refused: {type(e).__name__}"
        return "loaded"
    except Dl4jFtError as e:
        return type(e).__name__
    finally:
        path.unlink(missing_ok=True)


def worker(seed: int, start: int, count: int) -> None:
    """Runs cases start..start+count-1, one JSON line each, flushed before the next."""
    import logging

    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="dl4j-ft-fuzz-") as tmp:
        for number, source, what, data in cases(seed, start + count):
            if number < start:
                continue
            print(json.dumps({"case": number, "started": True}), flush=True)
            try:
                outcome = run_case(data, Path(tmp))
            except Exception as e:  # noqa: BLE001 - a foreign exception is the finding
                outcome = f"FOREIGN {type(e).__module__}.{type(e).__name__}: {e}"[:300]
            print(
                json.dumps(
                    {"case": number, "source": source, "what": what, "outcome": outcome}
                ),
                flush=True,
            )


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-worker", type=int, default=500)
    parser.add_argument("--case-timeout", type=float, default=60.0)
    parser.add_argument("--worker", nargs=2, type=int, metavar=("START", "COUNT"))
    args = parser.parse_args()
    if args.worker:
        worker(args.seed, *args.worker)
        return 0

    outcomes: collections.Counter[str] = collections.Counter()
    failures = []
    next_case, began = 0, time.monotonic()
    while next_case < args.cases:
        count = min(args.per_worker, args.cases - next_case)
        proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--seed",
                str(args.seed),
                "--worker",
                str(next_case),
                str(count),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
        reader.start()
        current, done_here, hung = next_case, 0, False
        while True:
            try:
                line = lines.get(timeout=args.case_timeout)
            except queue.Empty:
                hung = True  # no answer within the time limit: a hang
                proc.kill()
                break
            if line is None:
                break
            record = json.loads(line)
            if record.get("started"):
                current = record["case"]
                continue
            done_here += 1
            outcome = record["outcome"]
            if outcome.startswith("FOREIGN"):
                failures.append(record)
                outcome = outcome.split(":")[0]
            outcomes[outcome] += 1
        code = proc.wait()
        if done_here < count:
            kind = "HANG" if hung else "CRASH"
            failures.append({"case": current, "outcome": f"{kind} (exit {code})"})
            outcomes[kind] += 1
            next_case = current + 1
        else:
            next_case += count
    summary = {
        "cases": sum(outcomes.values()),
        "seed": args.seed,
        "seconds": round(time.monotonic() - began, 1),
        "outcomes": dict(outcomes.most_common()),
        "failures": failures[:50],
    }
    print(json.dumps(summary, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
