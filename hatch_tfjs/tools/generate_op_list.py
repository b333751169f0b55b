"""Regenerate ``hatch_tfjs/data/tfjs_ops.json``: the TensorFlow op names a TF.js release can execute.

The list is the union of ``tfOpName`` in the op mappers of ``@tensorflow/tfjs-converter``
(``dist/operations/op_list/*.js`` in the npm package). To update it for a new TF.js::

    npm install --prefix tests/js @tensorflow/tfjs@<version>
    python -m hatch_tfjs.tools.generate_op_list tests/js/node_modules/@tensorflow/tfjs-converter

The output is deterministic (sorted), so a diff shows exactly which ops a TF.js release added or dropped.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

OP_NAME = re.compile(r"""['"]?tfOpName['"]?\s*:\s*['"]([A-Za-z0-9_]+)['"]""")
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "data" / "tfjs_ops.json"


def read_op_list(converter_dir: Path) -> tuple[str, dict[str, list[str]]]:
    """``(version, {category: [op, ...]})`` from an installed ``@tensorflow/tfjs-converter`` package."""
    package = json.loads((converter_dir / "package.json").read_text(encoding="utf-8"))
    op_dir = converter_dir / "dist" / "operations" / "op_list"
    files = sorted(op_dir.glob("*.js"))
    if not files:
        raise SystemExit(f"no op mapper files in {op_dir}; is this a @tensorflow/tfjs-converter package directory?")
    categories: dict[str, list[str]] = {}
    for path in files:
        names = sorted(set(OP_NAME.findall(path.read_text(encoding="utf-8"))))
        if names:
            categories[path.stem] = names
    return package["version"], categories


def build_document(version: str, categories: dict[str, list[str]]) -> dict[str, Any]:
    ops = sorted({op for names in categories.values() for op in names})
    return {
        "source": f"@tensorflow/tfjs-converter@{version} dist/operations/op_list/*.js",
        "tfjs_version": version,
        "generated_by": "python -m hatch_tfjs.tools.generate_op_list",
        "count": len(ops),
        "ops": ops,
        "categories": categories,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("converter_dir", type=Path, help="path to node_modules/@tensorflow/tfjs-converter")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    version, categories = read_op_list(args.converter_dir)
    document = build_document(version, categories)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{args.output}: {document['count']} ops from TF.js {version}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
