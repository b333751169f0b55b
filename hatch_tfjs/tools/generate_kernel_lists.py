"""Regenerate ``hatch_tfjs/data/tfjs_kernels.json``: the kernels each TF.js backend registers.

A graph model's op runs on a backend only when that backend registers the op's kernel: TF.js 4.22's WASM backend,
for one, has no ``Einsum`` (``Kernel 'Einsum' not registered for backend 'wasm'``). The lists come from the
packages themselves: Node imports ``@tensorflow/tfjs`` (the ``cpu`` and ``webgl`` backends),
``@tensorflow/tfjs-backend-wasm`` and ``@tensorflow/tfjs-backend-webgpu``, whose imports register their kernels, and
prints ``tf.getKernelsForBackend(name)`` for each (registering needs no GPU and no .wasm file). To update them for a
new TF.js::

    npm install --prefix tests/js @tensorflow/tfjs@<v> @tensorflow/tfjs-backend-wasm@<v> \
        @tensorflow/tfjs-backend-webgpu@<v>
    python -m hatch_tfjs.tools.generate_kernel_lists tests/js

The output is deterministic (sorted), so a diff shows exactly which kernels a release added or dropped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "data" / "tfjs_kernels.json"
PACKAGES = ("@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-backend-webgpu")
BACKENDS = ("cpu", "wasm", "webgl", "webgpu")

# Runs in the directory holding node_modules; prints {"versions": {...}, "backends": {name: [kernel, ...]}}.
LIST_KERNELS = """
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/');
const packages = JSON.parse(process.argv[1]);
const tf = await import(require.resolve(packages[0]));
for (const name of packages.slice(1)) await import(require.resolve(name));
const versions = Object.fromEntries(packages.map((p) => [p, require(p + '/package.json').version]));
const backends = Object.fromEntries(JSON.parse(process.argv[2]).map((b) =>
  [b, [...new Set(tf.getKernelsForBackend(b).map((k) => k.kernelName))].sort()]));
process.stdout.write(JSON.stringify({ versions, backends }) + '\\n');
"""


def read_kernel_lists(package_dir: Path) -> dict[str, Any]:
    """``{"versions": {package: version}, "backends": {backend: [kernel, ...]}}`` from the packages installed in
    ``package_dir/node_modules``."""
    if not (package_dir / "node_modules" / "@tensorflow" / "tfjs-backend-wasm").is_dir():
        wanted = " ".join(PACKAGES)
        raise SystemExit(f"{package_dir}/node_modules lacks the TF.js backend packages: npm install {wanted}")
    command = ["node", "--input-type=module", "-e", LIST_KERNELS, json.dumps(PACKAGES), json.dumps(BACKENDS)]
    proc = subprocess.run(command, cwd=package_dir, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise SystemExit(f"listing the kernels failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])  # TF.js may greet on stdout first
    return result


def build_document(listing: dict[str, Any]) -> dict[str, Any]:
    versions: dict[str, str] = listing["versions"]
    if len(set(versions.values())) != 1:
        raise SystemExit(f"the TF.js packages are not one release: {versions}")
    return {
        "source": "tf.getKernelsForBackend() after importing " + ", ".join(f"{p}@{v}" for p, v in versions.items()),
        "tfjs_version": next(iter(versions.values())),
        "generated_by": "python -m hatch_tfjs.tools.generate_kernel_lists",
        "backends": {name: listing["backends"][name] for name in BACKENDS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package_dir", type=Path, help="a directory whose node_modules holds the TF.js packages")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    document = build_document(read_kernel_lists(args.package_dir))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    counts = ", ".join(f"{name} {len(kernels)}" for name, kernels in document["backends"].items())
    print(f"{args.output}: kernels of TF.js {document['tfjs_version']}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
