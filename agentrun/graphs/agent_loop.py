"""The agent loop: model -> tool calls -> results -> model, until a final answer or the step
limit, with every model call and every tool call checkpointed.

Call `agent_loop(...)` from inside any graph node, or add `agent_node(...)` to a graph. The loop
runs as one LangGraph task, and inside it each model call and each tool call is a task of its
own, so their results are written to the checkpoint as they arrive: a resumed run replays them
and never runs a completed tool call again. The tool calls of one reply run concurrently. A tool
error, a time-out or arguments that fail validation go back to the model as the tool's message,
saying what was wrong; only failures of the run itself (a model that cannot be reached, the cost
limit) stop it. `max_steps` bounds the model calls, and a loop that reaches it fails naming it.
Each tool call sends a `ToolCalled` event (name, arguments, result size, time).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.func import task
from pydantic_core import to_jsonable_python

from agentrun.agents.ledger import Usage
from agentrun.agents.messages import Message, result_text, tool_result
from agentrun.agents.tool_calls import ToolCall
from agentrun.errors import AgentrunError, RunFailedError, ToolError, UsageError
from agentrun.graphs import runtime
from agentrun.graphs.runtime import WorkflowContext, usage_of
from agentrun.logs import get_logger
from agentrun.tools.context import ToolContext
from agentrun.tools.function import Tool, chosen_tool
from agentrun.tools.sandbox import FileRoots

log = get_logger("agent_loop")

DEFAULT_MAX_STEPS = 8
#: Seconds a tool call may take before the model is told it timed out.
DEFAULT_TOOL_TIMEOUT_S = 300.0


def tool_context(
    ctx: WorkflowContext,
    *,
    node: str = "",
    files: FileRoots | None = None,
    readable: Sequence[Sequence[str]] = (),
    model: str | None = None,
) -> ToolContext:
    """What tools called from a node of this run may use."""
    return ToolContext(
        store=ctx.store, namespace=tuple(ctx.namespace),
        readable=tuple(tuple(labels) for labels in readable), files=files, gateway=ctx.gateway,
        checkpointer=ctx.checkpointer, run_id=ctx.run_id, node=node, model=model,
        stream_text=ctx.stream_text,
    )  # fmt: skip


# --- one tool call, checkpointed ---------------------------------------------------------------


@dataclass(frozen=True)
class ToolOutcome:
    """A finished tool call: its value (JSON-able), its text for the model, or its error."""

    value: Any
    content: str
    error: str | None
    usage: Usage
    seconds: float


async def run_tool(
    tool: Tool, arguments: Mapping[str, Any], context: ToolContext, *, key: str
) -> ToolOutcome:
    """Run a tool as a checkpointed task (a pipeline's `tool:` step): once it has completed, a
    resumed run gets its recorded value. Its errors raise, for the caller to report."""
    data = await _tool_task(tool, ToolCall.parse(key, tool.name, dict(arguments)), context,
                            strict=True, timeout_s=None)  # fmt: skip
    return _outcome(data)


@task
async def _tool_task(
    tool: Tool | str,
    call: ToolCall,
    context: ToolContext,
    strict: bool,
    timeout_s: float | None,
) -> dict[str, Any]:
    """Run `call` (or, for `tool` a string, report what is wrong with it) and send its event.
    `strict` raises the tool's errors; otherwise they become its message to the model."""
    ctx = context.for_call(f"{context.node}:{call.id}" if not strict else call.id)
    started = time.perf_counter()
    value: Any = None
    error: str | None = None
    try:
        if isinstance(tool, str):
            error = tool
        else:
            value = to_jsonable_python(await _call(tool, call, ctx, timeout_s), fallback=str)
    except (ToolError, UsageError, TimeoutError) as exc:
        error = _problem(call.name, exc, timeout_s)
        if strict:
            _report(ctx, call, None, error, time.perf_counter() - started)
            raise
    except AgentrunError:
        raise  # the run's own failure (the cost limit, a model that cannot be reached)
    except Exception as exc:
        if strict:
            _report(ctx, call, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
            raise
        log.warning("tool_failed", tool=call.name, error=type(exc).__name__)
        error = f"tool {call.name!r} failed: {type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    content = f"error: {error}" if error is not None else result_text(value)
    _report(ctx, call, content if error is None else None, error, seconds)
    return {"value": value, "content": content, "error": error,
            "usage": ctx.usage.to_dict(), "seconds": seconds}  # fmt: skip


async def _call(tool: Tool, call: ToolCall, ctx: ToolContext, timeout_s: float | None) -> Any:
    if timeout_s is None:
        return await tool.call(call.arguments, context=ctx)
    return await asyncio.wait_for(tool.call(call.arguments, context=ctx), timeout_s)


def _problem(name: str, exc: Exception, timeout_s: float | None) -> str:
    if isinstance(exc, TimeoutError):
        return (f"tool {name!r}: no result within {timeout_s:g} s; the call was stopped (try "
                "smaller arguments, or another tool)")  # fmt: skip
    if isinstance(exc, ToolError):
        return str(exc)
    return f"tool {name!r}: {exc}"


def _report(
    ctx: ToolContext, call: ToolCall, content: str | None, error: str | None, seconds: float
) -> None:
    runtime.emit({
        "kind": "tool_call", "node": ctx.node, "tool": call.name, "arguments": call.arguments,
        "result_chars": len(content or ""), "seconds": seconds, "error": error,
    })  # fmt: skip


def _outcome(data: Mapping[str, Any]) -> ToolOutcome:
    return ToolOutcome(
        value=data["value"], content=data["content"], error=data["error"],
        usage=Usage.from_dict(data["usage"]), seconds=data["seconds"],
    )  # fmt: skip


# --- the loop ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentReply:
    """The loop's final answer, the model calls it took and the tool calls it ran."""

    text: str
    steps: int
    tool_calls: int
    usage: Usage


async def agent_loop(
    model: str,
    messages: Sequence[Message],
    tools: Sequence[Tool],
    *,
    node: str,
    context: ToolContext | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    tool_timeout_s: float | None = DEFAULT_TOOL_TIMEOUT_S,
    **options: Any,
) -> AgentReply:
    """Run the loop from inside a graph node (a checkpointed task; see the module). `context`
    is what the tools may use (default: the run's store, namespace and gateway, no folders);
    `options` go to every model call (`temperature`, `max_tokens`, ...)."""
    if max_steps < 1:
        raise UsageError(f"max_steps must be at least 1 (got {max_steps})")
    names = [tool.name for tool in tools]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"node {node}: tools offered twice: {', '.join(repeated)}")
    ctx = context or tool_context(runtime.context(), node=node)
    if not ctx.node:
        ctx = dataclasses.replace(ctx, node=node)
    settings = {"max_steps": max_steps, "tool_timeout_s": tool_timeout_s, "options": options}
    data = await _agent_task(model, list(messages), list(tools), node, ctx, settings)
    return AgentReply(data["text"], data["steps"], data["tool_calls"],
                      Usage.from_dict(data["usage"]))  # fmt: skip


@task
async def _agent_task(
    model: str,
    messages: list[Message],
    tools: list[Tool],
    node: str,
    context: ToolContext,
    settings: dict[str, Any],
) -> dict[str, Any]:
    max_steps: int = settings["max_steps"]
    by_name = {tool.name: tool for tool in tools}
    specs = [tool.spec for tool in tools]
    history = list(messages)
    usage = Usage()
    ran = 0
    for step in range(1, max_steps + 1):
        offer = {"tools": specs, "tool_choice": "auto"} if specs else {}
        completion = await runtime.complete(
            model, history, node=node, **offer, **settings["options"]
        )
        usage = usage + usage_of(completion)
        if not completion.tool_calls:
            return {"text": completion.text, "steps": step, "tool_calls": ran,
                    "usage": usage.to_dict()}  # fmt: skip
        history.append(completion.message())
        calls = [_as_step(call, step) for call in completion.tool_calls]
        pending = [  # started in order, so a resumed run finds each call's recorded result
            _tool_task(chosen_tool(by_name, call), call, context, False, settings["tool_timeout_s"])
            for call in calls
        ]
        results = [_outcome(data) for data in await asyncio.gather(*pending)]
        ran += len(calls)
        for call, outcome in zip(calls, results, strict=True):
            history.append(tool_result(call.id.split("@", 1)[0], outcome.content))
            usage = usage + outcome.usage
    raise RunFailedError(
        f"node {node}: no final answer within max_steps={max_steps} (the model still asked for "
        f"tools after {max_steps} model calls, {ran} tool calls); raise max_steps, or give the "
        "agent fewer or clearer tools"
    )


def _as_step(call: ToolCall, step: int) -> ToolCall:
    """`call` with an id unique in the loop (models reuse ids such as `call_0` across replies);
    the suffix is dropped again in the tool message."""
    return ToolCall(f"{call.id}@{step}", call.name, call.arguments, call.raw_arguments, call.error)


# --- a node for any graph ------------------------------------------------------------------------


def agent_node(
    model: str,
    tools: Sequence[Tool],
    *,
    node: str = "agent",
    messages_key: str = "messages",
    answer_key: str = "answer",
    max_steps: int = DEFAULT_MAX_STEPS,
    context: Callable[[WorkflowContext], ToolContext] | None = None,
    **options: Any,
) -> Callable[[Any], Awaitable[dict[str, Any]]]:
    """A graph node running the loop on `state[messages_key]` (a prompt string or messages):
    it writes the answer to `state[answer_key]`, `steps` and `tool_calls`, and adds its usage
    to `state["usage"]` (a state with `runtime.add_usage` as its reducer)."""

    async def run(state: Any) -> dict[str, Any]:
        given = state[messages_key]
        messages = [{"role": "user", "content": given}] if isinstance(given, str) else given
        ctx = runtime.context()
        made = context(ctx) if context is not None else tool_context(ctx, node=node, model=model)
        reply = await agent_loop(model, messages, tools, node=node, context=made,
                                 max_steps=max_steps, **options)  # fmt: skip
        return {answer_key: reply.text, "steps": reply.steps, "tool_calls": reply.tool_calls,
                "usage": runtime.usage_update(reply.usage)}  # fmt: skip

    return run


__all__ = [
    "DEFAULT_MAX_STEPS",
    "DEFAULT_TOOL_TIMEOUT_S",
    "AgentReply",
    "ToolOutcome",
    "agent_loop",
    "agent_node",
    "run_tool",
    "tool_context",
]
