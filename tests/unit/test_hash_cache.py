"""The source-hash cache: repeats are answered from stat data, changes are never missed."""

from __future__ import annotations

import hashlib
import json
import os
import time

from hatch_tfjs import hashing


def test_fresh_files_are_not_cached_and_old_ones_are(tmp_path, monkeypatch):
    monkeypatch.setattr(hashing, "_RACY_NS", 2_000_000_000)
    source = tmp_path / "m.h5"
    source.write_bytes(b"weights" * 1000)
    expected = hashlib.sha256(source.read_bytes()).hexdigest()

    assert hashing.hash_source(source) == expected
    assert not hashing._cache_file(source).exists()  # just written: its ctime is too recent to trust

    time.sleep(0.01)
    monkeypatch.setattr(hashing, "_RACY_NS", 0)  # as if two seconds had passed since the last change
    assert hashing.hash_source(source) == expected
    entry = json.loads(hashing._cache_file(source).read_text())
    assert entry["sha256"] == expected

    # The next call is answered from the cache: a doctored entry with the same fingerprint is what comes back.
    entry["sha256"] = "0" * 64
    hashing._cache_file(source).write_text(json.dumps(entry))
    assert hashing.hash_source(source) == "0" * 64


def test_any_change_to_the_file_misses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(hashing, "_RACY_NS", 0)
    source = tmp_path / "m.keras"
    source.write_bytes(b"a" * 4096)
    first = hashing.hash_source(source)
    stat = source.stat()
    time.sleep(0.01)
    source.write_bytes(b"b" * 4096)  # same size, same inode
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old mtime put back
    assert hashing.hash_source(source) == hashlib.sha256(b"b" * 4096).hexdigest() != first


def test_directories_hash_their_files_and_cache_too(tmp_path, monkeypatch):
    monkeypatch.setattr(hashing, "_RACY_NS", 0)
    saved = tmp_path / "saved"
    (saved / "variables").mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"graph")
    (saved / "variables" / "variables.index").write_bytes(b"index")
    first = hashing.hash_source(saved)
    assert hashing.hash_source(saved) == first
    (saved / "variables" / "variables.data-00000-of-00001").write_bytes(b"data")
    assert hashing.hash_source(saved) != first
