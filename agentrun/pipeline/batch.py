"""Batches: one pipeline run per item, many at once, resumable, in-process or on Ray.

`arun_batch` runs each item of a batch (`agentrun.pipeline.batch_items`) as a pipeline run on
the item's own thread, `concurrency` at a time, and writes each outcome to the output file as it
finishes (`agentrun.pipeline.batch_output`). Items the file holds as done are skipped; any other
item continues its run from its checkpoint, so running the same batch again never starts over. A
failed item is recorded with its error and the batch goes on (`fail_fast` stops it instead).

Every item gets its own gateway, so its cost limit and ledger are its own, but the gateways of a
process share one limiter, so each model's limits hold for the whole batch; on Ray, one limiter
actor holds them for the cluster (`agentrun.scale.ray_batch`). A `Worker` holds what a process
shares between its items: the limiter, one store and one checkpointer per place they name, and
the pipelines already loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agentrun.agents.gateway import Gateway
from agentrun.agents.limits import Limiter, LocalLimiter
from agentrun.errors import AgentrunError, AnswerError, RunFailedError
from agentrun.pipeline.batch_items import BatchItem
from agentrun.pipeline.batch_output import BatchOutput, BatchSummary, ItemOutcome

if TYPE_CHECKING:
    from agentrun.pipeline.run import Pipeline

OutcomeCallback = Callable[[ItemOutcome], None]
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class BatchOptions:
    """Run options every item of a batch gets (see `Pipeline.astream`)."""

    cache: bool | None = None
    max_input_tokens: int | None = None
    max_cost_usd: float | None = None
    file_roots: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineSource:
    """A pipeline as text, so that another process (a Ray worker) loads the same one."""

    text: str
    path: str
    overrides: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, pipeline: Pipeline) -> PipelineSource:
        return cls(pipeline.text, str(pipeline.path), tuple(sorted(pipeline.overrides.items())))

    def load(self) -> Pipeline:
        from agentrun.pipeline.run import Pipeline

        return Pipeline.from_text(self.text, Path(self.path), dict(self.overrides))


class BatchStoppedError(RunFailedError):
    """A batch run with `fail_fast` stopped at its first failed item (its error's exit code)."""

    def __init__(self, outcome: ItemOutcome) -> None:
        super().__init__(
            f"item {outcome.key} (line {outcome.line}) failed: {outcome.error}; the batch "
            "stopped there (fail fast); run it again to retry that item and go on",
            outcome.thread_id,
        )
        self.exit_code = outcome.exit_code or self.exit_code
        self.outcome = outcome


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


class Executor(Protocol):
    """Runs a batch's items and yields each outcome as it finishes; closing the iterator stops
    the items still running (they stay resumable)."""

    def outcomes(self, items: Sequence[BatchItem]) -> AsyncGenerator[ItemOutcome, None]: ...


@dataclass
class LocalExecutor:
    """Items as tasks of this process's event loop, `concurrency` at a time."""

    pipeline: Pipeline
    options: BatchOptions
    concurrency: int
    data_dir: Path

    async def outcomes(self, items: Sequence[BatchItem]) -> AsyncGenerator[ItemOutcome, None]:
        worker = Worker(self.data_dir)
        queue: asyncio.Queue[ItemOutcome | Exception] = asyncio.Queue()
        pending = iter(items)

        async def drain() -> None:
            try:
                for item in pending:
                    await queue.put(await run_item(self.pipeline, item, worker, self.options))
            except Exception as exc:  # not an item's own failure: it stops the batch
                await queue.put(exc)

        try:
            await worker.store(self.pipeline)  # a store or database that cannot be opened
            await worker.checkpointer(self.pipeline)  # stops the batch before any item runs
            with worker.holds_local_model(self.pipeline):
                count = min(self.concurrency, len(items))
                runners = [asyncio.create_task(drain()) for _ in range(count)]
                try:
                    for _ in range(len(items)):
                        got = await queue.get()
                        if isinstance(got, Exception):
                            raise got
                        yield got
                finally:
                    for runner in runners:
                        runner.cancel()
                    await asyncio.gather(*runners, return_exceptions=True)
        finally:
            await worker.aclose()


@dataclass
class BatchRun:
    """One run of a batch: its items, where outcomes go, and how items are run."""

    pipeline: Pipeline
    items: Sequence[BatchItem]
    output: Path | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    fail_fast: bool = False
    options: BatchOptions = field(default_factory=BatchOptions)
    ray: str | None = None
    data_dir: Path | None = None

    def executor(self, root: Path) -> Executor:
        if self.ray is None:
            return LocalExecutor(self.pipeline, self.options, self.concurrency, root)
        from agentrun.scale.ray_batch import RayExecutor

        return RayExecutor(
            PipelineSource.of(self.pipeline), self.options, self.concurrency, self.ray, root
        )


async def arun_batch(
    run: BatchRun,
    *,
    on_start: Callable[[BatchSummary], None] | None = None,
    on_outcome: OutcomeCallback | None = None,
) -> BatchSummary:
    """Run the batch's items not yet done; returns the totals and every item's outcome (in the
    order of the items). Raises `BatchStoppedError` at the first failure under `fail_fast`."""
    from agentrun.settings import data_dir as resolve_data_dir

    root = resolve_data_dir(run.data_dir)
    output = BatchOutput(run.output) if run.output is not None else None
    done = output.done() if output is not None else {}
    todo = [item for item in run.items if item.key not in done]
    summary = BatchSummary(total=len(run.items), skipped=len(run.items) - len(todo))
    summary.output = str(run.output) if run.output is not None else None
    if output is not None:
        output.open(done.values())
    if on_start is not None:
        on_start(summary)
    finished: dict[str, ItemOutcome] = {}
    started = time.perf_counter()
    try:
        async with contextlib.aclosing(run.executor(root).outcomes(todo)) as outcomes:
            async for outcome in outcomes:
                if output is not None:
                    output.write(outcome)
                finished[outcome.key] = outcome
                summary.add(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
                if run.fail_fast and outcome.status == "failed":
                    raise BatchStoppedError(outcome)
    finally:
        summary.seconds = time.perf_counter() - started
        if output is not None:
            output.close()
    summary.outcomes = [
        finished.get(item.key) or done[item.key]
        for item in run.items
        if item.key in finished or item.key in done
    ]
    return summary


def batch_items(
    pipeline: Pipeline,
    items: Iterable[Mapping[str, Any]] | str | os.PathLike[str],
    key: str | None = None,
) -> list[BatchItem]:
    """The items of a batch: from a JSON Lines file, or from dicts (numbered from 1)."""
    from agentrun.pipeline.batch_items import plan, read_jsonl

    rows: list[tuple[int, Mapping[str, Any]]]
    if isinstance(items, str | os.PathLike):
        path = Path(items)
        rows = list(read_jsonl(path))
        source = str(path)
    else:
        rows = list(enumerate(items, start=1))
        source = "item"
    return plan(pipeline, rows, source=source, key_field=key, overrides=pipeline.overrides)


__all__ = [
    "DEFAULT_CONCURRENCY",
    "BatchOptions",
    "BatchRun",
    "BatchStoppedError",
    "Executor",
    "LocalExecutor",
    "PipelineSource",
    "Worker",
    "arun_batch",
    "batch_items",
    "run_item",
]
