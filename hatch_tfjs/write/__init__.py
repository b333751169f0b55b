"""Write stage: ``model.json`` + binary weight shards, deterministic and atomic."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from hatch_tfjs.neutral import Weight
from hatch_tfjs.write.atomic import replace_directory
from hatch_tfjs.write.model_json import dump_model_json, graph_model_json, layers_model_json
from hatch_tfjs.write.shards import WeightEntry, encode_weight, write_weight_shards

__all__ = [
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


def write_model_dir(
    output: Path,
    document: dict[str, Any],
    weights: Iterable[Weight],
    *,
    shard_size: int,
) -> WrittenModel:
    """Atomically (re)place ``output`` with ``model.json`` + shards.

    ``document`` is the model.json without ``weightsManifest``; the manifest is appended as its last key.
    Weights are encoded and written one at a time, so memory stays near one tensor beyond the model itself.
    """
    with replace_directory(output) as staging:
        manifest, weight_bytes = write_weight_shards(
            staging, (encode_weight(w.name, w.array) for w in weights), shard_size
        )
        payload = dump_model_json({**document, "weightsManifest": manifest})
        (staging / "model.json").write_bytes(payload)
        files = ["model.json", *manifest[0]["paths"]]
    return WrittenModel(files=files, weight_bytes=weight_bytes, total_bytes=weight_bytes + len(payload))
