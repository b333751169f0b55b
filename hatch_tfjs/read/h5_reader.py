"""Read ``.keras`` and ``.h5`` Keras files with h5py + numpy alone: no TensorFlow, no Keras.

Produces the same neutral :class:`~hatch_tfjs.neutral.KerasModel` as :mod:`hatch_tfjs.read.keras_tf`: the config as
the file stores it (``config.json`` of a ``.keras`` zip, the ``model_config`` attribute of an ``.h5``) and the weights
named ``<layer>/<sublayer...>/<weight>`` in Keras's own order, with the same shapes, dtypes and bytes.

Where each variable sits in the file comes from :mod:`hatch_tfjs.read.layouts` (which variables each layer class owns)
and from how Keras lays files out:

- ``.keras`` (Keras 3): ``model.weights.h5`` inside the zip. A model's layers are at ``layers/<name>`` where ``<name>``
  is the snake-case class name made unique per container (``dense``, ``dense_1``, ...; a Sequential's leading
  InputLayer is not among its layers); sublayers sit under the attribute that holds them (``cell``,
  ``forward_layer``, ``backward_layer``, ``layer``); nested models under ``layers/<functional|sequential>/layers/``;
  a layer's variables are ``vars/0``, ``vars/1``, ... in creation order.
- ``.h5`` (Keras 3 legacy and Keras 2): ``model_weights/<top-level layer name>`` lists its datasets in the
  ``weight_names`` attribute, in the legacy order ``trainable_weights + non_trainable_weights``.

A functional config also lists the Keras ops called on symbolic tensors (``x + 3.0``); they are not layers, so they
take no store name. Everything the file says is checked against what the config implies (presence, count, shape,
dtype, the recorded layer names) and against the size of the file, from HDF5 metadata before any value is read; the
config itself must have the structure later stages rely on (:mod:`hatch_tfjs.read.structure`). Any disagreement, and
anything h5py, zipfile or json raise on damaged bytes, is one :class:`~hatch_tfjs.errors.ModelReadError` naming the
file and the model. A file this reader cannot map is never turned into a model with wrong weights; when only checking
a file for Keras (:func:`check_keras_file`), such parts are left to Keras and everything else is still checked.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np

from hatch_tfjs.errors import ModelReadError
from hatch_tfjs.keras_names import MODEL_CLASSES, is_operation, snake_case
from hatch_tfjs.neutral import KerasModel, Weight
from hatch_tfjs.read import layouts
from hatch_tfjs.read.layer_graph import graph_problem
from hatch_tfjs.read.layouts import Layout, LayoutError, Slot
from hatch_tfjs.read.structure import config_problem

MAX_JSON_BYTES = 64 * 1024 * 1024  # config.json / metadata.json / model_config
MAX_EXPANSION = 100  # a deflated zip member may grow at most this much ...
EXPANSION_FLOOR = 64 * 1024 * 1024  # ... unless it stays below this size
ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
FALLBACK_HINT = 'if the file loads in Keras, set reader = "keras" on this model to convert it through TensorFlow'
RESAVE_HINT = "if you have the model, re-save it with model.save('model.keras'); otherwise do not convert this file"
REFUSE_HINT = "do not convert this file"
MISMATCH_HINT = "the file does not match its config; do not convert it"
_SAFE_DTYPE_KINDS = "fiub"
# What h5py raises when the HDF5 bytes are damaged: a bad superblock, a broken B-tree or heap, a truncated chunk, an
# attribute that cannot be decoded (KeyError "Unable to open object", RuntimeError "Unable to get link info", ...).
HDF5_PARSE_ERRORS = (OSError, KeyError, RuntimeError, ValueError)
# How long parsing the HDF5 metadata of a file may take (milliseconds for any real model) before it counts as a hang.
HDF5_PARSE_SECONDS = 30.0
_T = TypeVar("_T")


def read_with_h5py(source: Path, *, model_name: str, display: str | None = None) -> KerasModel:
    """Read a ``.keras`` or ``.h5`` file into a :class:`KerasModel` without TensorFlow."""
    reader = _Reader(Path(source), model_name, display or str(source))
    return reader.read()


def check_keras_file(source: Path, *, model_name: str, display: str | None = None) -> None:
    """Check a ``.keras`` or ``.h5`` file as :func:`read_with_h5py` reads it, without reading any weight data.

    Raises :class:`ModelReadError` for a damaged or malformed file and for any variable whose stored shape, dtype or
    size disagrees with what the config implies. Parts this reader cannot map (a layer class outside its table, a
    store layout from another Keras) are left unchecked: whoever loads the file next (Keras) judges those.
    """
    try:
        _Reader(Path(source), model_name, display or str(source), load_data=False).read()
    except _UnmappableError:
        return


class _UnmappableError(ModelReadError):
    """This reader cannot map the file (not: the file is wrong); Keras may still load it."""


class _Reader:
    def __init__(self, source: Path, model_name: str, display: str, *, load_data: bool = True) -> None:
        self.source = source
        self.model_name = model_name
        self.display = display
        self.load_data = load_data  # False: check everything but read no weight values
        # Where the HDF5 bytes lie in a file on disk (the .h5 itself, or a stored .keras member), so that plain
        # contiguous datasets can be memory-mapped instead of copied; None when they were extracted to a spool file.
        self.hdf5_offset_in_source: int | None = None
        self.hdf5_size = 0  # how many bytes of HDF5 there are: no dataset can hold more
        self.trial_passed = False  # the whole file was already parsed by a fresh-interpreter trial

    # --- errors --------------------------------------------------------------------------------------------------

    def error(self, message: str, *, hint: str | None) -> ModelReadError:
        return ModelReadError(self._text(message, hint))

    def unmappable(self, message: str) -> ModelReadError:
        """The reader does not know how to map this; the fix may be reading the file through Keras."""
        return _UnmappableError(self._text(message, FALLBACK_HINT))

    def _text(self, message: str, hint: str | None) -> str:
        text = f"{self.display}: cannot read model '{self.model_name}': {message}"
        return f"{text}; {hint}" if hint else text

    @contextmanager
    def parsing(self, what: str) -> Iterator[None]:
        """Turn what h5py raises on damaged HDF5 bytes into one error naming the file (the cause stays chained)."""
        try:
            yield
        except HDF5_PARSE_ERRORS as exc:
            cause = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise self.error(f"{what} is damaged ({type(exc).__name__}: {cause})", hint=RESAVE_HINT) from exc

    # --- entry point ---------------------------------------------------------------------------------------------

    def read(self) -> KerasModel:
        try:
            with self.source.open("rb") as handle:
                head = handle.read(8)
        except OSError as exc:
            raise self.error(f"the file cannot be opened ({exc.strerror or exc})", hint=None) from exc
        if head.startswith(ZIP_MAGIC):
            return self._read_keras_zip()
        if head.startswith(HDF5_MAGIC):
            return self._read_legacy_h5()
        if self.source.suffix.lower() == ".keras" and head[:2] == b"PK":
            return self._read_keras_zip()
        raise self.error(
            "it is neither a .keras archive (zip) nor an HDF5 .h5 file; save the model with model.save('model.keras')",
            hint=None,
        )

    def checked_config(self, config: Any, what: str) -> dict[str, Any]:
        """The parsed config, once it has the structure every later stage relies on."""
        problem = config_problem(config) or graph_problem(config)
        if problem:
            raise self.error(f"{what} is malformed: {problem}", hint=RESAVE_HINT)
        checked: dict[str, Any] = config
        return checked

    # --- .keras --------------------------------------------------------------------------------------------------

    def _read_keras_zip(self) -> KerasModel:
        import h5py

        try:
            archive = zipfile.ZipFile(self.source)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise self.error(f"the .keras archive is damaged ({exc})", hint=RESAVE_HINT) from exc
        with ExitStack() as stack:
            stack.enter_context(archive)
            members = self._check_members(archive)
            if "config.json" not in members:
                raise self.error("the archive has no config.json; it is not a Keras 3 model file", hint=RESAVE_HINT)
            config = self.checked_config(self._json_member(archive, members["config.json"]), "config.json")
            if "model.weights.h5" not in members:
                if "model.weights.json" in members:
                    raise self.unmappable(
                        "its weights are sharded (model.weights.json), which this reader does not read"
                    )
                raise self.error(
                    "the archive has no model.weights.h5; it is not a Keras 3 model file", hint=RESAVE_HINT
                )
            metadata = self._json_member(archive, members["metadata.json"]) if "metadata.json" in members else {}
            keras_version = str(metadata.get("keras_version") or "3") if isinstance(metadata, dict) else "3"
            if not keras_version.startswith("3"):
                raise self.unmappable(
                    f"metadata.json says Keras {keras_version}; .keras files of that version are not known to this "
                    "reader"
                )
            fileobj = self._open_weights(archive, members["model.weights.h5"], stack)
            self.hdf5_size = members["model.weights.h5"].file_size
            weights = self.parse_hdf5(
                "model.weights.h5 inside the archive",
                lambda: h5py.File(fileobj, "r"),
                lambda store: _KerasStore(self, store).read(config),
            )
        return KerasModel(config=config, weights=weights, keras_version=keras_version, source=str(self.source))

    def _check_members(self, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
        members: dict[str, zipfile.ZipInfo] = {}
        archive_size = self.source.stat().st_size
        for info in archive.infolist():
            name = info.filename
            parts = name.split("/")
            if (
                not name
                or name.startswith("/")
                or "\\" in name
                or "\x00" in name
                or re.match(r"^[A-Za-z]:", name)
                or ".." in parts
            ):
                raise self.error(
                    f"the archive holds an entry with an unsafe path {name!r} (absolute or with '..')", hint=REFUSE_HINT
                )
            if name in members:
                raise self.error(f"the archive holds {name!r} twice", hint=REFUSE_HINT)
            if info.flag_bits & 0x1:
                raise self.error(f"archive entry {name!r} is encrypted", hint=None)
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.error(
                    f"archive entry {name!r} uses an unsupported compression method ({info.compress_type})",
                    hint=RESAVE_HINT,
                )
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise self.error(
                    f"archive entry {name!r} declares {info.file_size} bytes but stores {info.compress_size}",
                    hint=REFUSE_HINT,
                )
            if info.compress_size > archive_size:
                raise self.error(
                    f"archive entry {name!r} declares more bytes ({info.compress_size}) than the archive has "
                    f"({archive_size})",
                    hint=REFUSE_HINT,
                )
            if info.file_size > max(EXPANSION_FLOOR, MAX_EXPANSION * info.compress_size):
                raise self.error(
                    f"archive entry {name!r} declares {info.file_size} bytes from {info.compress_size} compressed "
                    "(a zip bomb?)",
                    hint=REFUSE_HINT,
                )
            members[name] = info
        return members

    def _json_member(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
        if info.file_size > MAX_JSON_BYTES:
            raise self.error(
                f"{info.filename} declares {info.file_size} bytes, more than a model config can be", hint=REFUSE_HINT
            )
        try:
            with archive.open(info) as handle:
                data = handle.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as exc:
            raise self.error(f"{info.filename} in the archive is damaged ({exc})", hint=RESAVE_HINT) from exc
        if len(data) > info.file_size:
            raise self.error(f"{info.filename} holds more bytes than it declares", hint=REFUSE_HINT)
        return self._parse_json(data, info.filename)

    def _parse_json(self, data: bytes | str, what: str) -> Any:
        try:
            return json.loads(data)
        except RecursionError as exc:
            raise self.error(f"{what} nests its JSON too deeply to be a model config", hint=REFUSE_HINT) from exc
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise self.error(f"{what} is not valid JSON ({exc})", hint=RESAVE_HINT) from exc

    def _open_weights(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, stack: ExitStack) -> BinaryIO:
        """A seekable view of model.weights.h5: the bytes in place when stored, else a size-capped extraction."""
        if info.compress_type == zipfile.ZIP_STORED:
            handle = stack.enter_context(self.source.open("rb"))
            handle.seek(info.header_offset)
            header = handle.read(30)
            if len(header) != 30 or header[:4] != ZIP_MAGIC:
                raise self.error("the archive's entry for model.weights.h5 is damaged", hint=RESAVE_HINT)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            if start + info.file_size > self.source.stat().st_size:
                raise self.error("model.weights.h5 extends past the end of the archive", hint=REFUSE_HINT)
            window = _Window(handle, start, info.file_size)
            crc = 0
            while True:
                chunk = window.read(1 << 20)
                if not chunk:
                    break
                crc = zlib.crc32(chunk, crc)
            if crc != info.CRC:
                raise self.error("model.weights.h5 fails its checksum (the archive is damaged)", hint=RESAVE_HINT)
            window.seek(0)
            self.hdf5_offset_in_source = start
            return io.BufferedReader(window, buffer_size=1 << 16)
        spool = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the ExitStack closes it
        written = 0
        try:
            with archive.open(info) as member:
                while True:
                    chunk = member.read(1 << 20)
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > info.file_size:
                        raise self.error("model.weights.h5 holds more bytes than it declares", hint=REFUSE_HINT)
                    spool.write(chunk)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise self.error(f"model.weights.h5 in the archive is damaged ({exc})", hint=RESAVE_HINT) from exc
        spool.seek(0)
        return spool

    # --- .h5 -----------------------------------------------------------------------------------------------------

    def _read_legacy_h5(self) -> KerasModel:
        import h5py

        self.hdf5_offset_in_source = 0
        self.hdf5_size = self.source.stat().st_size
        return self.parse_hdf5("the HDF5 file", lambda: h5py.File(self.source, "r"), self._legacy_model)

    def _legacy_model(self, handle: Any) -> KerasModel:
        import h5py

        raw = handle.attrs.get("model_config")
        if raw is None:
            raise self.error(
                "the .h5 file has no model_config: it holds weights only (model.save_weights)",
                hint="save the whole model with model.save('model.keras')",
            )
        if isinstance(raw, np.ndarray) and raw.shape == ():
            raw = raw.item()
        if isinstance(raw, bytes):
            if len(raw) > MAX_JSON_BYTES:
                raise self.error("model_config is larger than a model config can be", hint=REFUSE_HINT)
        elif not isinstance(raw, str):
            raise self.error(f"model_config is a {type(raw).__name__}, not JSON text", hint=RESAVE_HINT)
        elif not _is_utf8(raw):  # h5py decodes invalid UTF-8 bytes into lone surrogates, which no JSON writer takes
            raise self.error("model_config is not valid UTF-8 text", hint=RESAVE_HINT)
        config = self.checked_config(self._parse_json(raw, "model_config"), "model_config")
        version = handle.attrs.get("keras_version", b"")
        if isinstance(version, str):  # h5py hands undecodable bytes over as surrogates, which UTF-8 cannot write
            version = version.encode("utf-8", "surrogateescape")
        keras_version = version.decode("utf-8", "replace") if isinstance(version, bytes) else str(version)
        group = handle.get("model_weights", getlink=True)
        if not isinstance(group, h5py.HardLink) or not isinstance(handle["model_weights"], h5py.Group):
            raise self.error(
                "the .h5 file has no model_weights group", hint="save the whole model with model.save('model.keras')"
            )
        weights = _LegacyStore(self, handle["model_weights"]).read(config)
        return KerasModel(config=config, weights=weights, keras_version=keras_version or "2", source=str(self.source))

    # --- HDF5 parsing, guarded ---------------------------------------------------------------------------------------

    def parse_hdf5(self, what: str, open_file: Callable[[], Any], parse: Callable[[Any], _T]) -> _T:
        """``parse(handle)`` of the HDF5 file ``open_file()`` opens, after a trial run in a child process.

        HDF5 is not hardened against damaged files: some make it loop forever or crash the process, inside one C
        call that holds the GIL, where no signal handler or thread can step in. The same parse (without reading any
        weight data) therefore runs first in a forked child under a deadline; only once the child has finished,
        whatever it found, does this process parse the same bytes itself."""
        self._trial_in_child(what, lambda: self._parse_hdf5(what, open_file, parse))
        return self._parse_hdf5(what, open_file, parse)

    def _parse_hdf5(self, what: str, open_file: Callable[[], Any], parse: Callable[[Any], _T]) -> _T:
        with self.parsing(what), open_file() as handle:
            return parse(handle)

    def _trial_in_child(self, what: str, work: Callable[[], object]) -> None:
        if self.trial_passed or not hasattr(os, "fork"):
            return  # already tried in a fresh interpreter; or no fork (Windows)
        if not _fork_is_safe():
            self._trial_in_fresh_interpreter()
            return
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code, never flushes the parent's buffers
            try:
                self.load_data = False
                work()
            finally:
                os._exit(0)
        try:
            status = _wait(pid, HDF5_PARSE_SECONDS)
        finally:
            _reap(pid)
        if status is None:
            raise self.error(
                f"{what} is damaged: the HDF5 library found no end parsing it ({HDF5_PARSE_SECONDS:.0f} s)",
                hint=RESAVE_HINT,
            )
        if os.WIFSIGNALED(status):
            raise self.error(
                f"{what} is damaged: the HDF5 library crashed parsing it (signal {os.WTERMSIG(status)})",
                hint=RESAVE_HINT,
            )

    def _trial_in_fresh_interpreter(self) -> None:
        """The trial of the whole file (:func:`check_keras_file`) in a new Python process, where forking is unsafe
        (TensorFlow or another framework is loaded, or threads run): a child forked from such a process can crash on
        state it inherited, and a valid model would then be refused."""
        arguments = [str(self.source), self.model_name, self.display, str(HDF5_PARSE_SECONDS)]
        command = [sys.executable, "-c", _TRIAL_LAUNCHER, *arguments]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=2 * HDF5_PARSE_SECONDS, check=False)  # noqa: S603 - our own interpreter and module, no shell
        except subprocess.TimeoutExpired as exc:
            raise self.error(
                f"the file is damaged: the HDF5 library found no end parsing it ({2 * HDF5_PARSE_SECONDS:.0f} s)",
                hint=RESAVE_HINT,
            ) from exc
        if proc.returncode < 0:
            raise self.error(
                f"the file is damaged: the HDF5 library crashed parsing it (signal {-proc.returncode})",
                hint=RESAVE_HINT,
            )
        if proc.returncode == _TRIAL_REFUSED:
            raise ModelReadError(proc.stderr.strip().splitlines()[-1])
        self.trial_passed = True  # (any other outcome: this process's own parse reports what it finds)


_TRIAL_REFUSED = 3  # exit status of a fresh-interpreter trial that refused the file (its message on stderr)
# ``python -c`` puts the current directory first on sys.path: drop it before importing (a user's json.py, ...).
_TRIAL_LAUNCHER = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from hatch_tfjs.read.h5_reader import trial_main; raise SystemExit(trial_main(sys.argv[1:]))"
)


def trial_main(argv: list[str]) -> int:
    """Entry point of the fresh-interpreter trial: ``SOURCE MODEL_NAME DISPLAY SECONDS``; exit 0, or 3 with the
    message (``SECONDS``: the parent's parse deadline)."""
    global HDF5_PARSE_SECONDS  # noqa: PLW0603 - this process exists to run this one check under the parent's deadline
    source, model_name, display, seconds = argv
    HDF5_PARSE_SECONDS = float(seconds)
    try:
        check_keras_file(Path(source), model_name=model_name, display=display)
    except ModelReadError as exc:
        print(exc, file=sys.stderr)
        return _TRIAL_REFUSED
    return 0


def _fork_is_safe() -> bool:
    """A forked child holds only the calling thread. With other threads, or a framework whose native threads and
    library state the child inherits half-way (TensorFlow, Keras, PyTorch, JAX), it can deadlock or crash."""
    frameworks = ("tensorflow", "keras", "torch", "jax")
    return threading.active_count() == 1 and not any(name in sys.modules for name in frameworks)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _wait(pid: int, seconds: float) -> int | None:
    """The child's wait status, or None when it has not ended within ``seconds``."""
    deadline = time.monotonic() + seconds
    pause = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _reap(pid: int) -> None:
    """Kill the child if it still runs (a deadline passed, or this process was interrupted) and collect it."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass  # already collected


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes of ``handle`` starting at ``start``."""

    def __init__(self, handle: io.BufferedIOBase, start: int, size: int) -> None:
        self._handle = handle
        self._start = start
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self._size - self._pos))
        if count == 0:
            return 0
        self._handle.seek(self._start + self._pos)
        got = self._handle.readinto(view[:count])
        self._pos += got or 0
        return got or 0


# --- the two stores ----------------------------------------------------------------------------------------------


def _model_layers(entry: dict[str, Any]) -> list[dict[str, Any]] | None:
    cfg = entry.get("config")
    layers = cfg.get("layers") if isinstance(cfg, dict) else None
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        return None
    return layers


def _is_model(entry: dict[str, Any]) -> bool:
    return entry.get("class_name") in MODEL_CLASSES and _model_layers(entry) is not None


def _entry_name(entry: dict[str, Any]) -> str:
    cfg: dict[str, Any] = entry["config"] if isinstance(entry.get("config"), dict) else {}
    return str(cfg.get("name") or entry.get("name") or "?")


def _trainable(entry: dict[str, Any]) -> bool:
    cfg: dict[str, Any] = entry["config"] if isinstance(entry.get("config"), dict) else {}
    value = cfg.get("trainable", True)
    return True if value is None else bool(value)


class _Store:
    """What both file layouts share: the config walk, dataset checks and the resulting weight list."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.weights: list[Weight] = []
        self.names: set[str] = set()

    def error(self, message: str, *, hint: str | None) -> ModelReadError:
        return self.reader.error(message, hint=hint)

    def unmappable(self, message: str) -> ModelReadError:
        return self.reader.unmappable(message)

    def tolerating_unmappable(self, step: Callable[[], None]) -> bool:
        """Run one layer's (or one final) step; False when it was skipped. When only checking, a part this reader
        cannot map is left to Keras, which loads the file next, and every other layer is still checked; when reading,
        it is an error."""
        try:
            step()
        except _UnmappableError:
            if self.reader.load_data:
                raise
            return False
        return True

    def layout(self, entry: dict[str, Any], parent_trainable: bool) -> Layout:
        where = f"layer '{_entry_name(entry)}' ({entry.get('class_name')})"
        try:
            layout = layouts.layer_layout(entry, parent_trainable=parent_trainable)
        except LayoutError as exc:
            raise self.error(f"the config is malformed: {exc}", hint=RESAVE_HINT) from exc
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            # A config value of a type Keras never writes there; the cause is kept for a bug report all the same.
            raise self.error(
                f"the config of {where} is malformed ({type(exc).__name__}: {exc})", hint=RESAVE_HINT
            ) from exc
        if layout.unmapped:
            raise self.unmappable(layout.unmapped)
        return layout

    def add(self, name: str, array: np.ndarray | None, where: str) -> None:
        """Record a weight (``array`` is None when only checking: the name must still be unique)."""
        if name in self.names:
            raise self.error(
                f"{where}: two variables would both be named {name!r} (layer names must be unique)",
                hint="rename the layers so every name is unique",
            )
        self.names.add(name)
        if array is not None:
            self.weights.append(Weight(name, array))

    def dataset(self, parent: Any, path: str, where: str) -> Any:
        """The dataset at ``path`` below ``parent``, following hard links only; None when absent."""
        import h5py

        if not path or path.startswith("/"):
            raise self.error(
                f"{where}: the file points at a variable by an absolute or empty path {path!r}", hint=REFUSE_HINT
            )
        node = parent
        for part in path.split("/"):
            if not part or part in (".", "..") or not isinstance(node, h5py.Group):
                return None
            link = node.get(part, getlink=True)
            if link is None:
                return None
            if not isinstance(link, h5py.HardLink):
                raise self.error(
                    f"{where}: {path!r} is a {type(link).__name__} (links out of the file are not allowed)",
                    hint=REFUSE_HINT,
                )
            node = node[part]
        return node if isinstance(node, h5py.Dataset) else None

    def stored_bytes(self, ds: Any, where: str, what: str) -> int:
        """The bytes the dataset declares, after checking it is plain numeric data stored in full inside the file.

        Everything here comes from HDF5 metadata, so nothing is allocated: a declared shape is checked against the
        bytes actually stored (and against the size of the file) before any value is read."""
        dtype = ds.dtype
        if dtype.kind not in _SAFE_DTYPE_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise self.error(f"{where}: {what} has dtype {dtype}, not a numeric tensor", hint=RESAVE_HINT)
        if ds.is_virtual or ds.external:
            raise self.error(f"{where}: {what} takes its data from outside the file", hint=REFUSE_HINT)
        shape = tuple(ds.shape or ())
        nbytes = math.prod(int(d) for d in shape) * int(dtype.itemsize)  # Python ints: no int64 overflow
        if nbytes > self.reader.hdf5_size:
            raise self.error(
                f"{where}: {what} declares shape {shape} ({nbytes} bytes), more than the whole file holds "
                f"({self.reader.hdf5_size} bytes)",
                hint=REFUSE_HINT,
            )
        stored = ds.id.get_storage_size()
        if ds.compression is not None or stored < nbytes:
            raise self.error(
                f"{where}: {what} declares {nbytes} bytes but stores {stored} "
                "(compressed or sparse data, which Keras never writes)",
                hint="save the model again with Keras",
            )
        return nbytes

    def load(self, ds: Any, where: str, what: str) -> np.ndarray | None:
        """The dataset's values once :meth:`stored_bytes` accepts it; None when only checking."""
        nbytes = self.stored_bytes(ds, where, what)
        if not self.reader.load_data:
            return None
        if ds.attrs.get("dtype") in ("bfloat16", b"bfloat16"):
            raise self.unmappable(f"{where}: {what} is stored as bfloat16, which this reader does not convert")
        mapped = self._mapped(ds, nbytes)
        return mapped if mapped is not None else np.asarray(ds[()])

    def _mapped(self, ds: Any, nbytes: int) -> np.ndarray | None:
        """A read-only memory map of a contiguous dataset's bytes in the source file: no copy through Python, and the
        shard writer hands the pages straight to the kernel. None where the data is not laid out that way."""
        base = self.reader.hdf5_offset_in_source
        offset = ds.id.get_offset() if base is not None and nbytes > (1 << 16) else None
        if offset is None:
            return None
        start = base + offset
        if start + nbytes > self.reader.source.stat().st_size:
            raise self.error("a dataset points past the end of the file", hint=REFUSE_HINT)
        return np.memmap(self.reader.source, dtype=ds.dtype, mode="r", offset=start, shape=tuple(ds.shape))

    def checked(
        self, slot: Slot, ds: Any, where: str, binds: dict[int, dict[str, int]], what: str
    ) -> np.ndarray | None:
        if ds is None:
            raise self.error(f"{where}: variable {slot.var.name!r} is missing from the file ({what})", hint=RESAVE_HINT)
        bind = binds.setdefault(id(slot.owner), dict(slot.owner.bind))
        problem = layouts.check_shape(slot.var, tuple(ds.shape or ()), bind)
        if problem:
            raise self.error(f"{where}: variable {slot.var.name!r} ({what}) {problem}", hint=MISMATCH_HINT)
        stored = ds.dtype
        floats = slot.owner.float_variables and not slot.var.integer
        if floats and stored.kind != "f" and ds.attrs.get("dtype") not in ("bfloat16", b"bfloat16"):
            # Keras would cast the values; TF.js refuses them ("dtype of the new value (int32) and previous value
            # (float32) must match"), and no Keras version writes them: the file was edited.
            raise self.error(
                f"{where}: variable {slot.var.name!r} ({what}) is stored as {stored}, but the layer's variables are "
                f"{slot.owner.dtype}",
                hint=MISMATCH_HINT,
            )
        array = self.load(ds, where, f"variable {slot.var.name!r} ({what})")
        if array is not None and array.dtype.kind == "f" and array.dtype != np.dtype(slot.owner.dtype):
            array = array.astype(slot.owner.dtype)  # Keras casts a loaded value to its variable's dtype
        return array

    def walk(self, entry: dict[str, Any], visit_layer: Any, prefix: str, trainable: bool) -> None:
        """Call ``visit_layer(entry, store_path, trainable)`` for every non-model layer, depth first, nested
        models expanded, with the store path a ``.keras`` file keeps it under: the snake-case class name made unique
        among the container's layers, as Keras's ``_save_container_state`` names them."""
        used: dict[str, int] = {}
        layers = _model_layers(entry) or []
        for position, layer in enumerate(layers):
            class_name = layer["class_name"]
            if position == 0 and entry.get("class_name") == "Sequential" and class_name == "InputLayer":
                continue  # not among a Sequential's layers
            if is_operation(layer):  # Keras never stores an op as a layer: no store name, no variables
                continue
            base = snake_case(class_name)
            if base in used:
                used[base] += 1
                store_name = f"{base}_{used[base]}"
            else:
                used[base] = 0
                store_name = base
            path = f"{prefix}layers/{store_name}"
            layer_trainable = trainable and _trainable(layer)
            if _is_model(layer):
                self.walk(layer, visit_layer, path + "/", layer_trainable)
            else:
                visit_layer(layer, path, layer_trainable)


class _KerasStore(_Store):
    """``model.weights.h5`` of a ``.keras`` archive."""

    def __init__(self, reader: _Reader, store: Any) -> None:
        super().__init__(reader)
        self.store = store
        self.consumed: set[str] = set()

    def read(self, config: dict[str, Any]) -> list[Weight]:
        if not _is_model(config):
            return self.weights  # a subclassed model: the translator says what is wrong
        self.walk(
            config,
            lambda entry, path, trainable: self.tolerating_unmappable(lambda: self._visit(entry, path, trainable)),
            "",
            _trainable(config),
        )
        self.tolerating_unmappable(self._check_leftovers)
        return self.weights

    def _visit(self, entry: dict[str, Any], path: str, trainable: bool) -> None:
        layout = self.layout(entry, trainable)
        where = f"layer '{layout.name}' ({layout.class_name}) at {path}"
        if not layout.known:
            self._generic(path, layout.name)
            return
        self._check_recorded_names(layout, path, where)
        binds: dict[int, dict[str, int]] = {}
        for slot in layouts.slots(layout):
            store_path = f"{path}/{slot.store}/{slot.index}"
            ds = self.dataset(self.store, store_path, where)
            self.add(slot.name, self.checked(slot, ds, where, binds, store_path), where)
            self.consumed.add(store_path)
        # Anything else stored under this layer is a variable the table does not know: refuse rather than drop it.
        extra = [p for p in self._datasets_under(path) if p not in self.consumed]
        if extra:
            raise self.unmappable(
                f"{where}: the file has variables the config does not explain ({', '.join(extra[:4])}); "
                "it may come from a newer Keras than this reader knows"
            )

    def _check_recorded_names(self, layout: Layout, path: str, where: str) -> None:
        """Keras >= 3.? records each layer's name on its ``vars`` group: it must be the layer the config puts there."""

        def check(current: Layout, group_path: str) -> None:
            group = self.store.get(f"{group_path}/vars")
            recorded = group.attrs.get("name") if group is not None and hasattr(group, "attrs") else None
            if isinstance(recorded, bytes):
                recorded = recorded.decode("utf-8", "replace")
            if recorded is not None and recorded != current.name:
                raise self.unmappable(
                    f"{where}: the file keeps layer {recorded!r} at {group_path}, where the config implies "
                    f"{current.name!r}; the store layout is not the one this reader knows"
                )
            for attr, child in current.children:
                check(child, f"{group_path}/{attr}")

        check(layout, path)

    def _datasets_under(self, path: str) -> list[str]:
        import h5py

        group = self.store.get(path)
        if not isinstance(group, h5py.Group):
            return []
        found: list[str] = []
        group.visititems(lambda name, obj: found.append(f"{path}/{name}") if isinstance(obj, h5py.Dataset) else None)
        return sorted(found, key=_natural)

    def _generic(self, path: str, layer_name: str) -> None:
        """Variables of a layer outside the table, as stored (the translator rejects its class)."""
        for store_path in self._datasets_under(path):
            where = f"layer '{layer_name}' at {path}"
            ds = self.dataset(self.store, store_path, where)
            if ds is None:
                continue
            self.add(f"{layer_name}/{store_path[len(path) + 1 :]}", self.load(ds, where, store_path), where)
            self.consumed.add(store_path)

    def _check_leftovers(self) -> None:
        import h5py

        leftovers: list[str] = []

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and name not in self.consumed and not name.startswith("optimizer/"):
                leftovers.append(name)

        self.store.visititems(visit)
        if leftovers:
            leftovers.sort(key=_natural)
            raise self.unmappable(
                f"the weights file has variables no layer of the config explains ({', '.join(leftovers[:4])}"
                f"{', ...' if len(leftovers) > 4 else ''}); it may come from a newer Keras than this reader knows"
            )


class _LegacyStore(_Store):
    """The ``model_weights`` group of an ``.h5`` file (Keras 3 legacy format and Keras 2)."""

    def __init__(self, reader: _Reader, group: Any) -> None:
        super().__init__(reader)
        self.group = group

    def read(self, config: dict[str, Any]) -> list[Weight]:
        if not _is_model(config):
            return self.weights  # a subclassed model: the translator says what is wrong
        explained: set[str] = set()
        for entry in _model_layers(config) or []:
            if not self.tolerating_unmappable(partial(self._read_entry, entry, _trainable(config), explained)):
                explained.add(_entry_name(entry))  # left to Keras
        self._check_unexplained(explained)
        return self.weights

    def _read_entry(self, entry: dict[str, Any], container_trainable: bool, explained: set[str]) -> None:
        """One top-level entry: a layer, or a nested model whose weights the file keeps under the model's name."""
        name = _entry_name(entry)
        trainable = container_trainable and _trainable(entry)
        if _is_model(entry):
            collected: list[list[Slot] | None] = []
            self.walk(entry, lambda e, p, t: collected.append(self._slots(e, t)), "", trainable)
            slots = None if any(c is None for c in collected) else [s for c in collected for s in c or []]
        else:
            slots = self._slots(entry, trainable)
        if slots is None:  # a class outside the table somewhere in it: the translator rejects it
            self._generic(name)
            explained.add(name)
            return
        if not slots:
            return
        explained.add(name)
        self._read_layer(name, entry, slots, trainable)

    def _slots(self, entry: dict[str, Any], trainable: bool) -> list[Slot] | None:
        layout = self.layout(entry, trainable)
        return layouts.slots(layout) if layout.known else None

    def _weight_names(self, name: str) -> tuple[Any, list[str]] | None:
        import h5py

        link = self.group.get(name, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink) or not isinstance(self.group[name], h5py.Group):
            raise self.error(f"model_weights/{name} is not a plain group", hint=REFUSE_HINT)
        group = self.group[name]
        names = group.attrs.get("weight_names", [])
        decoded = [
            n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in np.asarray(names).ravel().tolist()
        ]
        return group, decoded

    def _read_layer(self, name: str, entry: dict[str, Any], slots: list[Slot], trainable: bool) -> None:
        where = f"layer '{name}' ({entry.get('class_name')})"
        found = self._weight_names(name)
        if found is None:
            raise self.error(
                f"{where}: the file has no weights for it (model_weights/{name} is missing)", hint=RESAVE_HINT
            )
        group, names = found
        if len(names) != len(slots):
            raise self.error(
                f"{where}: the file lists {len(names)} weights for it but its config implies {len(slots)} "
                f"({', '.join(s.name for s in slots)})",
                hint=MISMATCH_HINT,
            )
        ordered = layouts.legacy_order(slots, lambda s: s.trainable, trainable)
        arrays: dict[int, np.ndarray | None] = {}
        binds: dict[int, dict[str, int]] = {}
        for slot, stored in zip(ordered, names, strict=True):
            short = stored.rsplit("/", 1)[-1]
            short = re.sub(r"(:\d+)$", "", short)
            accepted = {slot.var.name, *slot.var.aliases}
            if short not in accepted and re.sub(r"_\d+$", "", short) not in accepted:
                raise self.unmappable(
                    f"{where}: the file stores {stored!r} where the config implies {slot.name!r}; "
                    "the weight order is not the one this reader knows",
                )
            arrays[id(slot)] = self.checked(
                slot, self.dataset(group, stored, where), where, binds, f"model_weights/{name}/{stored}"
            )
        for slot in slots:
            self.add(slot.name, arrays[id(slot)], where)

    def _generic(self, name: str) -> None:
        found = self._weight_names(name)
        if found is None:
            return
        group, names = found
        where = f"layer '{name}'"
        for stored in names:
            ds = self.dataset(group, stored, where)
            if ds is None:
                raise self.error(f"{where}: weight {stored!r} is listed but missing", hint=RESAVE_HINT)
            self.add(
                f"{name}/{re.sub(r'(:[0-9]+)$', '', stored.rsplit('/', 1)[-1])}", self.load(ds, where, stored), where
            )

    def _check_unexplained(self, explained: set[str]) -> None:
        import h5py

        unexplained = []
        for key in self.group:
            if key in explained:
                continue
            found = self._weight_names(key) if isinstance(self.group.get(key, getlink=True), h5py.HardLink) else None
            if found is not None and found[1]:
                unexplained.append(key)
        if unexplained:
            raise self.error(
                f"the file has weights for layers its config does not have ({', '.join(sorted(unexplained)[:4])})",
                hint=MISMATCH_HINT,
            )


def _natural(path: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path)]
