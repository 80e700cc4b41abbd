"""The in-memory store for tests: LangGraph's own `InMemoryStore` behind agentrun's embedder seam.

It passes the same conformance suite as the chromadb store, so tests that use it exercise the
contract the real store keeps. Nothing survives the process.
"""

from __future__ import annotations

from collections.abc import Sequence

from langgraph.store.memory import InMemoryStore

from agentrun.memory.embedders import Embedder, FakeEmbedder, as_langchain
from agentrun.memory.store import DEFAULT_INDEX_FIELDS


def in_memory_store(
    embedder: Embedder | None = None, *, index_fields: Sequence[str] = DEFAULT_INDEX_FIELDS
) -> InMemoryStore:
    """A fresh in-memory store; semantic search with `embedder` (default: `FakeEmbedder()`)."""
    embedder = embedder or FakeEmbedder()
    return InMemoryStore(
        index={
            "dims": embedder.dimensions,
            "embed": as_langchain(embedder),
            "fields": list(index_fields),
        }
    )
