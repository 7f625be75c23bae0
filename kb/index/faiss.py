"""FAISS vector index derived from the vectors in SQLite.

The file on disk carries the SQLite state version it reflects, and is written
atomically (temp file, fsync, rename). A missing or stale file is rebuilt from
SQLite by the caller, so the index can never lose data. Exact search below a
measured size, approximate (IVF) above it: kb/index/ivf.py.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import faiss
import numpy as np

from kb.index import ivf as approx
from kb.index.base import atomic_write, save_or_serve
from kb.storage.locking import WriterLock

log = logging.getLogger(__name__)

# Format 2 adds a checksum of the index bytes beside the state version: a bit flipped on
# disk (header intact) used to load and serve wrong results until `kb check`. A file that
# fails it, or one of format 1 (no checksum to verify), is rebuilt from SQLite.
_MAGIC = b"KBFAISS2"
_HEADER = struct.Struct("<8sqq16s")  # magic, state version, dim, blake2b-128 of the rest


def _digest(data: bytes | memoryview | np.ndarray) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


@functools.cache
def _one_thread() -> None:
    """One thread per query: on 2 cores, two OpenMP threads were 2-4x slower per single query.
    Set on first use, not at import (importing must not change the process)."""
    faiss.omp_set_num_threads(1)


class VectorIndex:
    """Inner-product search over unit vectors, keyed by chunk id: exact, or IVF when given."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        _one_thread()
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def kind(self) -> str:
        """'ivf' (approximate) or 'flat' (exact)."""
        return "ivf" if isinstance(self.index, faiss.IndexIVF) else "flat"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray | list[int]) -> None:
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for one query vector; `allowed` restricts to those ids."""
        if len(self) == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        params = None
        if self.kind == "ivf":
            params = approx.ivf_params(self.index, allowed)
        elif allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(
                np.asarray(allowed, dtype=np.int64)))
        k = min(k, len(self))
        scores, ids = self.index.search(np.asarray(query, np.float32).reshape(1, -1), k,
                                        params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def ids(self) -> np.ndarray:
        """Every chunk id held, sorted (kb check compares them with SQLite)."""
        if not len(self):
            return np.zeros(0, np.int64)
        if hasattr(self.index, "id_map"):
            return np.sort(faiss.vector_to_array(self.index.id_map))
        invlists = self.index.invlists  # IVF: ids live in the inverted lists
        parts = [faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                 for i in range(invlists.nlist) if invlists.list_size(i)]
        return np.sort(np.concatenate(parts)).astype(np.int64)

    def vectors_for(self, ids: list[int]) -> np.ndarray:
        """Stored vectors for these chunk ids (to score candidates found lexically)."""
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self.index.reconstruct(int(i)) for i in ids])

    def save(self, path: Path, version: int) -> None:
        """Write atomically, tagged with the state version it reflects (kb/index/base.py)."""
        data = faiss.serialize_index(self.index)

        def write(handle: BinaryIO) -> None:
            handle.write(_HEADER.pack(_MAGIC, version, self.dim, _digest(data)))
            handle.write(data.tobytes())

        atomic_write(path, write, fault="faiss")

    @classmethod
    def load(cls, path: Path) -> tuple[VectorIndex, int] | None:
        """(index, state version) from disk, or None if the file is missing, unreadable or
        fails its checksum (the caller rebuilds it from SQLite)."""
        try:
            raw = path.read_bytes()
            magic, version, dim, digest = _HEADER.unpack_from(raw)
            payload = np.frombuffer(raw, np.uint8, offset=_HEADER.size)
            if magic != _MAGIC or _digest(payload) != digest:
                if magic == _MAGIC:
                    log.warning("%s fails its checksum (damaged on disk): rebuilding it from "
                                "SQLite", path)
                return None
            index = faiss.deserialize_index(payload)
            del raw, payload  # at 1M vectors the file is 2 GB: do not hold it twice
        except (OSError, struct.error, RuntimeError):
            return None
        return cls(dim, index), version


def file_version(path: Path) -> int | None:
    """The state version a FAISS file on disk reflects (header only), None if unreadable."""
    try:
        with path.open("rb") as handle:
            magic, version, _, _ = _HEADER.unpack(handle.read(_HEADER.size))
    except (OSError, struct.error):
        return None
    return version if magic == _MAGIC else None


class DerivedIndex:
    """A FAISS index mirrored from one SQLite table, tagged with the version it reflects.

    The version is the state version of the last write that changed that table's
    vectors (a manifest key), so a manual upload does not invalidate the cases' index.
    """

    def __init__(self, path: Path, dim: int,
                 iter_vectors: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]],
                 lock: WriterLock | None = None) -> None:
        self.path = path
        self.dim = dim
        self.iter_vectors = iter_vectors
        self.lock = lock
        self.index = VectorIndex(dim)
        self.version = -1

    def sync(self, expected: int) -> None:
        """Load the file if it reflects `expected` and suits the size, else rebuild and save."""
        if self.version == expected:
            return
        loaded = VectorIndex.load(self.path)
        if loaded is not None and loaded[1] == expected and loaded[0].dim == self.dim \
                and self._suits(loaded[0]):
            self.index = loaded[0]
            if self.index.kind == "ivf":  # probe share as this version measured it
                self.index.index.nprobe = approx.probes(int(self.index.index.nlist))
        else:
            self.rebuild()
            # Same version but unusable (damaged: fails its checksum) or the wrong kind (exact
            # vs IVF) for the size: replace it too.
            self._save_rebuilt(expected, replace_same=loaded is None or loaded[1] == expected)
        self.version = expected

    def _suits(self, index: VectorIndex) -> bool:
        """Exact vs approximate as the size asks, and IVF lists not outgrown."""
        if approx.wanted_kind(len(index), index.kind) != index.kind:
            return False
        return index.kind == "flat" or not approx.needs_retraining(index.index)

    def rebuild(self) -> None:
        """Build from SQLite in bounded batches: a first pass counts and samples the vectors
        (to choose exact vs IVF and train IVF), a second adds them."""
        sample = approx.Reservoir()
        for _, vectors in self.iter_vectors():
            sample.add(vectors)
        kind = approx.wanted_kind(sample.seen, self.index.kind)
        if kind == "ivf" and sample.rows is not None:
            self.index = VectorIndex(self.dim, approx.train_ivf(self.dim, sample.seen, sample.rows))
        else:
            self.index = VectorIndex(self.dim)
        del sample
        started = time.perf_counter()
        with approx.all_cores():
            for ids, vectors in self.iter_vectors():
                self.index.add(ids, vectors)
        log.info("rebuilt %s from SQLite: %d vectors, %s, %.1f s", self.path.name,
                 len(self.index), self.index.kind, time.perf_counter() - started)

    def _save_rebuilt(self, version: int, replace_same: bool = False) -> None:
        """Save a rebuilt index unless a writer is busy or a newer file is already there.

        A reader may rebuild from an older snapshot than the file a writer has just
        saved; writing its copy then would put a stale file back.
        """
        if self.lock is None:
            self._save_or_serve(version)
            return
        if not self.lock.try_acquire():
            return  # the writer saves its own, newer file (or the directory is read-only)
        try:
            on_disk = file_version(self.path)
            if on_disk is None or on_disk < version or (replace_same and on_disk == version):
                self._save_or_serve(version)
        finally:
            self.lock.release()

    def _save_or_serve(self, version: int) -> None:
        """Save; on a full disk keep serving this index from memory (the data is safe in
        SQLite, and the stale file is rebuilt on the next open). No temp file is left."""
        save_or_serve(self.path, lambda: self.index.save(self.path, version))

    def apply(self, before: int, after: int, removed: list[int], ids: list[int],
              vectors: list[np.ndarray]) -> None:
        """Apply one committed write; rebuild instead if another writer got in between, or if
        the base crossed the exact/approximate threshold."""
        if self.version != before:
            self.version = -1
            self.sync(after)
            return
        self.index.remove(removed)
        if ids:
            self.index.add(np.asarray(ids, np.int64), np.vstack(vectors))
        if not self._suits(self.index):
            self.rebuild()
        self._save_or_serve(after)
        self.version = after
