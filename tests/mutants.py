"""Damaged copies of real Keras files, made deterministically from a seed, for the hostile-source tests.

Every operator takes the bytes of a valid ``.keras`` or ``.h5`` and returns the bytes of a mutant: damage a user's disk
or a careless edit could cause (flipped bytes, a truncated copy, a zeroed range), and damage only a deliberate edit
makes (a config whose sizes, types or nesting Keras never writes, a deleted zip member, a dataset whose declared shape
overflows int64, a broken ``weight_names`` attribute). The mutants are not all invalid: a flipped byte inside a weight
leaves a file that converts, and the tests accept that as long as the result is complete.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np

# Values no Keras config holds where an integer is: zero and negative sizes, sizes whose bytes overflow int64, and
# values of the wrong JSON type.
HOSTILE_VALUES: tuple[Any, ...] = (0, -1, 10**9, 2**40, 2**63, 2**70, 3.5, "x", None, True, [], {}, [1, 2, 3])
# A shape whose element count overflows int64 (HDF5 accepts it for a chunked dataset with nothing stored).
OVERFLOWING_SHAPE = (2**40, 2**40)
DEEP_JSON = b"[" * 200_000 + b"]" * 200_000
MAX_ATTRIBUTE_BYTES = 60_000  # an HDF5 attribute holds < 64 KiB (a cut DEEP_JSON still nests ~1000 times too deep)


@dataclass(frozen=True)
class Mutant:
    path: Path
    base: str  # the file it was made from
    operator: str


# --- byte-level damage (both formats) --------------------------------------------------------------------------------


def flip_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for position in rng.integers(0, len(out), size=int(rng.integers(1, 9))):
        out[position] ^= int(rng.integers(1, 256))
    return bytes(out)


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


def zero_range(data: bytes, rng: np.random.Generator) -> bytes:
    length = int(rng.integers(16, 4097))
    start = int(rng.integers(0, max(1, len(data) - length)))
    return data[:start] + bytes(min(length, len(data) - start)) + data[start + length :]


BYTE_OPERATORS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    "flip": flip_bytes,
    "truncate": truncate,
    "zero_range": zero_range,
}


# --- config edits (config.json of a .keras, model_config of an .h5) ------------------------------------------------


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every ``(path, node)`` of a parsed JSON document."""
    found = [(path, value)]
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found.extend(_paths(child, (*path, key)))
    return found


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def _pick(rng: np.random.Generator, items: list[Any]) -> Any:
    return items[int(rng.integers(0, len(items)))]


def config_value(text: bytes, rng: np.random.Generator) -> bytes:
    """An integer of the config (a size, a kernel size, a shape, a node index) becomes a hostile value."""
    document = json.loads(text)
    numbers = [path for path, node in _paths(document) if isinstance(node, int) and not isinstance(node, bool) and path]
    value = HOSTILE_VALUES[int(rng.integers(0, len(HOSTILE_VALUES)))]
    return json.dumps(_replace(document, _pick(rng, numbers), value)).encode()


def config_type(text: bytes, rng: np.random.Generator) -> bytes:
    """Any node of the config (the whole document included) becomes a value of another JSON type."""
    document = json.loads(text)
    path, _ = _pick(rng, _paths(document))
    replacement = _pick(rng, [[], {}, "x", 0, None, [1, "x"], [[[[[]]]]], {"class_name": 1}])
    return json.dumps(_replace(document, path, replacement)).encode()


def config_text(text: bytes, rng: np.random.Generator) -> bytes:
    """The config's text itself is damaged, or nests arrays 200,000 deep."""
    choice = int(rng.integers(0, 4))
    if choice == 3:
        return DEEP_JSON
    return (flip_bytes, truncate, zero_range)[choice](text, rng)


def _layer_names(document: Any) -> list[str]:
    """The names of every layer of every model in a config (nested models included)."""
    return sorted(
        {
            node["name"] if isinstance(node.get("name"), str) else node["config"]["name"]
            for _, node in _paths(document)
            if isinstance(node, dict) and isinstance(node.get("config"), dict) and "inbound_nodes" in node
            and isinstance(node.get("name", node["config"].get("name")), str)
        }
    )  # fmt: skip


def _is_reference(node: Any, names: list[str]) -> bool:
    return (
        isinstance(node, list) and len(node) in (3, 4) and node[0] in names
        and all(isinstance(v, int) and not isinstance(v, bool) for v in node[1:3])
    )  # fmt: skip


def config_graph(text: bytes, rng: np.random.Generator) -> bytes:
    """The config's layer graph is rewired as a careless or hostile edit would: a tensor reference points at another
    layer, call or output (cycles, dangling references, layers left feeding nothing), the outputs become none, an
    input or another layer, a layer loses its calls, or a recorded shape or a Reshape target changes."""
    document = json.loads(text)
    names = _layer_names(document)
    references = [path for path, node in _paths(document) if _is_reference(node, names)]
    shapes = [path for path, node in _paths(document) if path and path[-1] in ("shape", "target_shape", "input_shape")]
    calls = [path for path, node in _paths(document) if path and path[-1] == "inbound_nodes" and node]
    models = [path for path, node in _paths(document) if path and path[-1] == "output_layers"]
    action = int(rng.integers(0, 4))
    if action == 0 and references:
        path = _pick(rng, references)
        reference = list(_get(document, path))
        index = int(rng.integers(0, 3))
        reference[index] = _pick(rng, names) if index == 0 else int(rng.integers(0, 3))
        return json.dumps(_replace(document, path, reference)).encode()
    if action == 1 and models:
        outputs = _pick(rng, [[], [_pick(rng, names), 0, 0], [[_pick(rng, names), 0, 0]], {}])
        return json.dumps(_replace(document, _pick(rng, models), outputs)).encode()
    if action == 2 and calls:
        return json.dumps(_replace(document, _pick(rng, calls), [])).encode()
    if shapes:
        path = _pick(rng, shapes)
        shape = _get(document, path)
        if isinstance(shape, list) and shape:
            shape = list(shape)
            position = int(rng.integers(0, len(shape)))
            shape[position] = _pick(rng, [1, 2, 5, -1, None])
            return json.dumps(_replace(document, path, shape)).encode()
    return json.dumps(document).encode()


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


CONFIG_OPERATORS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    "config_value": config_value,
    "config_type": config_type,
    "config_text": config_text,
    "config_graph": config_graph,
}


# --- HDF5 edits (model.weights.h5 of a .keras, the .h5 itself) -----------------------------------------------------


def _datasets(handle: h5py.File) -> list[str]:
    names: list[str] = []
    handle.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(names)


def damage_dataset(handle: h5py.File, rng: np.random.Generator) -> None:
    """One dataset is deleted, reshaped, retyped, compressed, made to declare an overflowing shape, linked away, or
    joined by an unexplained neighbour."""
    name = _pick(rng, _datasets(handle))
    values = handle[name][()]
    action = int(rng.integers(0, 7))
    if action == 6:
        handle[name + "_extra"] = np.zeros(3, "float32")
        return
    del handle[name]
    if action == 0:
        return
    if action == 1:
        handle[name] = np.zeros(tuple(d + 1 for d in values.shape) or (2,), values.dtype)
    elif action == 2:
        handle[name] = np.array([b"weights"] * max(1, values.size))
    elif action == 3:
        handle.create_dataset(name, data=np.atleast_1d(values), compression="gzip")
    elif action == 4:
        handle.create_dataset(name, shape=(*values.shape[:-1], 2**62) if values.shape else OVERFLOWING_SHAPE, dtype="float32", chunks=True)
    else:
        handle[name] = h5py.SoftLink("/" + _pick(rng, _datasets(handle) or ["nowhere"]))


def damage_attributes(handle: h5py.File, rng: np.random.Generator) -> None:
    """An attribute Keras reads is removed or replaced: ``weight_names``, ``model_config``, ``keras_version``, or the
    layer name a ``.keras`` store records on a ``vars`` group."""
    holders: list[tuple[str, str]] = []
    handle.visititems(lambda name, obj: holders.extend((name, key) for key in obj.attrs))
    holders.extend(("/", key) for key in handle.attrs)
    if not holders:
        return
    where, key = _pick(rng, holders)
    attrs = handle[where].attrs
    action = int(rng.integers(0, 4))
    if action == 0:
        del attrs[key]
    elif action == 1:
        attrs[key] = np.arange(3)
    elif action == 2:
        attrs[key] = b"\xff\xfe not what was here"
    else:
        current = np.asarray(attrs[key]).ravel().tolist()
        attrs[key] = [b"renamed_" + (v if isinstance(v, bytes) else str(v).encode()) for v in reversed(current)] or [b"x"]


def _edit_hdf5(data: bytes, edit: Callable[[h5py.File, np.random.Generator], None], rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as handle:
        edit(handle, rng)
    return buffer.getvalue()


HDF5_OPERATORS: dict[str, Callable[[h5py.File, np.random.Generator], None]] = {
    "dataset": damage_dataset,
    "attributes": damage_attributes,
}


# --- putting them together ------------------------------------------------------------------------------------------


def _keras_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def mutate_keras(data: bytes, operator: str, rng: np.random.Generator) -> bytes:
    if operator in BYTE_OPERATORS:
        return BYTE_OPERATORS[operator](data, rng)
    members = _keras_members(data)
    if operator in CONFIG_OPERATORS:
        members["config.json"] = CONFIG_OPERATORS[operator](members["config.json"], rng)
    elif operator == "member_deleted":
        del members[_pick(rng, sorted(members))]
    elif operator == "weights_bytes":  # damage inside the archive's HDF5 that the zip checksum does not catch
        members["model.weights.h5"] = _pick(rng, list(BYTE_OPERATORS.values()))(members["model.weights.h5"], rng)
    else:
        members["model.weights.h5"] = _edit_hdf5(members["model.weights.h5"], HDF5_OPERATORS[operator], rng)
    return _zip(members)


def mutate_h5(data: bytes, operator: str, rng: np.random.Generator) -> bytes:
    if operator in BYTE_OPERATORS:
        return BYTE_OPERATORS[operator](data, rng)
    if operator in CONFIG_OPERATORS:
        text_operator = CONFIG_OPERATORS[operator]

        def edit(handle: h5py.File, rng: np.random.Generator) -> None:
            text = handle.attrs["model_config"]
            damaged = text_operator(text.encode() if isinstance(text, str) else bytes(text), rng)[:MAX_ATTRIBUTE_BYTES]
            handle.attrs["model_config"] = np.bytes_(damaged)  # fixed-length: the damage may hold NUL bytes

        return _edit_hdf5(data, edit, rng)
    return _edit_hdf5(data, HDF5_OPERATORS[operator], rng)


KERAS_OPERATORS = (*BYTE_OPERATORS, *CONFIG_OPERATORS, "member_deleted", "weights_bytes", *HDF5_OPERATORS)
H5_OPERATORS = (*BYTE_OPERATORS, *CONFIG_OPERATORS, *HDF5_OPERATORS)


def make_mutants(
    bases: list[Path], directory: Path, *, per_base: int, seed: int, operators: tuple[str, ...] | None = None
) -> list[Mutant]:
    """``per_base`` mutants of each base file, the operators (default: every one that applies) taken in turn, the
    damage drawn from ``seed``: the same call makes the same mutants."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    mutants: list[Mutant] = []
    for base in bases:
        data = base.read_bytes()
        keras_file = base.suffix == ".keras"
        applicable = operators or (KERAS_OPERATORS if keras_file else H5_OPERATORS)
        for index in range(per_base):
            operator = applicable[index % len(applicable)]
            mutated = (mutate_keras if keras_file else mutate_h5)(data, operator, rng)
            path = directory / f"{base.stem}_{base.suffix[1:]}_{index:03d}_{operator}{base.suffix}"
            path.write_bytes(mutated)
            mutants.append(Mutant(path, base.name, operator))
    return mutants
