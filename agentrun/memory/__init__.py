"""The shared memory store, its embedders, and the checkpointers of durable runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from langgraph.store.base import BaseStore


@contextmanager
def default_store(data_dir: str | os.PathLike[str] | None = None) -> Iterator[BaseStore]:
    """The store a run uses when none is given."""
    from langgraph.store.memory import InMemoryStore

    yield InMemoryStore()
