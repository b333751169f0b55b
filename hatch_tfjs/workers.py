"""Run conversions in worker processes: TensorFlow stays out of the build process and a crash names its model.

Models that need TensorFlow (graph models) all go to ONE worker, converted one after another after a single
``import tensorflow``; every other model gets a worker of its own, ``jobs`` workers at a time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hatch_tfjs import errors
from hatch_tfjs.config import ModelSpec
from hatch_tfjs.config.wire import spec_to_json
from hatch_tfjs.convert import ConversionResult
from hatch_tfjs.errors import ConversionError, HatchTfjsError
from hatch_tfjs.route import Route, needs_tensorflow
from hatch_tfjs.worker import LAUNCHER


def default_jobs(count: int) -> int:
    return max(1, min(count, os.cpu_count() or 1, 4))


@dataclass(frozen=True)
class Task:
    spec: ModelSpec
    route: Route | None = None  # None: the worker works it out (see route.py)
    source_hash: str | None = None

    @property
    def needs_tensorflow(self) -> bool:
        return needs_tensorflow(self.spec, self.route)

    def to_json(self, replace_foreign: bool) -> dict[str, Any]:
        return {
            "spec": spec_to_json(self.spec),
            "route": self.route.to_json() if self.route is not None else None,
            "source_sha256": self.source_hash,
            "replace_foreign": replace_foreign,
        }


Outcome = ConversionResult | HatchTfjsError


def _error_from(line: dict[str, Any], spec: ModelSpec) -> HatchTfjsError:
    """The worker's error as the same class on this side of the process boundary."""
    if line.get("user_error"):
        cls = getattr(errors, str(line.get("error_type")), None)
        if not (isinstance(cls, type) and issubclass(cls, HatchTfjsError)) or cls is errors.ConfigError:
            cls = HatchTfjsError
        error = cls.__new__(cls)  # the message is final: skip constructors that would format it again
        Exception.__init__(error, line["error"])
        return error
    error = ConversionError(f"model '{spec.name}' ({spec.source_rel}): conversion failed: {line['error']}")
    error.detail = line.get("detail", "")
    return error


def _worker_died(spec: ModelSpec, returncode: int, stderr: str) -> ConversionError:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        how = f"was killed by {name}" + (" (the system does this when memory runs out)" if name == "SIGKILL" else "")
    else:
        how = f"exited with code {returncode}"
    error = ConversionError(
        f"model '{spec.name}' ({spec.source_rel}): the conversion worker {how}; nothing was written and the previous "
        "output is intact; build again (with jobs = 1 on the hook table if memory is short)"
    )
    error.detail = "\n".join(stderr.strip().splitlines()[-15:])
    return error


def _run_batch(tasks: Sequence[Task], replace_foreign: bool) -> list[tuple[ModelSpec, Outcome]]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.run(  # noqa: S603 - argv is this interpreter and a fixed launcher, no user input
        [sys.executable, "-c", LAUNCHER],
        input=json.dumps([task.to_json(replace_foreign) for task in tasks]),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    outcomes: list[tuple[ModelSpec, Outcome]] = []
    for task, line in zip(tasks, lines, strict=False):
        outcome: Outcome = ConversionResult(**line["result"]) if line["ok"] else _error_from(line, task.spec)
        outcomes.append((task.spec, outcome))
    # the worker died before answering for these
    outcomes.extend((task.spec, _worker_died(task.spec, proc.returncode, proc.stderr)) for task in tasks[len(lines) :])
    return outcomes


def batches_of(tasks: Sequence[Task]) -> list[list[Task]]:
    """One batch holding every task that needs TensorFlow (one import for all of them), one batch per other task."""
    heavy = [task for task in tasks if task.needs_tensorflow]
    light = [[task] for task in tasks if not task.needs_tensorflow]
    return ([heavy] if heavy else []) + light


def convert_in_workers(
    specs: Sequence[ModelSpec],
    *,
    jobs: int | None = None,
    on_result: Callable[[ConversionResult], None] | None = None,
    source_hashes: dict[str, str | None] | None = None,
    routes: dict[str, Route] | None = None,
    replace_foreign: bool = False,
) -> list[ConversionResult]:
    """Convert every spec; raise one error listing every model that failed.

    ``source_hashes`` (model name -> sha256 the plan stage took) spares the workers hashing the sources again;
    ``routes`` (model name -> Route, see route.py) says which models need TensorFlow; a model without one is
    assumed to need it."""
    if not specs:
        return []
    tasks = [Task(spec, (routes or {}).get(spec.name), (source_hashes or {}).get(spec.name)) for spec in specs]
    batches = batches_of(tasks)
    results: list[ConversionResult] = []
    failures: list[HatchTfjsError] = []
    with ThreadPoolExecutor(max_workers=jobs or default_jobs(len(batches))) as pool:
        futures = [pool.submit(_run_batch, batch, replace_foreign) for batch in batches]
        for future in futures:
            for _spec, outcome in future.result():
                if isinstance(outcome, HatchTfjsError):
                    failures.append(outcome)
                    continue
                results.append(outcome)
                if on_result is not None:
                    on_result(outcome)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        combined = (
            ConversionError("\n".join(str(f) for f in failures))
            if any(isinstance(f, ConversionError) for f in failures)
            else HatchTfjsError("\n".join(str(f) for f in failures))
        )
        combined.detail = "\n\n".join(getattr(f, "detail", "") for f in failures if getattr(f, "detail", ""))
        raise combined
    return results
