"""A batch on a Ray cluster: items run as Ray actor tasks, one runner actor per node.

Each runner is an async Ray actor holding one `Worker` (a limiter handle, the store and the
checkpointer, the loaded pipeline), so a node runs many items at once in one process instead of
one process per item. The driver hands each runner its share of `concurrency` and gives an item
to whichever runner finished one, streaming every outcome back to the output file as it comes.

When a runner's process dies (killed, or its node lost), Ray restarts the runner (on another
node when its own is gone) and retries the items it was running; each continues from its
Postgres checkpoint, so model calls that had returned are not sent again. That needs state every
node reaches: checkpoints in Postgres, and memory on a chroma server or in-process
(`backend: memory`); anything else is refused before an item runs. Model limits hold for the
cluster through one `RayLimiter` actor.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agentrun.errors import ConfigError
from agentrun.pipeline.batch_items import BatchItem
from agentrun.pipeline.batch_output import ItemOutcome
from agentrun.pipeline.batch_worker import BatchOptions, PipelineSource, Worker, run_item

#: Times an item is retried on a new runner when the one running it dies.
ITEM_RETRIES = 3
RAY_HINT = 'pip install "agentrun[ray]"'


class Job(Protocol):
    """A unit of work a runner does: an item of a batch, a (strategy, item) pair of an eval.
    It pickles, so Ray can hand it to any worker."""

    async def run(self, worker: Worker) -> Any:
        """Do the work with what the worker process shares (never raising for the item's own
        failure: that is its result)."""
        ...

    def lost(self, error: BaseException) -> Any:
        """The result when the workers running it were lost more often than Ray retries."""
        ...


class Runner:
    """Runs jobs in one Ray worker process (an async actor), sharing one `Worker`."""

    def __init__(
        self, data_dir: str, limiter: str, checkpoint_url: str | None, chroma_url: str | None
    ) -> None:
        import ray

        from agentrun.agents.shared_limits import RayLimiter

        self.limiter = RayLimiter.named(limiter, ray.get_runtime_context().get_actor_id() or "")
        self.worker = Worker(
            Path(data_dir), self.limiter, checkpoint_url=checkpoint_url, chroma_url=chroma_url
        )
        self._restarted: asyncio.Task[int] | None = None

    async def _given_back(self) -> None:
        """Once per process: a restarted runner gives back the model slots its lost process
        held (their requests died with it), before it sends any."""
        if self._restarted is None:
            self._restarted = asyncio.ensure_future(self.limiter.forget_owner())
        await self._restarted

    async def call(self, job: Job) -> Any:
        await self._given_back()
        return await job.run(self.worker)

    def pid(self) -> int:
        return os.getpid()


@functools.cache
def _remote_runner() -> Any:
    import ray

    return ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=ITEM_RETRIES)(Runner)


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"--ray needs Ray: {RAY_HINT}") from exc
    return ray


def connect(address: str) -> bool:
    """Join the cluster at `address` (`auto`: the one `ray start` made on this machine);
    True if this call connected (and so should disconnect)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    try:
        ray.init(
            address=address, logging_level="WARNING", log_to_driver=False,
            configure_logging=False,
        )  # fmt: skip
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"no Ray cluster answered at {address!r} ({exc}); start one with `ray start --head` "
            "(and `ray start --address HEAD:6379` on the other machines), then pass --ray auto "
            "on the head or --ray HEAD:6379"
        ) from exc
    return True


def require_shared_state(worker: Worker, source: PipelineSource) -> None:
    """Refuse a pipeline whose checkpoints or memory would stay on one machine."""
    pipeline = worker.pipeline(source)
    where = worker.checkpoint_place(pipeline)
    if where is None:
        raise ConfigError(
            "--ray needs checkpoints every node reaches, so that an item resumes on another "
            "worker: set `checkpoints: postgresql://HOST/DB` in the spec or "
            "AGENTRUN_CHECKPOINT_URL (see docs/scale-out.md)"
        )
    memory = pipeline.spec.memory
    if memory.backend != "memory" and worker.chroma_server(pipeline) is None:
        raise ConfigError(
            "--ray needs a memory store every node reaches: `memory: {backend: chroma, url: "
            "http://HOST:8000}` (a `chroma run` server) or AGENTRUN_CHROMA_URL; or `backend: "
            "memory` for a pipeline that keeps nothing between runs"
        )


def live_nodes(ray: Any) -> list[str]:
    return [node["NodeID"] for node in ray.nodes() if node.get("Alive")]


def start_runners(ray: Any, nodes: list[str], concurrency: int, args: tuple[Any, ...]) -> list[Any]:
    """One runner per node, running `concurrency` items at once, placed there softly (a runner
    whose node is lost is restarted elsewhere)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    runner = _remote_runner()
    return [
        runner.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True),
            max_concurrency=concurrency,
        ).remote(*args)
        for node in nodes
    ]


@dataclass
class RayPool:
    """Runs jobs on the Ray cluster at `address`, `concurrency` at a time, one runner actor a
    node, and yields each result as it comes."""

    address: str
    concurrency: int
    data_dir: Path
    checkpoint_url: str | None = None
    chroma_url: str | None = None

    async def results(
        self, jobs: Sequence[Job], prepare: Job | None = None
    ) -> AsyncGenerator[Any, None]:
        """Each job's result as it finishes; `prepare` runs once on every runner first (its
        error stops everything before any job)."""
        from agentrun.agents.shared_limits import RayLimiter

        ray = import_ray()
        connected = connect(self.address)
        runners: list[Any] = []
        limiter: RayLimiter | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            name = f"agentrun-limiter-{uuid.uuid4().hex[:12]}"
            limiter = RayLimiter.start(name)
            args = (str(self.data_dir), name, self.checkpoint_url, self.chroma_url)
            nodes = live_nodes(ray)
            per_runner = max(1, math.ceil(self.concurrency / max(1, len(nodes))))
            runners = start_runners(ray, nodes, per_runner, args)
            if prepare is not None:
                await _unwrapped(ray, asyncio.gather(*(r.call.remote(prepare) for r in runners)))
            queue: asyncio.Queue[Any] = asyncio.Queue()
            pending = iter(jobs)

            async def feed(runner: Any) -> None:
                try:
                    for job in pending:
                        await queue.put(await self._run(ray, runner, job))
                except Exception as exc:
                    await queue.put(_Stop(exc))

            tasks = [
                asyncio.create_task(feed(runner)) for runner in runners for _ in range(per_runner)
            ]
            for _ in range(len(jobs)):
                got = await queue.get()
                if isinstance(got, _Stop):
                    raise got.error
                yield got
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for actor in [*runners, *([limiter.actor] if limiter else [])]:
                with contextlib.suppress(Exception):
                    ray.kill(actor)
            if connected:
                ray.shutdown()

    @staticmethod
    async def _run(ray: Any, runner: Any, job: Job) -> Any:
        """One job on `runner`; a job whose runner died more often than Ray retries it gets
        its `lost` result (the others go on), any other error stops everything."""
        try:
            return await runner.call.remote(job)
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None
        except ray.exceptions.RayError as exc:
            return job.lost(exc)


@dataclass
class _Stop:
    error: Exception


@dataclass(frozen=True)
class PrepareBatch:
    """Load the pipeline and open its store and checkpointer, so that a place that cannot be
    reached stops the batch before any item."""

    source: PipelineSource

    async def run(self, worker: Worker) -> None:
        pipeline = worker.pipeline(self.source)
        await worker.store(pipeline)
        await worker.checkpointer(pipeline)
        worker.hold(worker.holds_local_model(pipeline))

    def lost(self, error: BaseException) -> None:
        raise error


@dataclass(frozen=True)
class BatchJob:
    """One item of a pipeline batch."""

    source: PipelineSource
    item: BatchItem
    options: BatchOptions

    async def run(self, worker: Worker) -> ItemOutcome:
        return await run_item(worker.pipeline(self.source), self.item, worker, self.options)

    def lost(self, error: BaseException) -> ItemOutcome:
        item = self.item
        return ItemOutcome(
            item.key, item.line, item.thread_id, "failed", exit_code=1,
            error=f"the Ray worker running it was lost {ITEM_RETRIES + 1} times "
            f"({type(error).__name__}); run the batch again to resume it",
        )  # fmt: skip


@dataclass
class RayExecutor:
    """Runs a pipeline batch's items on the Ray cluster at `address`."""

    source: PipelineSource
    options: BatchOptions
    concurrency: int
    address: str
    data_dir: Path

    async def outcomes(self, items: Sequence[BatchItem]) -> AsyncGenerator[ItemOutcome, None]:
        local = Worker(self.data_dir)
        require_shared_state(local, self.source)
        pipeline = local.pipeline(self.source)
        pool = RayPool(
            self.address, self.concurrency, self.data_dir, local.checkpoint_place(pipeline),
            local.chroma_server(pipeline),
        )  # fmt: skip
        jobs = [BatchJob(self.source, item, self.options) for item in items]
        async with contextlib.aclosing(pool.results(jobs, PrepareBatch(self.source))) as found:
            async for outcome in found:
                yield outcome


async def _unwrapped(ray: Any, call: Any) -> Any:
    """`await call`, with an error raised inside a job raised as itself."""
    try:
        return await call
    except ray.exceptions.RayTaskError as exc:
        raise exc.as_instanceof_cause() from None


__all__ = [
    "ITEM_RETRIES",
    "BatchJob",
    "Job",
    "RayExecutor",
    "RayPool",
    "Runner",
    "connect",
    "require_shared_state",
]
