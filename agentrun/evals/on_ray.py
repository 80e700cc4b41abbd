"""Eval pairs on a Ray cluster, through the same path as pipeline batches.

Each (strategy, item) pair is a job for the runner actors of `agentrun.scale.ray_batch`: one a
node, `concurrency` pairs at a time in all, the model's limits held for the whole cluster by one
limiter actor, and each row streamed back to `results.jsonl` as it comes. A pair keeps nothing
between attempts (its checkpoints are in memory), so one whose worker was lost is answered again
from the start on another. The store is the chroma server of `AGENTRUN_CHROMA_URL` when the
driver has one, else an in-memory store in each worker (a pair writes and reads only its own
document).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentrun.agents.gateway import Gateway
from agentrun.evals.datasets import QAItem
from agentrun.evals.strategies import Resources
from agentrun.pipeline.batch_worker import Worker


@dataclass(frozen=True)
class EvalPair:
    """One (strategy, item) pair of an eval, as a Ray job."""

    settings: Any  # EvalSettings (imported lazily: it imports this module's caller)
    strategy: str
    item: QAItem
    namespace: tuple[str, ...]
    cache: bool
    answer: Callable[[Any, str, QAItem, Resources], Awaitable[dict[str, Any]]]
    score: Callable[..., dict[str, Any]]  # the eval's row for a pair it could not answer

    async def run(self, worker: Worker) -> dict[str, Any]:
        from langgraph.checkpoint.memory import InMemorySaver

        store = await worker.resource("eval store", lambda: eval_store(worker.chroma_url))
        gateway = Gateway(data_dir=worker.data_dir, cache=self.cache, limiter=worker.limiter)
        async with gateway:
            res = Resources(gateway, store, InMemorySaver(), self.namespace)
            return await self.answer(self.settings, self.strategy, self.item, res)

    def lost(self, error: BaseException) -> dict[str, Any]:
        from agentrun.scale.ray_batch import ITEM_RETRIES

        why = (f"the Ray worker answering it was lost {ITEM_RETRIES + 1} times "
               f"({type(error).__name__}); run the eval again to retry it")  # fmt: skip
        return self.score(self.settings, self.strategy, self.item, None, 0.0, why)


def eval_store(url: str | None) -> contextlib.AbstractContextManager[Any]:
    """The chroma server at `url`, else a store in this process (with the default embedder)."""
    from agentrun import memory

    if url:
        return memory.ChromaStore.http(url, memory.default_embedder())
    return contextlib.nullcontext(memory.in_memory_store(memory.default_embedder()))


async def arun_on_ray(
    settings: Any,
    pairs: Sequence[tuple[str, QAItem]],
    namespace: tuple[str, ...],
    address: str,
    gateway: Gateway,
    *,
    answer: Callable[[Any, str, QAItem, Resources], Awaitable[dict[str, Any]]],
    score: Callable[..., dict[str, Any]],
) -> AsyncGenerator[dict[str, Any], None]:
    """Each pair's scored row as it finishes on the cluster at `address`: `answer` runs a pair
    on a worker, `score` makes the row of a pair whose workers were all lost."""
    from agentrun.memory import CHROMA_URL_ENV
    from agentrun.scale.ray_batch import RayPool
    from agentrun.settings import data_dir

    cache = gateway.config.cache.enabled
    jobs = [
        EvalPair(settings, strategy, item, namespace, cache, answer, score)
        for strategy, item in pairs
    ]
    pool = RayPool(
        address, settings.concurrency, data_dir(), chroma_url=os.environ.get(CHROMA_URL_ENV)
    )
    async with contextlib.aclosing(pool.results(jobs)) as rows:
        async for row in rows:
            yield row


__all__ = ["EvalPair", "arun_on_ray", "eval_store"]
