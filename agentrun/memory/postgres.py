"""LangGraph's Postgres checkpointer, its operations retried through short outages
(`agentrun.memory.outages`).

A connection stays broken once the server restarts or drops it; an operation that fails on a
lost connection is tried again with back-off, each time on a new connection once the old one is
broken. Writes are upserts, so one retried after the server had already applied it writes the
same rows again. A listing is retried only before it has returned anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.base import CheckpointTuple as Saved
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import DictRow, dict_row

from agentrun.memory.outages import aretry

R = TypeVar("R")
#: A lost connection, or a server that refuses new ones.
RETRYABLE: tuple[type[BaseException], ...] = (psycopg.OperationalError,)
CONNECT_TIMEOUT_S = 5


async def connect(url: str) -> psycopg.AsyncConnection[DictRow]:
    """A connection as LangGraph's saver needs it: autocommit, rows as dicts."""
    return await psycopg.AsyncConnection.connect(
        url, autocommit=True, prepare_threshold=0, row_factory=dict_row,
        connect_timeout=CONNECT_TIMEOUT_S,
    )  # fmt: skip


def _lost(conn: Any) -> bool:
    return bool(conn.broken or conn.closed)


class RetryingPostgresSaver(AsyncPostgresSaver):
    """`AsyncPostgresSaver` whose operations outlast short outages; `where` names the database
    (without its password) in errors."""

    def __init__(self, conn: psycopg.AsyncConnection[DictRow], url: str, where: str) -> None:
        super().__init__(conn)
        self.url = url
        self.where = f"the checkpoint database {where}"
        self._reconnecting = asyncio.Lock()

    async def _connected(self) -> None:
        """A new connection in place of a broken or closed one."""
        if not _lost(self.conn):
            return
        async with self._reconnecting:
            old = self.conn
            if _lost(old):
                self.conn = await connect(self.url)
                await old.close()

    async def _retried(self, call: Callable[[], Awaitable[R]]) -> R:
        async def attempt() -> R:
            await self._connected()
            return await call()

        return await aretry(attempt, self.where, RETRYABLE)

    async def setup(self) -> None:
        await self._retried(super().setup)

    async def aget_tuple(self, config: RunnableConfig) -> Saved | None:
        parent = super().aget_tuple
        return await self._retried(lambda: parent(config))

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        parent = super().aput
        return await self._retried(lambda: parent(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        parent = super().aput_writes
        await self._retried(lambda: parent(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        parent = super().adelete_thread
        await self._retried(lambda: parent(thread_id))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Saved]:
        parent = super().alist

        async def first_page() -> list[Saved]:
            return [saved async for saved in parent(config, filter=filter, before=before,
                                                    limit=limit)]  # fmt: skip

        for saved in await self._retried(first_page):
            yield saved
