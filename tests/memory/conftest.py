"""Fixtures of the memory tests: every store backend, and a real `chroma run` server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langgraph.store.base import BaseStore

from agentrun.memory import ChromaStore, FakeEmbedder, in_memory_store

BACKENDS = ["in-memory", "chroma-embedded", "chroma-server"]


def open_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> BaseStore:
    embedder = FakeEmbedder()
    if backend == "in-memory":
        return in_memory_store(embedder)
    if backend == "chroma-embedded":
        return ChromaStore.persistent(tmp_path / "store", embedder)
    url = request.getfixturevalue("chroma_server")
    return ChromaStore.http(url, embedder, collection=f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BaseStore]:
    """Each backend in turn, empty."""
    opened = open_store(str(request.param), tmp_path, request)
    yield opened
    if isinstance(opened, ChromaStore):
        if request.param == "chroma-server":
            for collection in (opened.items, opened.vectors, opened.namespaces):
                opened.client.delete_collection(collection.name)
        opened.close()
