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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agentrun.errors import RunFailedError
from agentrun.pipeline.batch_items import BatchItem
from agentrun.pipeline.batch_output import BatchOutput, BatchSummary, ItemOutcome
from agentrun.pipeline.batch_worker import BatchOptions, PipelineSource, Worker, run_item

if TYPE_CHECKING:
    from agentrun.pipeline.run import Pipeline

OutcomeCallback = Callable[[ItemOutcome], None]
DEFAULT_CONCURRENCY = 8


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
