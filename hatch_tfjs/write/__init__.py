"""Write stage: ``model.json`` + binary weight shards, deterministic and atomic."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatch_tfjs.atomic import replace_directory
from hatch_tfjs.neutral import Weight
from hatch_tfjs.ownership import STAMP_NAME
from hatch_tfjs.write.model_json import dump_model_json, graph_model_json, layers_model_json
from hatch_tfjs.write.quantize import QuantizationPlan, QuantizationStats, encode_weight_for_plan
from hatch_tfjs.write.shards import WeightEntry, encode_weight, write_weight_shards

__all__ = [
    "QuantizationPlan",
    "WeightEntry",
    "WrittenModel",
    "dump_model_json",
    "encode_weight",
    "graph_model_json",
    "layers_model_json",
    "replace_directory",
    "write_model_dir",
    "write_weight_shards",
]


@dataclass(frozen=True)
class WrittenModel:
    files: list[str]  # model.json first, then the shards in manifest order
    weight_bytes: int
    total_bytes: int
    weight_bytes_before: int = 0  # what the weights would take unquantized (== weight_bytes without quantization)
    quantized_weights: int = 0  # how many weights were quantized
    max_abs_error: float = 0.0  # largest |dequantized - original| over every quantized weight
    max_error_weight: str | None = None  # the weight where that error occurs


def mark_as_written(directory: Path, sizes: dict[str, int]) -> None:
    """The least a model directory carries: the stamp file listing what was written, which marks the directory as
    hatch-tfjs's own (see ownership.py). The plan stage's ``seal`` writes a full stamp instead."""
    (directory / STAMP_NAME).write_text(json.dumps({"files": dict(sorted(sizes.items()))}, indent=1) + "\n", "utf-8")


def write_model_dir(
    output: Path,
    document: dict[str, Any],
    weights: Iterable[Weight],
    *,
    shard_size: int,
    quantize: QuantizationPlan | str | dict[str, Any] | None = None,
    seal: Callable[[Path, dict[str, int]], None] | None = None,
    replace_foreign: bool = False,
) -> WrittenModel:
    """Atomically (re)place ``output`` with ``model.json`` + shards.

    ``document`` is the model.json without ``weightsManifest``; the manifest is appended as its last key.
    ``shard_size`` 0 writes one shard holding every weight. ``quantize`` is a :class:`QuantizationPlan` (e.g.
    ``QuantizationPlan.from_option(spec.options.quantization)``) or a raw ``quantize`` option value; only float
    weights are quantized.
    Weights are encoded (and quantized) and written one at a time, so memory stays near one tensor beyond the model
    itself. A quantize pattern that matched no weight raises :class:`~hatch_tfjs.write.quantize.QuantizationError`
    after the weights are seen, and the output is left as it was.

    ``seal(staging, sizes)`` (default :func:`mark_as_written`) is called with the finished staging directory and
    every file's size before it replaces
    ``output``, so a file it adds there (the plan stage's stamp) arrives together with the model, never after it.
    ``replace_foreign`` lets an explicit ``--force`` replace a directory hatch-tfjs did not write (see atomic.py).
    """
    plan = QuantizationPlan.from_option(quantize)
    plan = plan.fresh() if plan is not None else None
    stats = QuantizationStats()
    with replace_directory(output, replace_foreign=replace_foreign) as staging:
        manifest, weight_bytes = write_weight_shards(
            staging, (encode_weight_for_plan(w.name, w.array, plan, stats) for w in weights), shard_size
        )
        if plan is not None:
            plan.check()
        payload = dump_model_json({**document, "weightsManifest": manifest})
        (staging / "model.json").write_bytes(payload)
        files = ["model.json", *manifest[0]["paths"]]
        (seal or mark_as_written)(staging, {name: (staging / name).stat().st_size for name in files})
    return WrittenModel(
        files=files,
        weight_bytes=weight_bytes,
        total_bytes=weight_bytes + len(payload),
        weight_bytes_before=stats.bytes_before,
        quantized_weights=stats.quantized,
        max_abs_error=stats.max_abs_error,
        max_error_weight=stats.max_error_weight,
    )
