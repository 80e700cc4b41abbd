"""Traces of runs over OpenTelemetry: a span per run, per node, per model call and per tool call.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: then
nothing of OpenTelemetry is imported and a run's events pass through untouched. When it is set,
spans go to that endpoint over OTLP/HTTP (protobuf) from a tracer provider of agentrun's own (a
host application's global provider is left alone), flushed at exit. `OTEL_SERVICE_NAME` and the
other standard `OTEL_*` variables apply.

Spans are made from the run's typed events, so the SDK, the CLI and the server are traced
alike: model and tool calls are children of the node that made them (a step of a workflow inside
a pipeline, `result/plan`, is a child of `result`), and every event but streamed tokens is also
a span event on the run's span. Model spans follow the GenAI semantic conventions (operation,
model, tokens in and out, finish reasons; the cost as `agentrun.usage.cost_usd`). Prompts,
replies and tool arguments are recorded only with
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import functools
import json
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from agentrun.graphs.events import (
    Event,
    Interrupted,
    ModelCalled,
    NodeFinished,
    NodeStarted,
    RunFinished,
    TokenDelta,
    ToolCalled,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
TRACER_NAME = "agentrun"

#: Set while a run is traced, so that a workflow run inside one of its nodes (whose events the
#: outer run passes on) is not traced a second time.
_tracing: contextvars.ContextVar[bool] = contextvars.ContextVar("agentrun_tracing", default=False)


def enabled() -> bool:
    """Whether runs are traced: an OTLP endpoint is configured."""
    return any(os.environ.get(name) for name in ENDPOINT_ENVS)


def capture_content() -> bool:
    """Whether prompts, replies and tool arguments go into spans (off unless asked for)."""
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in ("1", "true", "yes")


@functools.cache
def provider() -> TracerProvider:
    """agentrun's tracer provider, exporting over OTLP/HTTP in batches; shut down (flushed) at
    exit."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from agentrun._version import __version__

    attributes = {"service.version": __version__}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "agentrun"
    resource = Resource.create(attributes)
    made = TracerProvider(resource=resource)
    made.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    atexit.register(made.shutdown)
    return made


def tracer() -> Tracer:
    from agentrun._version import __version__

    return provider().get_tracer(TRACER_NAME, __version__)


def flush(timeout_s: float = 10.0) -> bool:
    """Export the spans still waiting in the batch (nothing to do when tracing never started)."""
    if provider.cache_info().currsize == 0:
        return True
    return provider().force_flush(int(timeout_s * 1000))


async def traced(events: AsyncIterator[Event], name: str, thread_id: str) -> AsyncIterator[Event]:
    """`events` as they come; traced when tracing is on (and this is not a run inside a run)."""
    if not enabled() or _tracing.get():
        async for event in events:
            yield event
        return
    token = _tracing.set(True)
    run = RunTrace(tracer(), name, thread_id)
    try:
        async for event in events:
            run.add(event)
            yield event
    except BaseException as exc:
        run.close(exc)
        raise
    else:
        run.close(None)
    finally:
        with contextlib.suppress(ValueError):  # closed from another context (dropped unfinished)
            _tracing.reset(token)


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _provider(model: str) -> str:
    """The GenAI provider of a LiteLLM model name (`openai/gpt-4o` -> openai)."""
    return model.split("/", 1)[0] if "/" in model else "unknown"


class RunTrace:
    """The spans of one run, made from its events as they arrive."""

    def __init__(self, tracer: Tracer, name: str, thread_id: str) -> None:
        from opentelemetry.trace import SpanKind

        self.tracer = tracer
        self.run = tracer.start_span(
            f"invoke_agent {name}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": name,
                "gen_ai.conversation.id": thread_id,
                "agentrun.thread_id": thread_id,
            },
        )
        #: Open node spans by node label, oldest first (fan-out runs one node several times).
        self.nodes: dict[str, list[Span]] = {}
        self.tokens = [0, 0]
        self.cost_usd = 0.0

    def add(self, event: Event) -> None:
        if isinstance(event, TokenDelta):
            return
        self.run.add_event(f"agentrun.{event.kind}", _event_attributes(event), _ns(event.time))
        if isinstance(event, NodeStarted):
            span = self._child(
                f"node {event.node}", self._parent(event.node, nested=True), event.time
            )
            span.set_attribute("agentrun.node", event.node)
            self.nodes.setdefault(event.node, []).append(span)
        elif isinstance(event, NodeFinished):
            open_spans = self.nodes.get(event.node)
            if open_spans:
                open_spans.pop(0).end(_ns(event.time))
        elif isinstance(event, ModelCalled):
            self._model(event)
        elif isinstance(event, ToolCalled):
            self._tool(event)
        elif isinstance(event, Interrupted):
            self.run.set_attribute("agentrun.waiting_at", event.node)
        elif isinstance(event, RunFinished):
            self.run.set_attribute("agentrun.status", event.status)

    def close(self, error: BaseException | None) -> None:
        """End every open span: marked failed when the run raised, `interrupted` when it was
        stopped (cancelled, or its stream dropped)."""
        from opentelemetry.trace import Status, StatusCode

        self.run.set_attribute("gen_ai.usage.input_tokens", self.tokens[0])
        self.run.set_attribute("gen_ai.usage.output_tokens", self.tokens[1])
        self.run.set_attribute("agentrun.usage.cost_usd", self.cost_usd)
        failed = isinstance(error, Exception)
        for spans in self.nodes.values():
            for span in spans:
                if failed:
                    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.end()
        self.nodes.clear()
        if isinstance(error, Exception):
            self.run.record_exception(error)
            self.run.set_attribute("error.type", type(error).__name__)
            self.run.set_status(Status(StatusCode.ERROR, str(error)[:500]))
        elif error is not None:
            self.run.set_attribute("agentrun.status", "interrupted")
        self.run.end()

    # --- spans -------------------------------------------------------------------------------

    def _parent(self, node: str, *, nested: bool = False) -> Span:
        """The open span a node's work belongs to: the node itself (a call labelled `worker[3]`
        belongs to `worker`), else the node that holds it (`result` for `result/plan`), else
        the run. A starting node looks only at the nodes that hold it."""
        label = node.split("[", 1)[0] if "[" in node else node
        candidates = []
        parts = label.split("/")
        for end in range(len(parts) - (1 if nested else 0), 0, -1):
            candidates.append("/".join(parts[:end]))
        for candidate in candidates:
            spans = self.nodes.get(candidate)
            if spans:
                return spans[-1]
        return self.run

    def _child(self, name: str, parent: Span, start: float) -> Span:
        from opentelemetry.trace import set_span_in_context

        return self.tracer.start_span(
            name, context=set_span_in_context(parent), start_time=_ns(start)
        )

    def _model(self, event: ModelCalled) -> None:
        self.tokens[0] += event.prompt_tokens
        self.tokens[1] += event.completion_tokens
        self.cost_usd += event.cost_usd
        model = event.resolved_model or event.model
        span = self._child(f"chat {model}", self._parent(event.node), event.time - event.latency_s)
        span.set_attributes({
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": _provider(model),
            "gen_ai.request.model": model, "gen_ai.response.model": model,
            "agentrun.model": event.model,
            "gen_ai.usage.input_tokens": event.prompt_tokens,
            "gen_ai.usage.output_tokens": event.completion_tokens,
            "agentrun.usage.cost_usd": event.cost_usd, "agentrun.cache_hit": event.cache_hit,
            "agentrun.node": event.node, "agentrun.tool_calls": event.tool_calls,
        })  # fmt: skip
        if event.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [event.finish_reason])
        if capture_content():
            span.set_attribute("gen_ai.input.messages", json.dumps(event.messages))
            output = [{"role": "assistant", "content": event.reply}]
            span.set_attribute("gen_ai.output.messages", json.dumps(output))
        span.end(_ns(event.time))

    def _tool(self, event: ToolCalled) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self._child(
            f"execute_tool {event.tool}", self._parent(event.node), event.time - event.seconds
        )
        span.set_attributes({
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": event.tool,
            "agentrun.node": event.node, "agentrun.result_chars": event.result_chars,
        })  # fmt: skip
        if capture_content():
            span.set_attribute("gen_ai.tool.call.arguments", json.dumps(event.arguments))
        if event.error is not None:
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR, event.error[:500]))
        span.end(_ns(event.time))


def _event_attributes(event: Event) -> dict[str, Any]:
    """The small scalar fields of an event, as span event attributes (never content)."""
    skip = {"kind", "time", "messages", "reply", "arguments", "result", "pending", "usage"}
    data = event.model_dump(exclude=skip)
    return {
        f"agentrun.{key}": value
        for key, value in data.items()
        if isinstance(value, str | int | float | bool)
    }


__all__ = [
    "CAPTURE_ENV",
    "ENDPOINT_ENVS",
    "RunTrace",
    "capture_content",
    "enabled",
    "flush",
    "provider",
    "traced",
]
