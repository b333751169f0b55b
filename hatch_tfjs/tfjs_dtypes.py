"""The dtypes TF.js 4.22 dequantizes weights from when it loads a model, the only ones the writer quantizes to.

``write/quantize.py`` writes these; the configuration checks ``quantize`` values against them. They live apart from
the writer because the configuration must check a project's options without numpy, which the writer needs.
"""

from __future__ import annotations

QUANTIZATION_DTYPES = ("float16", "uint8", "uint16")
