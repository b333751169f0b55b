"""Run conversions in worker processes: TensorFlow stays out of the build process and a crash names its model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from hatch_tfjs.config import ModelSpec
from hatch_tfjs.convert import ConversionResult
from hatch_tfjs.errors import ConversionError, HatchTfjsError


def default_jobs(count: int) -> int:
    return max(1, min(count, os.cpu_count() or 1, 4))


def _run_one(spec: ModelSpec, source_hash: str | None = None) -> ConversionResult:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.run(
        [sys.executable, "-m", "hatch_tfjs.worker"],
        input=json.dumps([{**spec.to_json(), "source_sha256": source_hash}]),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise ConversionError(
            f"model '{spec.name}' ({spec.source_rel}): the conversion worker exited with code {proc.returncode}"
            + (f":\n{tail}" if tail else "")
        )
    line = json.loads(lines[-1])
    if line["ok"]:
        return ConversionResult(**line["result"])
    if line.get("user_error"):
        raise HatchTfjsError(line["error"])
    raise ConversionError(
        f"model '{spec.name}' ({spec.source_rel}): conversion failed: {line['error']}\n{line.get('detail', '')}".rstrip()
    )


def convert_in_workers(
    specs: Sequence[ModelSpec],
    *,
    jobs: int | None = None,
    on_result: Callable[[ConversionResult], None] | None = None,
    source_hashes: dict[str, str | None] | None = None,
) -> list[ConversionResult]:
    """Convert every spec, ``jobs`` at a time; raise one error listing every model that failed.

    ``source_hashes`` (model name -> sha256 the plan stage took) spares the workers hashing the sources again."""
    if not specs:
        return []
    results: list[ConversionResult] = []
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=jobs or default_jobs(len(specs))) as pool:
        futures = [pool.submit(_run_one, spec, (source_hashes or {}).get(spec.name)) for spec in specs]
        for future in futures:
            try:
                result = future.result()
            except HatchTfjsError as exc:
                failures.append(str(exc))
                continue
            results.append(result)
            if on_result is not None:
                on_result(result)
    if failures:
        raise HatchTfjsError("\n".join(failures))
    return results
