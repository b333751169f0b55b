"""Drive real TensorFlow.js 4.22 from the tests, in Node on its pure-JS ``cpu`` backend (the default) or its ``wasm``
backend (@tensorflow/tfjs-backend-wasm, the npm package's own .wasm files): one Node process for many models."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

JS_DIR = Path(__file__).parent / "js"


class TfjsError(RuntimeError):
    """TF.js refused to load or run a model."""


class TfjsRunner:
    def __init__(self) -> None:
        if not (JS_DIR / "node_modules" / "@tensorflow" / "tfjs").is_dir():
            raise RuntimeError(f"@tensorflow/tfjs is not installed: run `npm ci --prefix {JS_DIR}` (the README's test command does)")
        self._proc = subprocess.Popen(
            ["node", str(JS_DIR / "tfjs_runner.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=JS_DIR,
        )
        self._next = 0

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._next += 1
        payload = {"id": self._next, **payload}
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(payload) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the TF.js runner exited")
        answer = json.loads(line)
        if not answer["ok"]:
            raise TfjsError(answer["error"])
        return answer

    def run(
        self, model_dir: Path, inputs: list[np.ndarray], *, format: str = "layers", backend: str = "cpu", **extra: Any
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        encoded = [
            {"shape": list(a.shape), "dtype": "string", "values": [str(v) for v in a.reshape(-1).tolist()]}
            if a.dtype.kind in "USO"
            else {
                "shape": list(a.shape),
                "dtype": "int32" if a.dtype.kind in "iu" else "float32",
                "data": base64.b64encode(
                    np.ascontiguousarray(a, dtype="<i4" if a.dtype.kind in "iu" else "<f4").tobytes()
                ).decode(),
            }
            for a in inputs
        ]
        answer = self.request({"dir": str(model_dir), "format": format, "inputs": encoded, "backend": backend, **extra})
        if answer["backend"] != backend:
            raise RuntimeError(f"asked for TF.js backend {backend!r}, the runner used {answer['backend']!r}")
        outputs = [
            np.frombuffer(base64.b64decode(o["data"]), dtype="<i4" if o["dtype"] == "int32" else "<f4").reshape(o["shape"])
            for o in answer["outputs"]
        ]
        return outputs, answer

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=30)
