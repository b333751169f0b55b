"""Which TF.js backends run a graph model: each backend registers its own kernels, and a graph whose op has no
kernel on a backend fails there (``Kernel 'Einsum' not registered for backend 'wasm'``).

Reads the kernel lists shipped in ``hatch_tfjs/data/tfjs_kernels.json`` (regenerate them with
``python -m hatch_tfjs.tools.generate_kernel_lists tests/js``). A TensorFlow op needs the kernel of its own name
when ``cpu`` (the backend with every kernel) has one, and the kernels :data:`KERNELS_OF` lists where TF.js computes
it with kernels of other names; ops that are no kernel at all (control flow, hash tables, ``Const``) run on every
backend. Layers models run on every backend. Standard library only: the index (``index.py``) reads it at build
time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

# The order the browser loader tries them in (tfjs-models.mjs, backend "auto"): fastest first.
BACKENDS = ("webgpu", "webgl", "wasm", "cpu")
REFERENCE = "cpu"  # registers every kernel TF.js has

# TensorFlow ops TF.js computes with kernels of other names, where one of them is missing on some backend.
KERNELS_OF: dict[str, tuple[str, ...]] = {
    "RFFT": ("FFT", "Complex", "Real", "Imag"),
    "IRFFT": ("IFFT", "Complex", "Real", "Imag"),
    "UniqueV2": ("Unique",),
}


# Kernels a backend registers but that computed wrong results in the test suite's runs of the whole compiler zoo in
# Chromium (TF.js 4.22; SwiftShader's WebGPU adapter): backend -> op -> (how many of it in one graph make it fail,
# what goes wrong). A graph with them is not listed as running there, so the browser loader does not pick it.
WRONG_ON: dict[str, dict[str, tuple[int, str]]] = {
    "webgpu": {
        "Conv3D": (1, "gets Conv3D wrong"),
        "StatelessWhile": (2, "loses its device running two loops in one call"),
        "While": (2, "loses its device running two loops in one call"),
    },
}

OpCounts = Mapping[str, int] | Iterable[str]


def _counted(ops: OpCounts) -> Counter[str]:
    return Counter(ops) if isinstance(ops, Mapping) else Counter(set(ops))


@lru_cache(maxsize=1)
def kernel_lists() -> dict[str, frozenset[str]]:
    """Backend name -> the kernels TF.js registers for it (from the shipped document)."""
    text = resources.files("hatch_tfjs").joinpath("data/tfjs_kernels.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return {name: frozenset(kernels) for name, kernels in document["backends"].items()}


def kernels_needed(op: str) -> tuple[str, ...]:
    """The kernels TF.js runs for TensorFlow op ``op`` that a backend may lack (none for ops that are no kernel)."""
    if op in KERNELS_OF:
        return KERNELS_OF[op]
    return (op,) if op in kernel_lists()[REFERENCE] else ()


def missing_by_backend(ops: OpCounts) -> dict[str, list[str]]:
    """Backend -> the ops of ``ops`` it has no kernel for (sorted); backends that run them all are left out."""
    wanted = sorted(_counted(ops))
    lists = kernel_lists()
    missing: dict[str, list[str]] = {}
    for backend in BACKENDS:
        lacking = [op for op in wanted if any(k not in lists[backend] for k in kernels_needed(op))]
        if lacking:
            missing[backend] = lacking
    return missing


def wrong_by_backend(ops: OpCounts) -> dict[str, list[str]]:
    """Backend -> what it gets wrong for a graph with ``ops`` (op name -> count, or names), from :data:`WRONG_ON`."""
    counts = _counted(ops)
    wrong: dict[str, list[str]] = {}
    for backend, table in WRONG_ON.items():
        found = sorted({what for op, (least, what) in table.items() if counts.get(op, 0) >= least})
        if found:
            wrong[backend] = found
    return wrong


def runnable_backends(ops: OpCounts) -> list[str]:
    """The backends (in :data:`BACKENDS` order) that have a kernel for every op of ``ops`` and compute them right."""
    excluded = {*missing_by_backend(ops), *wrong_by_backend(ops)}
    return [backend for backend in BACKENDS if backend not in excluded]


def backends_note(ops: OpCounts) -> str | None:
    """A build note when some backend cannot run a graph with these ops, else None."""
    missing, wrong = missing_by_backend(ops), wrong_by_backend(ops)
    if not missing and not wrong:
        return None
    runs = runnable_backends(ops)
    gaps = [f"{backend} has no kernel for {', '.join(names)}" for backend, names in missing.items()]
    gaps += [f"{backend} {'; '.join(whats)} in TF.js 4.22" for backend, whats in wrong.items()]
    where = f"runs on TF.js backends {', '.join(runs)} only" if runs else "runs on no TF.js backend"
    return f"{where} ({'; '.join(gaps)}); the browser loader's backend \"auto\" skips the others"
