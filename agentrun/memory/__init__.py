"""The shared memory store, its embedders, and the checkpointers of durable runs.

`default_store(data_dir)` is the store every run gets when none is given: chromadb embedded
under `<data dir>/memory/` (or the `chroma run` server named by `AGENTRUN_CHROMA_URL`), with the
offline all-MiniLM-L6-v2 embedder. Nothing here downloads anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentrun.memory.embedders import Embedder
    from agentrun.memory.scope import ScopedStore, scoped, searches_by_meaning
    from agentrun.memory.store import ChromaStore

_LAZY = {
    "ScopedStore": "agentrun.memory.scope",
    "scoped": "agentrun.memory.scope",
    "searches_by_meaning": "agentrun.memory.scope",
    "ChromaStore": "agentrun.memory.store",
    "Embedder": "agentrun.memory.embedders",
    "FakeEmbedder": "agentrun.memory.embedders",
    "LiteLLMEmbedder": "agentrun.memory.embedders",
    "MiniLMEmbedder": "agentrun.memory.embedders",
    "default_embedder": "agentrun.memory.embedders",
    "in_memory_store": "agentrun.memory.inmemory",
}


def __getattr__(name: str) -> Any:
    """Load modules on first use (chromadb, numpy and LangGraph are slow to import)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentrun.memory' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


#: A `chroma run` server to use instead of the embedded store (e.g. http://127.0.0.1:8000).
CHROMA_URL_ENV = "AGENTRUN_CHROMA_URL"
STORE_DIR = "memory"


@contextmanager
def default_store(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    embedder: Embedder | None = None,
    lock_timeout_s: float | None = None,
) -> Iterator[ChromaStore]:
    """The persistent store under the data directory (closed, and unlocked, on exit)."""
    from agentrun.memory.embedders import default_embedder
    from agentrun.memory.store import ChromaStore
    from agentrun.settings import data_dir as resolve_data_dir

    embedder = embedder or default_embedder()
    url = os.environ.get(CHROMA_URL_ENV)
    if url:
        store = ChromaStore.http(url, embedder)
    else:
        folder = resolve_data_dir(data_dir) / STORE_DIR
        store = ChromaStore.persistent(folder, embedder, lock_timeout_s=lock_timeout_s)
    with store:
        yield store


__all__ = [
    "CHROMA_URL_ENV",
    "ChromaStore",
    "Embedder",
    "FakeEmbedder",
    "LiteLLMEmbedder",
    "MiniLMEmbedder",
    "ScopedStore",
    "default_embedder",
    "default_store",
    "in_memory_store",
    "scoped",
    "searches_by_meaning",
]
