"""Ingest fan-out: embedding as a pure batch function, spread over processes or a Dask cluster.

Embedding is what a backlog ingest waits on; everything else (parsing, tokenising, the
one transaction) stays in the writing process. `encode_batch(model, texts)` is a pure
function of its arguments (the model loads once per worker process, with one thread), so
any `concurrent.futures.Executor` can run it: `kb ingest --workers N` uses local
processes (kb/write/encoding.py), `kb ingest --dask ADDRESS` the executor of a Dask
scheduler's client (`Client.get_executor()`). Tasks come back in order, one batch of an
ingest at a time, so memory stays bounded; a text embeds to the same vector wherever it
runs (tests/test_fanout.py compares them with a serial ingest).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from kb.embeddings import load_embedder
from kb.errors import KBError


def encode_batch(model: str, texts: list[str]) -> np.ndarray:
    """Document vectors of `texts` with `model` (loaded once per process, one thread)."""
    return load_embedder(model, threads=1).encode_documents(texts)


@dataclass(frozen=True)
class Fanout:
    """Where an ingest embeds: `workers` local processes (None: KB_EMBED_WORKERS or one per
    core, for models that gain from it) or the Dask scheduler at `dask`."""

    workers: int | None = None
    dask: str | None = None


class FanoutError(KBError):
    """The Dask scheduler cannot be reached or used."""


def _reachable(address: str) -> None:
    """Open (and close) a TCP connection to a tcp://host:port scheduler address."""
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    if host and port.isdigit():
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()


@contextmanager
def dask_executor(address: str) -> Iterator[Executor]:
    """An executor on the Dask cluster at `address` for the length of one ingest."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise FanoutError("`--dask` needs the distributed package: "
                          "pip install -r requirements.txt") from exc
    try:
        _reachable(address)  # a refused port fails now, not after the client's retries
        client = Client(address, timeout=10, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise FanoutError(f"cannot reach the Dask scheduler at {address} ({exc}); start one "
                          f"(`dask scheduler` and `dask worker ADDRESS`) or fix --dask") from exc
    try:
        yield client.get_executor()
    finally:
        client.close()
