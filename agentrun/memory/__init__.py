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
    from agentrun.memory.scoped import ScopedStore
    from agentrun.memory.store import ChromaStore

# `scoped()` is not among them: its module has the same name, which would shadow it once
# imported; use `agentrun.memory.scoped.scoped`.
_LAZY = {
    "ChromaStore": "agentrun.memory.store",
    "Embedder": "agentrun.memory.embedders",
    "FakeEmbedder": "agentrun.memory.embedders",
    "LiteLLMEmbedder": "agentrun.memory.embedders",
    "MiniLMEmbedder": "agentrun.memory.embedders",
    "ScopedStore": "agentrun.memory.scoped",
    "default_embedder": "agentrun.memory.embedders",
    "in_memory_store": "agentrun.memory.inmemory",
    "searches_by_meaning": "agentrun.memory.scoped",
}


def __getattr__(name: str) -> Any:
    """Load modules on first use: chromadb, numpy and LangGraph (behind the scoped store) are
    slow to import, and `agentrun --version` imports this package."""
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
    "searches_by_meaning",
]
