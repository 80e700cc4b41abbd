"""What runs one item of a batch, in this process or in a Ray worker: its options, the pipeline
as text another process loads, and the `Worker` that holds what a process shares between its
items (the limiter, one store and one checkpointer per place, the pipelines already loaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentrun.agents.gateway import Gateway
from agentrun.agents.limits import Limiter, LocalLimiter
from agentrun.errors import AgentrunError, AnswerError
from agentrun.pipeline.batch_items import BatchItem
from agentrun.pipeline.batch_output import ItemOutcome

if TYPE_CHECKING:
    from agentrun.pipeline.run import Pipeline


@dataclass(frozen=True)
class BatchOptions:
    """Run options every item of a batch gets (see `Pipeline.astream`)."""

    cache: bool | None = None
    max_input_tokens: int | None = None
    max_cost_usd: float | None = None
    file_roots: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineSource:
    """A pipeline as text, so that another process (a Ray worker) loads the same one; `loader`
    is the class's `from_text`, which a worker imports by name when it unpickles the source."""

    text: str
    path: str
    overrides: tuple[tuple[str, str], ...]
    loader: Callable[[str, Path, dict[str, str]], Pipeline]

    @classmethod
    def of(cls, pipeline: Pipeline) -> PipelineSource:
        overrides = tuple(sorted(pipeline.overrides.items()))
        return cls(pipeline.text, str(pipeline.path), overrides, type(pipeline).from_text)

    def load(self) -> Pipeline:
        return self.loader(self.text, Path(self.path), dict(self.overrides))


class Worker:
    """What one process shares between the items it runs. Open resources are closed by
    `aclose()`."""

    def __init__(
        self,
        data_dir: Path,
        limiter: Limiter | None = None,
        *,
        checkpoint_url: str | None = None,
        chroma_url: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.limiter: Limiter = limiter or LocalLimiter()
        #: Where to keep checkpoints and memory when the pipeline names no place (before the
        #: environment's AGENTRUN_CHECKPOINT_URL and AGENTRUN_CHROMA_URL): the driver's.
        self.checkpoint_url = checkpoint_url
        self.chroma_url = chroma_url
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()
        self._resources: dict[str, Any] = {}
        self._savers: dict[str, Any] = {}
        self._pipelines: dict[PipelineSource, Pipeline] = {}

    def pipeline(self, source: PipelineSource) -> Pipeline:
        found = self._pipelines.get(source)
        if found is None:
            found = self._pipelines[source] = source.load()
        return found

    def chroma_server(self, pipeline: Pipeline) -> str | None:
        """The chroma server the pipeline's memory is on, if any."""
        from agentrun.memory import CHROMA_URL_ENV

        if pipeline.spec.memory.backend == "memory":
            return None
        return pipeline.spec.memory.server_url or self.chroma_url or os.environ.get(CHROMA_URL_ENV)

    def checkpoint_place(self, pipeline: Pipeline) -> str | None:
        """The checkpoint database the pipeline's runs go to (None: SQLite here)."""
        from agentrun.memory.checkpoint import CHECKPOINT_URL_ENV

        return (
            pipeline.spec.checkpoints
            or self.checkpoint_url
            or os.environ.get(CHECKPOINT_URL_ENV)
            or None
        )

    async def store(self, pipeline: Pipeline) -> Any:
        """The store the pipeline names, opened once (None: a fresh in-process store a run)."""
        from agentrun import memory

        if pipeline.spec.memory.backend == "memory":
            return None
        url = self.chroma_server(pipeline)
        if url is not None:
            return await self.resource(
                f"store {url}", lambda: memory.ChromaStore.http(url, memory.default_embedder())
            )
        return await self.resource("store", lambda: pipeline.open_store(self.data_dir))

    async def checkpointer(self, pipeline: Pipeline) -> Any:
        """The checkpointer the pipeline's runs use, opened once."""
        from agentrun.memory.checkpoint import checkpointer

        url = self.checkpoint_place(pipeline)
        async with self._lock:
            place = url or "sqlite"
            if place not in self._savers:
                opened = checkpointer(self.data_dir, url=url)
                self._savers[place] = await self._stack.enter_async_context(opened)
            return self._savers[place]

    def holds_local_model(self, pipeline: Pipeline) -> contextlib.AbstractContextManager[Any]:
        """Keep the embedded model server up between items (each item's gateway would stop it
        when it closes, if no other held it)."""
        from agentrun.agents.config import LOCAL_MODEL
        from agentrun.agents.local import acquire, release

        config = pipeline.gateway_config()
        if not any(model.model == LOCAL_MODEL for model in config.models.values()):
            return contextlib.nullcontext()
        held = contextlib.ExitStack()
        held.callback(release, acquire(config.local))
        return held

    async def resource(
        self, name: str, opener: Callable[[], contextlib.AbstractContextManager[Any]]
    ) -> Any:
        """What `opener()` opens, opened once under `name` and closed with the worker."""
        async with self._lock:
            if name not in self._resources:
                self._resources[name] = self._stack.enter_context(opener())
            return self._resources[name]

    def hold(self, resource: contextlib.AbstractContextManager[Any]) -> None:
        """Keep `resource` entered until the worker closes."""
        self._stack.enter_context(resource)

    async def aclose(self) -> None:
        await self._stack.aclose()


async def run_item(
    pipeline: Pipeline, item: BatchItem, worker: Worker, options: BatchOptions
) -> ItemOutcome:
    """Run one item to its end: a new run on its thread, or the continuation of its run (from
    its record, or from its checkpoint when another process started it). Never raises for the
    item's own failure: that is its outcome."""
    from agentrun.pipeline.records import RunRecord

    started = time.perf_counter()
    root = worker.data_dir
    store = await worker.store(pipeline)
    saver = await worker.checkpointer(pipeline)
    gateway = Gateway(
        pipeline.gateway_config(), data_dir=root, cache=options.cache, limiter=worker.limiter
    )
    common: dict[str, Any] = {"gateway": gateway, "store": store, "checkpointer": saver,
                              "data_dir": root, "cache": options.cache,
                              "max_cost_usd": options.max_cost_usd}  # fmt: skip
    outcome = ItemOutcome(item.key, item.line, item.thread_id, "failed")
    try:
        async with gateway:
            if (RunRecord(root, item.thread_id).folder / "meta.json").is_file():
                result = await pipeline.aresume(item.thread_id, **common)
            else:
                result = await pipeline.arun(
                    item.inputs, thread_id=item.thread_id, file_roots=options.file_roots,
                    max_input_tokens=options.max_input_tokens, **common,
                )  # fmt: skip
    except AnswerError as exc:  # it waits for a person: `agentrun resume --answer` goes on
        outcome.status, outcome.error = "waiting", str(exc)
        outcome.usage = _flat(gateway.ledger.total().to_dict())
    except Exception as exc:
        outcome.error = str(exc) or type(exc).__name__
        outcome.exit_code = exc.exit_code if isinstance(exc, AgentrunError) else 1
        outcome.usage = _flat(gateway.ledger.total().to_dict())
    else:
        outcome.status = "waiting" if result.interrupt is not None else "done"
        outcome.outputs = dict(result.outputs)
        outcome.usage = _flat(result.usage)
        if result.interrupt is not None:
            outcome.error = f"waits for an answer: {result.interrupt.question}"
    outcome.seconds = round(time.perf_counter() - started, 3)
    return outcome


def _flat(usage: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in usage.items() if name != "by_node"}


__all__ = ["BatchOptions", "PipelineSource", "Worker", "run_item"]
