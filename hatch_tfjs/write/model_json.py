"""``model.json`` documents, serialised deterministically."""

from __future__ import annotations

import json
from typing import Any

from hatch_tfjs import __version__

CONVERTED_BY = f"hatch-tfjs v{__version__}"


def layers_model_json(
    model_config: dict[str, Any],
    *,
    keras_version: str,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": "layers-model",
        "generatedBy": f"keras v{keras_version}",
        "convertedBy": CONVERTED_BY,
    }
    if metadata:
        document["userDefinedMetadata"] = metadata
    document["modelTopology"] = {
        "keras_version": keras_version,
        "backend": "tensorflow",
        "model_config": model_config,
    }
    return document


def graph_model_json(
    model_topology: dict[str, Any],
    signature: dict[str, Any],
    *,
    generated_by: str,
    metadata: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A graph-model document (without ``weightsManifest``); ``extra`` carries modelInitializer and friends."""
    document: dict[str, Any] = {
        "format": "graph-model",
        "generatedBy": generated_by,
        "convertedBy": CONVERTED_BY,
        "signature": signature,
        "modelTopology": model_topology,
    }
    if metadata:
        document["userDefinedMetadata"] = metadata
    document.update(extra or {})
    return document


def dump_model_json(document: dict[str, Any]) -> bytes:
    """Compact, byte-stable JSON (insertion order is the order we build; no NaN)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
