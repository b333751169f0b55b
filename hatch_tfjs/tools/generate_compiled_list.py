"""Regenerate ``hatch_tfjs/data/compiled_layers.json``: the Keras layer classes and ``keras.ops`` calls that the
TensorFlow-free graph compiler (``hatch_tfjs.compile``) translates.

Routing reads this list with the standard library alone (``hatch_tfjs.coverage``): the build hook must know whether
a graph model needs TensorFlow before numpy is installed. After adding an emitter to the compiler, run::

    python -m hatch_tfjs.tools.generate_compiled_list

The tests fail while the shipped list and the compiler's registry differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "data" / "compiled_layers.json"


def build_document() -> dict[str, Any]:
    """The compiler's registry as the shipped document (sorted, so a diff shows what was added)."""
    import hatch_tfjs.compile  # noqa: F401 - importing it registers every emitter
    from hatch_tfjs.compile.registry import LAYERS, OPS

    return {
        "about": "Keras layer classes and keras.ops calls hatch_tfjs.compile translates without TensorFlow; "
        "regenerate with: python -m hatch_tfjs.tools.generate_compiled_list",
        "layers": sorted(LAYERS),
        "ops": sorted(OPS),
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    output.write_text(render(build_document()), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
