"""Worker process: converts the models it is given, so the build process never imports TensorFlow.

Protocol: a JSON list of specs on stdin; one JSON line per model on stdout, ``{"ok": true, "result": ...}`` or
``{"ok": false, "name": ..., "error": ..., "user_error": bool}``. Anything else the libraries print goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def main() -> int:
    specs = json.load(sys.stdin)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # keep library chatter off the protocol channel

    from hatch_tfjs.config import ModelSpec
    from hatch_tfjs.convert import convert_model
    from hatch_tfjs.errors import HatchTfjsError

    for data in specs:
        spec = ModelSpec.from_json(data)
        try:
            result = convert_model(spec, source_hash=data.get("source_sha256"))
            line = {"ok": True, "result": result.to_json()}
        except HatchTfjsError as exc:
            line = {"ok": False, "name": spec.name, "error": str(exc), "user_error": True}
        except Exception as exc:  # noqa: BLE001 - reported to the build with the model's name
            line = {
                "ok": False,
                "name": spec.name,
                "error": f"{type(exc).__name__}: {exc}",
                "detail": traceback.format_exc(),
                "user_error": False,
            }
        out.write(json.dumps(line) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
