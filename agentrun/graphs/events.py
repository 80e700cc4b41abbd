"""What a run reports while it runs: typed events, one stream for every front end.

`Workflow.astream` and `Pipeline.astream` yield these; the CLI renders them live, `--events`
writes them as JSON lines, and the HTTP server will send the same objects. Each event names the
node it comes from (`worker[3]`, or `result/plan` for a step of a workflow inside a pipeline).
`parse_event` reads one back from its JSON form.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    thread_id: str = ""
    time: float = Field(default_factory=time.time, description="Unix time it happened.")


class NodeStarted(_Event):
    """A step of the graph began (its model calls and tools follow)."""

    kind: Literal["node_started"] = "node_started"
    node: str


class NodeFinished(_Event):
    """A step of the graph ended and its update was applied to the state."""

    kind: Literal["node_finished"] = "node_finished"
    node: str
    seconds: float | None = None


class TokenDelta(_Event):
    """A piece of model text as it streams (only when the run streams text)."""

    kind: Literal["token"] = "token"
    node: str
    text: str


class ModelCalled(_Event):
    """One model call ended: what it spent (a cache hit spends nothing), why it stopped, and
    what was sent and answered (images shown by size only), for the run's pages and traces."""

    kind: Literal["model_call"] = "model_call"
    node: str
    model: str
    #: The LiteLLM name behind `model` when that is an alias (`default` -> `openai/gpt-4o`).
    resolved_model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    cache_hit: bool = False
    tool_calls: int = 0
    finish_reason: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    reply: str = ""


class ToolCalled(_Event):
    """A tool ran: its name, arguments, the size of its result and how long it took."""

    kind: Literal["tool_call"] = "tool_call"
    node: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result_chars: int = 0
    seconds: float = 0.0
    error: str | None = None


class CheckpointSaved(_Event):
    """The run's state was written: a resume starts from here."""

    kind: Literal["checkpoint"] = "checkpoint"
    checkpoint_id: str
    step: int


class PendingQuestion(BaseModel):
    """What a waiting run asks a person: shown by the CLI, carried by a waiting run's result.

    `review` is `approve` when the person approves, edits or rejects `value` (a node's output,
    AgentWrite's outline), and `answer` for a free answer; either must satisfy `answer_schema`.
    """

    node: str
    id: str = ""
    question: str
    review: Literal["answer", "approve"] = "answer"
    answer_schema: dict[str, Any] | None = None
    value: Any = None
    #: The question of a workflow run inside a pipeline node that this one passes on.
    relayed: str | None = None


class Interrupted(_Event):
    """The run stopped to ask a person; it goes on when resumed with an answer."""

    kind: Literal["interrupt"] = "interrupt"
    node: str
    pending: PendingQuestion


class RunFinished(_Event):
    """The run ended (or paused at a question): its result, and its usage over all resumes."""

    kind: Literal["result"] = "result"
    status: Literal["done", "waiting"] = "done"
    usage: dict[str, Any] = Field(default_factory=dict)
    result: Any = None


Event = Annotated[
    NodeStarted
    | NodeFinished
    | TokenDelta
    | ModelCalled
    | ToolCalled
    | CheckpointSaved
    | Interrupted
    | RunFinished,
    Field(discriminator="kind"),
]

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """An event from its JSON text (one line of `--events`) or its dict."""
    if isinstance(data, dict):
        return _ADAPTER.validate_python(data)
    return _ADAPTER.validate_json(data)


def event_json(event: Event) -> str:
    """One JSON line for `event` (results included, as JSON)."""
    return event.model_dump_json()


__all__ = [
    "CheckpointSaved",
    "Event",
    "Interrupted",
    "ModelCalled",
    "NodeFinished",
    "NodeStarted",
    "PendingQuestion",
    "RunFinished",
    "TokenDelta",
    "ToolCalled",
    "event_json",
    "parse_event",
]
