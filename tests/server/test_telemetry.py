"""Traces over OTLP: spans of a run, its nodes, model calls and tool calls, sent by the real
exporter to an OTLP/HTTP receiver started here, read back and checked; none (and no
OpenTelemetry import at all) without an endpoint; prompts only when asked for."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

from agentrun import telemetry
from agentrun.agents.testing import scripted_model
from agentrun.graphs import runtime
from agentrun.graphs.base import BuildContext, Workflow, WorkflowResult
from agentrun.graphs.registry import register_workflow
from agentrun.graphs.runtime import Session, add_usage, usage_of, usage_update
from agentrun.pipeline import Pipeline
from tests.server.conftest import ASK, ASK_REPLIES
from tests.server.otlp import OtlpReceiver, ReceivedSpan


class LookupConfig(BaseModel):
    model: str = "fake/lookup"


class LookupInputs(BaseModel):
    query: str


class LookupResult(WorkflowResult):
    output_field = "answer"
    answer: str


class LookupState(TypedDict, total=False):
    query: str
    answer: str
    usage: Annotated[dict[str, Any], add_usage]


@register_workflow
class Lookup(Workflow[LookupConfig, LookupInputs, LookupResult]):
    """Asks a model, then reports a tool call the way tools do (`runtime.emit`)."""

    name = "otel-lookup"
    Config = LookupConfig
    Inputs = LookupInputs
    Result = LookupResult

    def build(self, ctx: BuildContext[LookupConfig]) -> StateGraph[Any, Any, Any, Any]:
        async def answer(state: LookupState) -> dict[str, Any]:
            reply = await runtime.complete(
                ctx.config.model, [{"role": "user", "content": state["query"]}], node="answer"
            )
            runtime.emit({"kind": "tool_call", "node": "answer", "tool": "atlas.find",
                          "arguments": {"place": "Wend"}, "result_chars": 12, "seconds": 0.25,
                          "error": None})  # fmt: skip
            return {"answer": reply.text, "usage": usage_update(usage_of(reply))}

        graph: StateGraph[Any, Any, Any, Any] = StateGraph(LookupState)
        graph.add_node("answer", answer)
        graph.add_edge(START, "answer")
        graph.add_edge("answer", END)
        return graph

    async def start(self, inputs: LookupInputs, session: Session) -> Mapping[str, Any]:
        return {"query": inputs.query}

    async def finish(self, state: Mapping[str, Any], session: Session) -> LookupResult:
        return LookupResult(answer=state["answer"])


NESTED = """\
version: agentrun/v1
name: nested
models:
  default: {model: fake/lookup}
nodes:
  - id: plan
    agent: {prompt: "Plan the search."}
  - id: result
    workflow: {type: otel-lookup, inputs: {query: "Where is Wend?"}}
edges:
  - {from: plan, to: result}
outputs:
  answer: "{{ state.result.answer }}"
"""


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """A receiver, and this process's tracing pointed at it (reset afterwards)."""
    found = OtlpReceiver().start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", found.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "agentrun-test")
    telemetry.provider.cache_clear()
    yield found
    telemetry.flush()
    telemetry.provider().shutdown()
    telemetry.provider.cache_clear()
    found.stop()


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [span for span in spans if span.parent_id == parent.span_id]


def test_spans_of_a_run_reach_an_otlp_receiver(
    receiver: OtlpReceiver, tmp_path: Path, data_dir: Path
) -> None:
    spec = tmp_path / "nested.yaml"
    spec.write_text(NESTED, encoding="utf-8")
    with scripted_model(["1. look it up", "Wend is on the east coast."]):
        result = Pipeline.load(spec).run(data_dir=data_dir)
    assert result.outputs == {"answer": "Wend is on the east coast."}
    assert telemetry.flush()
    run = receiver.wait_for("invoke_agent nested")
    spans = [s for s in receiver.spans if s.trace_id == run.trace_id]
    assert run.parent_id == "" and run.service == "agentrun-test"
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.conversation.id"] == result.thread_id
    assert run.attributes["agentrun.status"] == "done"
    assert "agentrun.model_call" in run.events and "agentrun.checkpoint" in run.events
    nodes = {span.name: span for span in children(spans, run)}
    assert set(nodes) == {"node plan", "node result"}
    (plan_call,) = children(spans, nodes["node plan"])
    assert plan_call.name == "chat fake/lookup"
    assert plan_call.attributes["gen_ai.operation.name"] == "chat"
    assert plan_call.attributes["gen_ai.request.model"] == "fake/lookup"
    assert plan_call.attributes["gen_ai.usage.input_tokens"] > 0
    assert plan_call.attributes["gen_ai.usage.output_tokens"] > 0
    assert plan_call.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert plan_call.attributes["agentrun.usage.cost_usd"] == 0.0
    assert "gen_ai.input.messages" not in plan_call.attributes  # content only when asked for
    (inner,) = children(spans, nodes["node result"])  # the workflow's own step, inside
    assert inner.name == "node result/answer"
    model, tool = sorted(children(spans, inner), key=lambda span: span.name)
    assert model.name == "chat fake/lookup"
    assert tool.name == "execute_tool atlas.find"
    assert tool.attributes["gen_ai.tool.name"] == "atlas.find"
    assert "gen_ai.tool.call.arguments" not in tool.attributes
    assert not any(s.name == "invoke_agent otel-lookup" for s in receiver.spans)  # not twice


def test_prompts_and_replies_are_recorded_when_asked_for(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    monkeypatch.setenv(telemetry.CAPTURE_ENV, "true")
    with scripted_model(["It is on the coast."]):
        Lookup({"model": "fake/t"}, data_dir=data_dir).run("Where is Wend?")
    assert telemetry.flush()
    call = receiver.wait_for("chat fake/t")
    assert '"content": "Where is Wend?"' in call.attributes["gen_ai.input.messages"]
    assert "It is on the coast." in call.attributes["gen_ai.output.messages"]
    tool = receiver.wait_for("execute_tool atlas.find")
    assert tool.attributes["gen_ai.tool.call.arguments"] == '{"place": "Wend"}'


def test_a_failed_run_is_marked_on_its_span(receiver: OtlpReceiver, data_dir: Path) -> None:
    with scripted_model([ValueError("the model broke")]), pytest.raises(Exception, match="broke"):
        Lookup({"model": "fake/t"}, data_dir=data_dir).run("Where is Wend?")
    assert telemetry.flush()
    run = receiver.wait_for("invoke_agent otel-lookup")
    assert run.status_code == 2  # ERROR
    assert run.attributes["error.type"]
    (node,) = [s for s in receiver.spans if s.parent_id == run.span_id]
    assert node.status_code == 2


def test_without_an_endpoint_tracing_costs_nothing(tmp_path: Path) -> None:
    """No exporter imported (chromadb imports OpenTelemetry's API for itself), no provider."""
    (tmp_path / "ask.yaml").write_text(ASK, encoding="utf-8")
    (tmp_path / "ask_replies.yaml").write_text(ASK_REPLIES, encoding="utf-8")
    script = (
        "import sys\n"
        "from agentrun.pipeline import load_pipeline\n"
        f"result = load_pipeline({str(tmp_path / 'ask.yaml')!r}).run("
        f"data_dir={str(tmp_path / 'data')!r})\n"
        "assert result.waiting\n"
        "from agentrun import telemetry\n"
        "print('opentelemetry.exporter.otlp.proto.http' in sys.modules,"
        " telemetry.provider.cache_info().currsize)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120, check=True)  # fmt: skip
    assert done.stdout.strip() == "False 0"
