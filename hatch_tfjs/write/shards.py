"""Weight shards as TF.js reads them: one group, entries concatenated, cut into fixed-size files."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from hatch_tfjs.errors import ConversionError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class WeightEntry:
    """A manifest entry plus the bytes that go into the shards for it."""

    spec: dict[str, Any]
    data: bytes | memoryview


def tfjs_array(name: str, array: np.ndarray) -> tuple[str, np.ndarray | list[bytes]]:
    """The dtype TF.js reads and the little-endian data for one weight."""
    array = np.asarray(array)
    kind = array.dtype.kind
    if kind == "f":
        return "float32", np.ascontiguousarray(array, dtype="<f4")
    if kind == "b":
        return "bool", np.ascontiguousarray(array, dtype=np.uint8)
    if kind in "iu":
        if array.size and (array.min() < INT32_MIN or array.max() > INT32_MAX):
            raise ConversionError(f"weight {name!r} holds integers outside the int32 range TF.js supports")
        return "int32", np.ascontiguousarray(array, dtype="<i4")
    if kind == "c":
        return "complex64", np.ascontiguousarray(array, dtype="<c8")
    if kind in "OSU":
        return "string", [_to_bytes(v) for v in array.reshape(-1).tolist()]
    raise ConversionError(f"weight {name!r} has dtype {array.dtype}, which TF.js cannot read")


def _to_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def encode_weight(name: str, array: np.ndarray) -> WeightEntry:
    dtype, data = tfjs_array(name, array)
    spec: dict[str, Any] = {"name": name, "shape": [int(d) for d in np.shape(array)], "dtype": dtype}
    if isinstance(data, list):  # dtype "string"
        payload = b"".join(struct.pack("<I", len(b)) + b for b in data)
        return WeightEntry(spec, payload)
    # Flat bytes: a memoryview of a multi-dimensional array with a 0 in its shape cannot be cast to bytes.
    return WeightEntry(spec, data.reshape(-1).view(np.uint8).data)


class _ShardWriter:
    """Streams bytes into ``group1-shard{i}ofN.bin`` files of exactly ``shard_size`` bytes (the last one shorter)."""

    def __init__(self, directory: Path, shard_size: int) -> None:
        self.directory = directory
        self.shard_size = shard_size
        self.paths: list[Path] = []
        self._handle: BinaryIO | None = None
        self._filled = 0

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while len(view):
            handle = self._handle
            if handle is None or (self.shard_size and self._filled >= self.shard_size):
                handle = self._open_next()
            room = len(view) if not self.shard_size else self.shard_size - self._filled
            chunk = view[:room]
            handle.write(chunk)
            self._filled += len(chunk)
            view = view[len(chunk):]

    def _open_next(self) -> BinaryIO:
        if self._handle is not None:
            self._handle.close()
        path = self.directory / f".shard{len(self.paths) + 1}.part"
        self.paths.append(path)
        self._handle = handle = path.open("wb")
        self._filled = 0
        return handle

    def close(self) -> list[str]:
        if self._handle is not None:
            self._handle.close()
        names: list[str] = []
        count = len(self.paths)
        for index, path in enumerate(self.paths, start=1):
            name = f"group1-shard{index}of{count}.bin"
            path.rename(self.directory / name)
            names.append(name)
        return names


def write_weight_shards(
    directory: Path, entries: Iterable[WeightEntry], shard_size: int
) -> tuple[list[dict[str, Any]], int]:
    """Write the shards of one weight group; return its manifest (``[{"paths", "weights"}]``) and its byte count.

    ``shard_size`` 0 writes a single shard. Entries are consumed one at a time, so only one is held in memory here.
    """
    writer = _ShardWriter(Path(directory), shard_size)
    specs: list[dict[str, Any]] = []
    total = 0
    names = set()
    for entry in entries:
        name = entry.spec["name"]
        if name in names:
            raise ConversionError(f"two weights are named {name!r}; TF.js needs unique weight names")
        names.add(name)
        specs.append(entry.spec)
        writer.write(entry.data)
        total += len(memoryview(entry.data).cast("B"))
        del entry  # release this entry's bytes before the next one is encoded (streaming: one entry at a time)
    paths = writer.close()
    return [{"paths": paths, "weights": specs}], total
