"""LangGraph's Postgres checkpointer over a connection pool, its operations retried through
short outages (`agentrun.memory.outages`).

One connection would stay broken after the server restarts; the pool replaces broken
connections, and each checkpoint read or write that fails on a lost connection is tried again
with back-off. Writes are upserts, so one retried after the server had already applied it writes
the same rows again. A listing is retried only before it has returned anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.base import CheckpointTuple as Saved
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from agentrun.memory.outages import aretry

R = TypeVar("R")
#: A lost connection, a server that refuses connections, a pool with none to give.
RETRYABLE: tuple[type[BaseException], ...] = (psycopg.OperationalError,)


class RetryingPostgresSaver(AsyncPostgresSaver):
    """`AsyncPostgresSaver` whose operations outlast short outages; `where` names the database
    (without its password) in errors."""

    def __init__(self, conn: Any, where: str) -> None:
        super().__init__(conn)
        self.where = f"the checkpoint database {where}"

    async def _retried(self, call: Callable[[], Awaitable[R]]) -> R:
        return await aretry(call, self.where, RETRYABLE)

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
