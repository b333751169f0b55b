"""Run ``hatch-tfjs convert SOURCE OUTDIR`` on many sources in one process and report what a user would have seen.

    python convert_many.py JOBS.json      # JOBS: [[source, outdir], ...]; prints one JSON object per job

Each job goes through ``hatch_tfjs.cli.main`` exactly as the command line does (a new interpreter per file would cost
~0.4 s each), under an alarm so that a hang is reported rather than waited for. The caller sets the memory cap.
Reported per job: the exit code, stdout and stderr, the files left in OUTDIR's parent, the problems ``hatch-tfjs
inspect`` finds in OUTDIR when there is one, and whether SOURCE still has the bytes it had before.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

PER_JOB_SECONDS = 20
# A damaged file can make HDF5 loop forever; the reader gives up on it after HDF5_PARSE_SECONDS (30 s by default,
# generous for any real file). Here it gives up sooner, so that each such mutant costs seconds, not half a minute.
HDF5_PARSE_SECONDS = 3.0


class Hang(BaseException):
    """Raised by the alarm; a BaseException so that the CLI's own error handling cannot swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise Hang


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def run_job(source: Path, outdir: Path) -> dict[str, Any]:
    from hatch_tfjs.cli import main
    from hatch_tfjs.describe import describe_model_dir

    before = _digest(source)
    stdout, stderr = io.StringIO(), io.StringIO()
    signal.alarm(PER_JOB_SECONDS)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code: Any = main(["convert", str(source), str(outdir)])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    except Hang:
        code = "hang"
    finally:
        signal.alarm(0)
    report: dict[str, Any] = {
        "source": str(source),
        "code": code,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "left": sorted(os.listdir(outdir.parent)) if outdir.parent.is_dir() else [],
        "source_unchanged": _digest(source) == before,
        "problems": None,
    }
    if code == 0:
        try:
            report["problems"] = describe_model_dir(outdir)["problems"]
        except Exception as exc:  # noqa: BLE001 - reported, and the test fails on it
            report["problems"] = [f"cannot describe the output: {type(exc).__name__}: {exc}"]
    return report


def main(argv: list[str]) -> int:
    from hatch_tfjs.read import h5_reader

    h5_reader.HDF5_PARSE_SECONDS = HDF5_PARSE_SECONDS
    signal.signal(signal.SIGALRM, _on_alarm)
    jobs = json.loads(Path(argv[0]).read_text())
    for source, outdir in jobs:
        print(json.dumps(run_job(Path(source), Path(outdir))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
