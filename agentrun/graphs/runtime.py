"""What every workflow graph shares: its run context, checkpointed model calls, and its session.

Each model call inside a node runs as a LangGraph task, so its reply is written to the
checkpoint as soon as it arrives: a resumed run never sends a recorded call again. Graph state
holds ids and small values; long text lives in the memory store (document chunks, which later
runs reuse) or in the run's own records (prompts and what steps hand on, `run_records`), which
cost a file append, not a memory write, per call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.func import task
from langgraph.runtime import get_runtime
from langgraph.store.base import BaseStore
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from agentrun.agents.gateway import Completion, Gateway
from agentrun.agents.ledger import (
    CallRecord,
    Usage,
    collect,
    current_node,
    current_run,
    total,
)
from agentrun.agents.messages import Message, normalize_messages
from agentrun.errors import StructuredOutputError
from agentrun.graphs.run_records import RunRecords, records_path
from agentrun.memory.namespaces import records_ns

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")

#: Recursion limit for graphs that loop once per chunk or section.
RECURSION_LIMIT = 10_000
DEFAULT_NAMESPACE = ("default",)


@dataclass
class WorkflowContext:
    """LangGraph runtime context: everything a node needs that is not graph state."""

    gateway: Gateway
    store: BaseStore
    namespace: tuple[str, ...] = ("default",)
    run_id: str = ""
    record_prompts: bool = True
    stream_text: bool = False
    checkpointer: BaseCheckpointSaver[Any] | None = None
    #: The data directory the run keeps its records in (None: the default one).
    data_dir: Path | None = None
    records: RunRecords | None = None

    def ns(self, *parts: str) -> tuple[str, ...]:
        """A store namespace inside this workflow's records (`records_ns`)."""
        return records_ns(self.namespace, *parts)

    def run_records(self) -> RunRecords:
        """The run's own records (prompts, units handed on, failed calls), kept apart from the
        memory store."""
        if self.records is None:
            from agentrun.settings import data_dir as resolve_data_dir

            self.records = RunRecords(records_path(resolve_data_dir(self.data_dir), self.run_id))
        return self.records


def context() -> WorkflowContext:
    """The running workflow's context (inside a node or task)."""
    return get_runtime(WorkflowContext).context


# --- checkpointed model calls ------------------------------------------------------------------


def _stream_writer(node: str) -> Callable[[str], None] | None:
    if not context().stream_text:
        return None
    try:
        writer = get_stream_writer()
    except Exception:
        return None
    return lambda text: writer({"kind": "token", "node": node, "text": text})


def emit(payload: dict[str, Any]) -> None:
    """Send an event to whoever streams the run (nothing happens when nobody does)."""
    try:
        writer = get_stream_writer()
    except Exception:
        return
    writer(payload)


def _report_call(
    node: str, call: Completion | CallRecord, messages: list[Message], reply: str
) -> None:
    """A `model_call` event for one answered call (a failed one raises instead)."""
    try:
        resolved: str | None = context().gateway.resolve(call.model).model
    except Exception:  # reported after the call: a name it answered under resolves
        resolved = None
    emit({
        "kind": "model_call", "node": node, "model": call.model, "resolved_model": resolved,
        "prompt_tokens": call.prompt_tokens, "completion_tokens": call.completion_tokens,
        "cost_usd": call.cost_usd, "latency_s": call.latency_s, "cache_hit": call.cache_hit,
        "tool_calls": call.tool_calls if isinstance(call, CallRecord) else len(call.tool_calls),
        "finish_reason": call.finish_reason if isinstance(call, Completion) else None,
        "messages": shown_messages(messages), "reply": reply,
    })  # fmt: skip


def _time_key() -> str:
    """A record key that sorts in the order records were made."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"


def shown_messages(messages: list[Message]) -> list[Message]:
    """`messages` as JSON for events: images inlined as data URLs are shown by their size."""
    shown: list[Message] = to_jsonable_python(normalize_messages(messages), fallback=str)
    for message in shown:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            url = (part.get("image_url") or {}).get("url", "") if isinstance(part, dict) else ""
            if isinstance(url, str) and url.startswith("data:"):
                part["image_url"]["url"] = f"{url.split(',', 1)[0]},... ({len(url)} characters)"
    return shown


async def record_prompt(
    ctx: WorkflowContext, node: str, model: str, messages: list[Message]
) -> None:
    """Keep a prompt in the run's records (every call does, checkpointed or not); inline images
    are recorded by their size only."""
    if ctx.record_prompts:
        value = {"node": node, "model": model, "messages": shown_messages(messages)}
        ctx.run_records().put("prompt", _time_key(), value)


@contextmanager
def _labelled(ctx: WorkflowContext, node: str) -> Iterator[None]:
    """Calls inside are labelled with their node and run in the ledger."""
    node_token = current_node.set(node)
    run_token = current_run.set(ctx.run_id)
    try:
        yield
    finally:
        current_node.reset(node_token)
        current_run.reset(run_token)


@task
async def _complete(
    model: str, messages: list[Message], node: str, options: dict[str, Any]
) -> dict[str, Any]:
    ctx = context()
    with _labelled(ctx, node):
        await record_prompt(ctx, node, model, messages)
        completion = await ctx.gateway.acomplete(
            model, messages, node=node, on_text=_stream_writer(node), **options
        )
    _report_call(node, completion, messages, completion.text)
    return dataclasses.asdict(completion)


@task
async def _structured(
    model: str,
    messages: list[Message],
    output: type[BaseModel],
    node: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    ctx = context()
    with _labelled(ctx, node):
        await record_prompt(ctx, node, model, messages)
        with collect() as calls:
            try:
                value = await ctx.gateway.astructured(model, messages, output, **options)
                result: dict[str, Any] = {"value": value.model_dump(mode="json"), "error": None}
            except StructuredOutputError as exc:
                result = {"value": None, "error": str(exc)}
    answered = [call for call in calls if not call.failed]
    for number, call in enumerate(answered, start=1):  # the value is the last call's reply
        reply = json.dumps(result["value"]) if number == len(answered) else ""
        _report_call(node, call, messages, reply)
    result["usage"] = total(calls).to_dict()
    return result


async def complete(model: str, messages: list[Message], *, node: str, **options: Any) -> Completion:
    """A checkpointed chat completion (call it from inside a graph node)."""
    data = await _complete(model, messages, node, options)
    return Completion.from_dict(data)


@dataclass(frozen=True)
class StructuredReply(Generic[T]):
    value: T | None
    error: str | None
    usage: Usage


async def structured(
    model: str, messages: list[Message], output: type[T], *, node: str, **options: Any
) -> StructuredReply[T]:
    """A checkpointed structured call; `value` is None (with `error`) when re-asks ran out."""
    data = await _structured(model, messages, output, node, options)
    value = output.model_validate(data["value"]) if data["value"] is not None else None
    return StructuredReply(value=value, error=data["error"], usage=Usage.from_dict(data["usage"]))


def usage_of(completion: Completion) -> Usage:
    """The ledger's view of one completion (under its node)."""
    return total([completion.record()])


def add_usage(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """State reducer that sums usage dicts (so a resumed run reports the whole run)."""
    return (Usage.from_dict(left) + Usage.from_dict(right)).to_dict()


def usage_update(*usages: Usage) -> dict[str, Any]:
    """A state update adding these usages to the run's total."""
    return sum(usages, Usage()).to_dict()


async def recorded_prompts(ctx: WorkflowContext) -> list[dict[str, Any]]:
    """Every prompt the run sent, in order."""
    return list(ctx.run_records().values("prompt"))


# --- checkpointers and running -------------------------------------------------------------------


def new_thread_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class RunResources:
    gateway: Gateway
    store: BaseStore
    checkpointer: BaseCheckpointSaver[Any]
    data_dir: Path


@asynccontextmanager
async def resources(
    gateway: Gateway | None,
    store: BaseStore | None,
    checkpointer: BaseCheckpointSaver[Any] | None,
    data_dir: str | os.PathLike[str] | None,
) -> AsyncIterator[RunResources]:
    """What a run needs, defaulted from the data directory; only what it made is closed after."""
    from agentrun.memory import default_store
    from agentrun.memory.checkpoint import checkpointer as default_checkpointer
    from agentrun.memory.on_use import OpenedOnUse
    from agentrun.settings import data_dir as resolve_data_dir

    root = resolve_data_dir(data_dir)
    async with AsyncExitStack() as stack:
        if gateway is None:
            gateway = await stack.enter_async_context(Gateway(data_dir=root))
        if store is None:  # opened when first used: a run may never need it
            store = stack.enter_context(OpenedOnUse(lambda: default_store(root)))
        if checkpointer is None:
            checkpointer = await stack.enter_async_context(default_checkpointer(root))
        yield RunResources(gateway, store, checkpointer, root)


@dataclass
class Session:
    """One workflow run's resources and context, and how to run a graph with them."""

    resources: RunResources
    ctx: WorkflowContext

    @property
    def gateway(self) -> Gateway:
        return self.resources.gateway

    @property
    def store(self) -> BaseStore:
        return self.resources.store

    @property
    def thread_id(self) -> str:
        return self.ctx.run_id

    def compile(self, graph: Any) -> Any:
        return graph.compile(checkpointer=self.resources.checkpointer, store=self.resources.store)

    async def has_checkpoint(self) -> bool:
        return await has_checkpoint(self.resources.checkpointer, self.thread_id)


@asynccontextmanager
async def session(
    *,
    thread_id: str,
    gateway: Gateway | None = None,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    namespace: tuple[str, ...] = DEFAULT_NAMESPACE,
    data_dir: str | os.PathLike[str] | None = None,
    stream_text: bool = False,
) -> AsyncIterator[Session]:
    """Everything a workflow's `arun` needs, defaulted and closed as in `resources`."""
    from agentrun.memory.scope import ScopedStore, scoped

    async with resources(gateway, store, checkpointer, data_dir) as res:
        if not isinstance(res.store, ScopedStore):
            res.store = scoped(res.store, namespace)
        ctx = WorkflowContext(
            res.gateway, res.store, namespace, run_id=thread_id,
            checkpointer=res.checkpointer, stream_text=stream_text, data_dir=res.data_dir,
        )  # fmt: skip
        try:
            yield Session(res, ctx)
        finally:
            ctx.run_records().close()


async def has_checkpoint(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> bool:
    saved = await checkpointer.aget_tuple({"configurable": {"thread_id": thread_id}})
    return saved is not None


def run_sync(coroutine: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine to completion from sync code, even where an event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def keep_failed_calls(ctx: WorkflowContext, usage: Usage) -> None:
    ctx.run_records().put("failed_calls", _time_key(), usage.to_dict())


async def failed_calls(ctx: WorkflowContext) -> Usage:
    """What the run's failed calls spent, over every attempt at the run so far."""
    return sum(
        (Usage.from_dict(value) for value in ctx.run_records().values("failed_calls")), Usage()
    )
