"""Weight quantization as TF.js dequantizes it at load time (files get smaller, compute stays float32).

Numerics follow the official converter, computed in float64:

- ``float16``: a plain IEEE cast (round to nearest even); values beyond float16's range are rejected.
- ``uint8`` / ``uint16``: affine, ``value ~= q * scale + min`` with ``scale = (max - min) / qmax``; when the range
holds 0 the
  zero point is nudged so that 0 is exact (``zp = round(-min / scale)``, ``min = -zp * scale``); values are clipped
  to the
  nudged range and rounded half to even. All-equal data gets ``scale = 1`` and ``q = 0``.

Only float weights (written as float32) are quantized; int32/bool/string/complex weights pass through. NaN and infinity
cannot be quantized: they are rejected with the weight's name.

Which weights get which dtype is a :class:`QuantizationPlan`: one dtype for every float weight, or an ordered list of
``(dtype, shell patterns)`` rules on weight names where ``*`` also matches ``/`` and the first matching pattern wins.
Work is done in chunks so that quantizing a tensor needs little more memory than its quantized copy.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from hatch_tfjs.errors import QuantizationError
from hatch_tfjs.options import QuantizationOptions
from hatch_tfjs.tfjs_dtypes import QUANTIZATION_DTYPES
from hatch_tfjs.write.shards import WeightEntry, encode_weight

__all__ = [
    "QUANTIZATION_DTYPES",
    "QuantizationError",
    "QuantizationPlan",
    "QuantizedArray",
    "affine_range",
    "dequantize",
    "quantize_array",
]

CHUNK_ELEMENTS = 1 << 15  # elements handled at once: bounds each float64 temporary to 256 KiB
_STORAGE: dict[str, np.dtype[Any]] = {"float16": np.dtype("<f2"), "uint8": np.dtype("<u1"), "uint16": np.dtype("<u2")}
_QMAX = {"uint8": 255, "uint16": 65535}
FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass(frozen=True)
class QuantizedArray:
    """The stored values of one weight plus its manifest ``quantization`` entry."""

    data: np.ndarray  # little-endian uint8 / uint16 / float16, C order, flat
    quantization: dict[str, Any]
    max_abs_error: float  # largest |TF.js's dequantized value - float32 original|


def _chunks(size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, size, CHUNK_ELEMENTS):
        yield start, min(start + CHUNK_ELEMENTS, size)


def affine_range(lo: float, hi: float, dtype: str) -> tuple[float, float, float]:
    """``(min, max, scale)`` for affine uint8/uint16 quantization of ``[lo, hi]`` (``lo < hi``), zero point nudged."""
    qmax = _QMAX[dtype]
    lo, hi = float(lo), float(hi)
    scale = (hi - lo) / qmax
    if lo <= 0.0 <= hi:
        zero_point = float(np.round(-lo / scale))  # round half to even, as numpy does
        lo = -zero_point * scale + 0.0  # + 0.0 turns -0.0 into 0.0 (same dequantized values)
        hi = qmax * scale + lo
    return lo, hi, scale


def _as_float32_flat(array: np.ndarray) -> np.ndarray:
    flat = np.ravel(np.asarray(array), order="C")
    if flat.dtype.kind != "f":
        raise TypeError(f"only float arrays can be quantized, not {flat.dtype}")
    return flat


def _check_finite(name: str, flat: np.ndarray, dtype: str) -> tuple[float, float]:
    """``(min, max)`` of the float32 values; raise naming the weight if any is NaN or infinite."""
    lo, hi = flat.min(), flat.max()  # NaN propagates, so both are finite iff every value is
    if np.isfinite(lo) and np.isfinite(hi):
        return float(np.float32(lo)), float(np.float32(hi))
    bad = sum(int(np.count_nonzero(~np.isfinite(flat[a:b]))) for a, b in _chunks(flat.size))
    kinds = []
    if any(np.isnan(flat[a:b]).any() for a, b in _chunks(flat.size)):
        kinds.append("NaN")
    if any(np.isinf(flat[a:b]).any() for a, b in _chunks(flat.size)):
        kinds.append("infinite")
    raise QuantizationError(
        f"weight {name!r} holds {' and '.join(kinds)} values ({bad} of {flat.size}), which cannot be quantized to "
        f"{dtype}; "
        "retrain or repair the model, or leave this weight out of quantize"
    )


def quantize_array(array: np.ndarray, dtype: str, *, name: str = "weight") -> QuantizedArray:
    """Quantize one float weight for TF.js (see the module docstring); ``array`` must be non-empty."""
    if dtype not in _STORAGE:
        raise ValueError(f"unknown quantization dtype {dtype!r}; expected one of {', '.join(QUANTIZATION_DTYPES)}")
    flat = _as_float32_flat(array)
    if flat.size == 0:
        raise ValueError("an empty weight has nothing to quantize")
    lo, hi = _check_finite(name, flat, dtype)
    out = np.empty(flat.size, dtype=_STORAGE[dtype])
    max_error = 0.0

    if dtype == "float16":
        for a, b in _chunks(flat.size):
            original = flat[a:b].astype(np.float32, copy=False)
            with np.errstate(over="ignore"):  # overflow is detected and reported just below
                half = original.astype(np.float16)
            if np.isinf(half).any():
                largest = max(abs(lo), abs(hi))
                raise QuantizationError(
                    f"weight {name!r} holds values up to {largest:.6g} in magnitude, beyond float16's range "
                    f"(+-{FLOAT16_MAX:g}); quantize it as uint16 or uint8 instead, or leave it out of quantize"
                )
            out[a:b] = half
            error = half.astype(np.float64)
            error -= original
            max_error = max(max_error, float(np.abs(error, out=error).max()))
        return QuantizedArray(out, {"dtype": "float16", "original_dtype": "float32"}, max_error)

    if lo == hi:
        out[:] = 0
        return QuantizedArray(out, {"dtype": dtype, "min": lo, "scale": 1.0, "original_dtype": "float32"}, 0.0)

    qmin, qmax_value, scale = affine_range(lo, hi, dtype)
    top = _QMAX[dtype]
    for a, b in _chunks(flat.size):
        original = flat[a:b].astype(np.float32, copy=False)
        x = original.astype(np.float64)
        np.clip(x, qmin, qmax_value, out=x)
        x -= qmin
        x /= scale
        np.rint(x, out=x)  # round half to even
        np.clip(x, 0, top, out=x)
        out[a:b] = x  # exact: whole numbers in [0, qmax]
        # What TF.js computes at load time: q * scale + min in double precision, stored as float32.
        x *= scale
        x += qmin
        x[...] = x.astype(np.float32)
        x -= original
        max_error = max(max_error, float(np.abs(x, out=x).max()))
    return QuantizedArray(out, {"dtype": dtype, "min": qmin, "scale": scale, "original_dtype": "float32"}, max_error)


def dequantize(data: np.ndarray, quantization: dict[str, Any]) -> np.ndarray:
    """The float32 values TF.js 4.22 restores from stored ``data`` (its ``decodeWeight``), for checks and tests."""
    dtype = quantization["dtype"]
    stored = np.asarray(data).astype(_STORAGE[dtype], copy=False)
    if dtype == "float16":
        restored: np.ndarray = stored.astype(np.float32)
    else:
        restored = (stored.astype(np.float64) * float(quantization["scale"]) + float(quantization["min"])).astype(
            np.float32
        )
    return restored


# --- which weight gets which dtype ------------------------------------------------------------------------------------


@dataclass
class _Pattern:
    dtype: str
    pattern: str
    matched: list[str] = field(default_factory=list)  # float weights it matches
    won: int = 0  # how many of them it decided
    taken_by: tuple[str, str] | None = None  # (dtype, pattern) that decided the first weight it matched but did not win
    other_dtypes: list[str] = field(default_factory=list)  # non-float weights it matches (never quantized)


class QuantizationPlan:
    """Decides each weight's quantization dtype and checks, once all weights are seen, that every pattern was useful.

    ``rules`` is an ordered sequence of ``(dtype, patterns)``; for a weight, the first pattern (in rule order, then
    pattern order) that matches its name decides. ``everything`` marks the one-dtype form (``quantize = "uint8"``), for
    which no pattern check applies. ``subject`` (the model, e.g. ``model 'clf' (models/clf.keras)``) and ``origin``
    (where the option was set: ``<key> in <config_file>`` unless given, e.g. ``--quantize``) make errors say where
    to look.
    """

    def __init__(
        self,
        rules: list[tuple[str, list[str]]] | tuple[tuple[str, tuple[str, ...]], ...],
        *,
        everything: bool = False,
        key: str = "quantize",
        subject: str = "the model",
        config_file: str = "pyproject.toml",
        origin: str | None = None,
    ) -> None:
        self.rules = tuple((dtype, tuple(patterns)) for dtype, patterns in rules)
        for dtype, patterns in self.rules:
            if dtype not in _STORAGE:
                raise ValueError(
                    f"unknown quantization dtype {dtype!r}; expected one of {', '.join(QUANTIZATION_DTYPES)}"
                )
            if not patterns:
                raise ValueError(f"no patterns for quantization dtype {dtype!r}")
        self.everything = everything
        self.key = key
        self.subject = subject
        self.origin = origin or f"{key} in {config_file}"
        self._patterns = [_Pattern(dtype, p) for dtype, patterns in self.rules for p in patterns]
        self._float_names: list[str] = []

    # construction ---------------------------------------------------------------------------------------------------

    @classmethod
    def from_option(
        cls,
        value: Any,
        *,
        key: str = "quantize",
        subject: str = "the model",
        config_file: str = "pyproject.toml",
        origin: str | None = None,
    ) -> QuantizationPlan | None:
        """A plan from a ``quantize`` value: ``None``/``False`` (none), a dtype string, a ``{dtype: [patterns]}``
        mapping (in its order), or the configuration's :class:`~hatch_tfjs.options.QuantizationOptions`."""
        if isinstance(value, QuantizationPlan):
            return value
        if value is None or value is False:
            return None
        plan = partial(cls, key=key, subject=subject, config_file=config_file, origin=origin)
        if isinstance(value, QuantizationOptions):
            return plan(value.rules, everything=value.everything)
        if isinstance(value, str):
            return plan([(value, ["*"])], everything=True)
        if isinstance(value, dict):
            return plan([(d, list(p)) for d, p in value.items()])
        raise ValueError(f"unsupported quantize value {value!r}")

    def fresh(self) -> QuantizationPlan:
        """The same plan with no matches recorded (a plan records matches while a model is written)."""
        return QuantizationPlan(
            self.rules, everything=self.everything, key=self.key, subject=self.subject, origin=self.origin
        )

    # use ------------------------------------------------------------------------------------------------------------

    def describe(self) -> str:
        if self.everything:
            return self.rules[0][0]
        return ", ".join(f"{d}: {', '.join(repr(p) for p in ps)}" for d, ps in self.rules)

    def dtype_for(self, name: str, *, is_float: bool = True) -> str | None:
        """The dtype ``name`` is quantized to (``None``: stays as it is); records matches for :meth:`check`."""
        winner: _Pattern | None = None
        for entry in self._patterns:
            if not fnmatch.fnmatchcase(name, entry.pattern):
                continue
            if not is_float:
                entry.other_dtypes.append(name)
                continue
            entry.matched.append(name)
            if winner is None:
                winner = entry
                entry.won += 1
            elif entry.taken_by is None and entry.dtype != winner.dtype:
                entry.taken_by = (winner.dtype, winner.pattern)
        if is_float:
            self._float_names.append(name)
        return winner.dtype if winner is not None else None

    def error(self, message: str) -> QuantizationError:
        return QuantizationError(f"{self.subject}: {message} (set by {self.origin})")

    def check(self) -> None:
        """Raise if a pattern matched no float weight, or only weights an earlier pattern of another dtype took."""
        if self.everything:
            return
        problems: list[str] = []
        for entry in self._patterns:
            label = f"{entry.dtype} pattern {entry.pattern!r}"
            if not entry.matched:
                if entry.other_dtypes:
                    shown = ", ".join(repr(n) for n in entry.other_dtypes[:5])
                    problems.append(
                        f"{label} matches no float weight, only {shown}, which "
                        f"{'is' if len(entry.other_dtypes) == 1 else 'are'} "
                        "not float and never quantized; remove the pattern"
                    )
                else:
                    names = self._float_names
                    shown = ", ".join(repr(n) for n in names[:8]) + (
                        f" and {len(names) - 8} more" if len(names) > 8 else ""
                    )
                    problems.append(
                        f"{label} matches no weight; "
                        + (f"the model's float weights are {shown}" if names else "the model has no float weights")
                        + ' (patterns are shell-style and `*` also matches `/`, e.g. "*/kernel")'
                    )
            elif entry.won == 0 and entry.taken_by is not None:
                other_dtype, other_pattern = entry.taken_by
                problems.append(
                    f"{label}: every weight it matches ({', '.join(repr(n) for n in entry.matched[:5])}"
                    f"{', ...' if len(entry.matched) > 5 else ''}) is also matched by the earlier {other_dtype} "
                    "pattern "
                    f"{other_pattern!r}, and the first match wins, so a weight would be matched by two dtypes; "
                    f"list the {entry.dtype} pattern first or narrow {other_pattern!r}"
                )
        if problems:
            raise self.error("; ".join(problems) if len(problems) == 1 else "\n    " + "\n    ".join(problems))


# --- the manifest entry of one weight ---------------------------------------------------------------------------------


@dataclass
class QuantizationStats:
    """What quantization did to a model's weights (for the build message)."""

    bytes_before: int = 0  # the weights' bytes without quantization
    bytes_after: int = 0
    quantized: int = 0
    max_abs_error: float = 0.0
    max_error_weight: str | None = None


def encode_weight_for_plan(
    name: str, array: np.ndarray, plan: QuantizationPlan | None, stats: QuantizationStats
) -> WeightEntry:
    """Encode one weight, quantized if ``plan`` says so, and add it to ``stats``."""
    array = np.asarray(array)
    is_float = array.dtype.kind == "f"
    dtype = plan.dtype_for(name, is_float=is_float) if plan is not None else None
    unquantized_bytes = int(array.size) * 4 if is_float else None
    if plan is None or dtype is None or array.size == 0:
        entry = encode_weight(name, array)
        size = len(memoryview(entry.data).cast("B"))
        stats.bytes_before += size
        stats.bytes_after += size
        return entry
    try:
        result = quantize_array(array, dtype, name=name)
    except QuantizationError as exc:
        raise plan.error(str(exc)) from None
    spec: dict[str, Any] = {
        "name": name,
        "shape": [int(d) for d in array.shape],
        "dtype": "float32",
        "quantization": result.quantization,
    }
    stats.bytes_before += unquantized_bytes or 0
    stats.bytes_after += result.data.nbytes
    stats.quantized += 1
    if stats.max_error_weight is None or result.max_abs_error > stats.max_abs_error:
        stats.max_abs_error = result.max_abs_error
        stats.max_error_weight = name
    return WeightEntry(spec, result.data.data.cast("B"))
