"""Worker process: converts the models it is given, so the build process never imports TensorFlow.

Protocol: a JSON list of tasks on stdin, each ``{"spec": config.wire.spec_to_json(spec), "source_sha256", "route",
"replace_foreign"}``; one JSON line per model on stdout, ``{"ok": true, "result": ...}`` or ``{"ok": false, "name",
"error", "error_type", "user_error", "detail"?}``. Anything else the libraries print goes to stderr.

Started by :mod:`hatch_tfjs.workers` through :data:`LAUNCHER`, which drops the current directory from ``sys.path``
before importing anything: the worker runs inside the user's project, and a ``json.py`` of theirs must not be imported.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

# ``python -c`` puts "" (the current directory) first on sys.path; remove it before the first import of a module.
LAUNCHER = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from hatch_tfjs.worker import main; raise SystemExit(main())"
)


def _failure(name: str, exc: BaseException) -> dict[str, Any]:
    from hatch_tfjs.errors import HatchTfjsError

    if isinstance(exc, HatchTfjsError):
        return {"ok": False, "name": name, "error": str(exc), "error_type": type(exc).__name__, "user_error": True}
    return {
        "ok": False,
        "name": name,
        "error": f"{type(exc).__name__}: {exc}",
        "error_type": type(exc).__name__,
        "detail": traceback.format_exc(),
        "user_error": False,
    }


def main() -> int:
    tasks = json.load(sys.stdin)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # keep library chatter off the protocol channel

    from hatch_tfjs.config.wire import spec_from_json
    from hatch_tfjs.convert import convert_model
    from hatch_tfjs.route import Route

    for task in tasks:
        spec = spec_from_json(task["spec"])
        route = Route(**task["route"]) if task.get("route") else None
        try:
            result = convert_model(
                spec,
                source_hash=task.get("source_sha256"),
                route=route,
                replace_foreign=bool(task.get("replace_foreign")),
            )
            line: dict[str, Any] = {"ok": True, "result": result.to_json()}
        except Exception as exc:  # noqa: BLE001 - reported to the build with the model's name
            line = _failure(spec.name, exc)
        out.write(json.dumps(line) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
