"""Where the time of one layers conversion goes (h5py reader), stage by stage, in one process.

    python benchmarks/breakdown.py SOURCE OUTDIR [JSONL]  # prints (and appends to JSONL) one JSON object of seconds per stage

The stages are those ``hatch_tfjs.convert.convert_model`` runs for a layers model, called in the same order; the
fsync of the written files (inside ``hatch_tfjs.atomic.replace_directory``) is timed separately by wrapping it. The
``hatch-tfjs convert`` command runs the same stages in a worker process, plus its own start-up.
"""

from __future__ import annotations

import json
import sys
import time

started = time.perf_counter()
from pathlib import Path  # noqa: E402

import hatch_tfjs.atomic as atomic  # noqa: E402
from hatch_tfjs.hashing import hash_source  # noqa: E402
from hatch_tfjs.read import read_keras_model  # noqa: E402
from hatch_tfjs.translate import translate_model_config  # noqa: E402
from hatch_tfjs.write import layers_model_json, write_model_dir  # noqa: E402

import h5py  # noqa: E402, F401  (imported by the reader anyway: counted with the imports)


def main(source: Path, output: Path) -> dict[str, float]:
    times: dict[str, float] = {"imports": time.perf_counter() - started}
    fsync_seconds = 0.0
    original = atomic._fsync_file

    def timed_fsync(path: Path) -> None:
        nonlocal fsync_seconds
        t = time.perf_counter()
        original(path)
        fsync_seconds += time.perf_counter() - t

    atomic._fsync_file = timed_fsync
    t = time.perf_counter()
    hash_source(source)
    times["hash source (freshness stamp)"] = time.perf_counter() - t
    t = time.perf_counter()
    model = read_keras_model(source, model_name="large", reader="h5py")
    times["read (h5py)"] = time.perf_counter() - t
    t = time.perf_counter()
    translation = translate_model_config(model.config)
    document = layers_model_json(translation.model_config, keras_version=model.keras_version)
    times["translate"] = time.perf_counter() - t
    t = time.perf_counter()
    write_model_dir(output, document, model.weights, shard_size=4194304)
    total_write = time.perf_counter() - t
    times["write shards + model.json"] = total_write - fsync_seconds
    times["fsync of every file"] = fsync_seconds
    times["total (in process)"] = time.perf_counter() - started
    return times


if __name__ == "__main__":
    line = json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2])))
    print(line)
    if len(sys.argv) > 3:
        with open(sys.argv[3], "a") as handle:
            handle.write(line + "\n")
