"""Write the JSON schema of the hook's table (generated from config/declarations.py) to data/hook-schema.json.

    python -m hatch_tfjs.tools.generate_schema

Editors that validate pyproject.toml (Even Better TOML, taplo, PyCharm) can use it for [tool.hatch.build.hooks.tfjs].
"""

from __future__ import annotations

import json
from pathlib import Path

from hatch_tfjs.config.declarations import json_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "data" / "hook-schema.json"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


def main() -> None:
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")


if __name__ == "__main__":
    main()
