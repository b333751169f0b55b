"""Write ``docs/keras-ops.md``: every ``keras.ops`` call of the installed Keras, and whether the TensorFlow-free
compiler translates it (a model calling one it does not goes through TensorFlow), with the reason where it does not.

The Keras side is listed from Keras itself (each ``keras.ops`` call is an ``Operation`` subclass, whose class name a
functional model's config records); the compiler side is ``data/compiled_layers.json``; the reasons are this
module's table, by what the op needs. Run after adding emitters (needs Keras)::

    python -m hatch_tfjs.tools.keras_ops_coverage
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "keras-ops.md"
MODULES = ("numpy", "nn", "math", "image", "core", "linalg")

_COMPLEX = "complex tensors: the graph compiler and writer handle real dtypes only"
_RANDOM = "draws random numbers at each call: TF.js cannot reproduce Keras's generator"
_AUTODIFF = "differentiates a Python function: only TensorFlow can trace it"
_AFFINE = ("TF.js 4.22's Transform kernel (ImageProjectiveTransformV3, which Keras calls) gives other values than "
           "TensorFlow's on the cpu backend and with nearest/reflect on wasm (found by the compiler zoo)")
_KERAS_BUG = ("Keras 3.15's ConvTranspose operation passes output_padding where padding goes, so Keras itself fails "
              "on a model that calls it (the Conv*Transpose layers are compiled)")
_DECOMPOSITION = "a matrix decomposition or solve: TF.js 4.22 has no kernel for it"
_PYTHON = "calls Python functions (control flow, mapping): only TensorFlow can trace them"
_DYNAMIC = "its output shape depends on the values: not translated"
_BITS = ("TF.js 4.22's BitwiseAnd graph op cannot run (its executor reads inputs named a, b; its op mapper names "
         "them x, y); the bits one at a time would be 32 ops per element: not translated")
_LOOP = "needs a loop per element (Euclid's algorithm): not translated"
_BIT_PATTERN = "reads or writes a float's bit pattern (a bitcast): TF.js 4.22 has no Bitcast"
_BATCH_MATRIX = ("works on 1-D tensors or flattens its input: in a model, the batch axis becomes a matrix axis, so "
                 "the result's shape depends on the batch size: not translated")
_UNTRACEABLE = ("Keras's TensorFlow backend cannot trace it (kron: a Python range over a symbolic rank; the nan "
                "quantiles: a map_fn output spec shaped by a tensor): a model calling it fails in Keras's own "
                "predict: not translated")
_ARGPARTITION = ("Keras's TensorFlow backend casts x to int32 and sums its one-hot mask over axis 0 (in a model, the "
                 "batch axis): not translated")
_NDIM = "Keras records its result as a float tensor of shape (rank,) but computes an int scalar: not translated"

REASONS: dict[str, str] = {
    **dict.fromkeys(("ViewAsComplex", "ViewAsReal", "Angle", "Conj", "Conjugate", "Real", "Imag", "Polar", "Isreal"),
                    _COMPLEX),
    **dict.fromkeys(("Cholesky", "CholeskyInverse", "Det", "Eig", "Eigh", "Inv", "Lstsq", "LuFactor", "Qr", "SVD",
                     "Solve", "SolveTriangular", "Logdet", "Slogdet", "Pinv", "MatrixRank"), _DECOMPOSITION),
    **dict.fromkeys(("Cond", "WhileLoop", "ForiLoop", "Scan", "AssociativeScan", "Map", "VectorizedMap", "Switch"),
                    _PYTHON),
    "Argpartition": _ARGPARTITION,
    **dict.fromkeys(("Unique", "Nonzero", "Histogram", "Bincount", "IsIn", "CTCDecode"), _DYNAMIC),
    **dict.fromkeys(("BitwiseAnd", "BitwiseOr", "BitwiseXor"), _BITS),
    **dict.fromkeys(("Gcd", "Lcm"), _LOOP),
    **dict.fromkeys(("View", "Nextafter"), _BIT_PATTERN),
    "Arange": ("with constant arguments Keras computes it when the model is built (the config holds the value); with a "
               "tensor argument its length depends on the values: not translated"),
    **dict.fromkeys(("Correlate", "Corrcoef", "Diag", "Diagflat", "Meshgrid"), _BATCH_MATRIX),
    "Ndim": _NDIM,
    **dict.fromkeys(("Kron", "Nanmedian", "Nanquantile", "Nanpercentile"), _UNTRACEABLE),
    "ConvTranspose": _KERAS_BUG,
    "ElasticTransform": _RANDOM,
    "JVP": _AUTODIFF,
    "AffineTransform": _AFFINE,
    "PerspectiveTransform": _AFFINE,
    "SegmentReduction": "the segment ops' base class: no keras.ops call records it",
}
DEFAULT_REASON = "not translated yet (TF.js 4.22 can express it): such a model goes through TensorFlow"


def keras_ops() -> dict[str, list[str]]:
    """``module -> sorted Operation class names`` of the installed Keras."""
    from keras.src.ops.operation import Operation

    found: dict[str, list[str]] = {}
    for name in MODULES:
        module = importlib.import_module(f"keras.src.ops.{name}")
        found[name] = sorted(
            n for n, c in vars(module).items()
            if inspect.isclass(c) and issubclass(c, Operation) and c is not Operation
            and c.__module__ == module.__name__
        )
    return found


def render(ops: dict[str, list[str]], compiled: set[str], keras_version: str) -> str:
    total = sum(len(v) for v in ops.values())
    covered = sum(1 for v in ops.values() for n in v if n in compiled)
    lines = [
        "# keras.ops calls and the TensorFlow-free compiler",
        "",
        f"Generated by `python -m hatch_tfjs.tools.keras_ops_coverage` from Keras {keras_version}: {covered} of "
        f"{total} `keras.ops` calls compile without TensorFlow (each checked in TF.js 4.22 against Keras by the "
        "compiler zoo, `tests/zoos/compile_zoo*.py`); a model calling any other one goes through TensorFlow, and the "
        "build line names it. Class names are those a functional model's config records.",
        "",
    ]
    for module, names in ops.items():
        done = [n for n in names if n in compiled]
        lines += [f"## keras.ops ({module}): {len(done)} of {len(names)}", "", "Compiled: "
                  + (", ".join(f"`{n}`" for n in done) or "none") + ".", "", "| Not compiled | Why |", "|---|---|"]
        lines += [f"| `{n}` | {REASONS.get(n, DEFAULT_REASON)} |" for n in names if n not in compiled]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import keras

    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    data = Path(__file__).resolve().parent.parent / "data" / "compiled_layers.json"
    compiled = set(json.loads(data.read_text("utf-8"))["ops"])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(keras_ops(), compiled, keras.__version__), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
