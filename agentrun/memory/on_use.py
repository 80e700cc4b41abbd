"""A store opened by its first operation, so that a run that never touches memory never pays
for opening it (the embedded chromadb store takes 0.1-0.3 s to open and close, more than a
whole chain of model calls' own overhead)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from langgraph.store.base import BaseStore, Op, Result


class OpenedOnUse(BaseStore):
    """`opener()` entered on the first operation (or attribute read) and exited by `close`."""

    def __init__(self, opener: Callable[[], AbstractContextManager[BaseStore]]) -> None:
        self._opener = opener
        self._opened: BaseStore | None = None
        self._exit = ExitStack()
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._opened is not None

    def store(self) -> BaseStore:
        with self._lock:
            if self._opened is None:
                self._opened = self._exit.enter_context(self._opener())
            return self._opened

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self.store().batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        store = self._opened if self._opened is not None else await asyncio.to_thread(self.store)
        return await store.abatch(ops)

    def __getattr__(self, name: str) -> Any:
        """What the opened store has and a store in general does not (its `embedder`)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.store(), name)

    def close(self) -> None:
        with self._lock:
            self._exit.close()
            self._opened = None

    def __enter__(self) -> OpenedOnUse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
