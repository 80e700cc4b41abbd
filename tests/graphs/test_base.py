"""The Workflow base: run, stream, resume and questions to a person, written once for all."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.memory import InMemoryStore
from pydantic import BaseModel

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.testing import scripted_model
from agentrun.errors import UsageError
from agentrun.graphs import runtime
from agentrun.graphs.base import BuildContext, Workflow, WorkflowResult
from agentrun.graphs.events import (
    CheckpointSaved,
    Interrupted,
    ModelCalled,
    NodeFinished,
    NodeStarted,
    RunFinished,
    parse_event,
)
from agentrun.graphs.human import ask
from agentrun.graphs.runtime import Session, add_usage, usage_of, usage_update


class EchoConfig(BaseModel):
    model: str = "fake"
    ask_first: bool = False


class EchoInputs(BaseModel):
    text: str
    times: int = 1


class EchoResult(WorkflowResult):
    output_field = "reply"
    reply: str
    name: str | None = None


class EchoState(TypedDict, total=False):
    text: str
    times: int
    name: str
    reply: str
    usage: Annotated[dict[str, Any], add_usage]


class Echo(Workflow[EchoConfig, EchoInputs, EchoResult]):
    name = "echo"
    Config = EchoConfig
    Inputs = EchoInputs
    Result = EchoResult

    def build(self, ctx: BuildContext[EchoConfig]) -> StateGraph[Any, Any, Any, Any]:
        model = ctx.config.model

        async def greet(state: EchoState) -> dict[str, Any]:
            name = ask("What is your name?", schema={"type": "string", "minLength": 2})
            return {"name": name}

        async def answer(state: EchoState) -> dict[str, Any]:
            prompt = state["text"] * state["times"] + (
                f" {state['name']}" if "name" in state else ""
            )
            completion = await runtime.complete(model, [{"role": "user", "content": prompt}],
                                                node="answer")  # fmt: skip
            return {"reply": completion.text, "usage": usage_update(usage_of(completion))}

        graph: StateGraph[Any, Any, Any, Any] = StateGraph(EchoState)
        graph.add_node("answer", answer)
        if ctx.config.ask_first:
            graph.add_node("greet", greet)
            graph.add_edge(START, "greet")
            graph.add_edge("greet", "answer")
        else:
            graph.add_edge(START, "answer")
        graph.add_edge("answer", END)
        return graph

    async def start(self, inputs: EchoInputs, session: Session) -> Mapping[str, Any]:
        return {"text": inputs.text, "times": inputs.times}

    async def finish(self, state: Mapping[str, Any], session: Session) -> EchoResult:
        return EchoResult(reply=state["reply"], name=state.get("name"))


@pytest.fixture
def gateway() -> Gateway:
    return Gateway(GatewayConfig(models={"fake": ModelConfig(model="fake/echo")}), cache=False)


def _echo(gateway: Gateway, saver: InMemorySaver, **config: Any) -> Echo:
    return Echo(config, gateway=gateway, store=InMemoryStore(), checkpointer=saver)


def test_the_models_come_from_the_class_parameters_unless_assigned() -> None:
    class Bare(Workflow[EchoConfig, EchoInputs, EchoResult]):
        name = "bare"

    class OwnResult(EchoResult):
        pass

    class Assigned(Workflow[EchoConfig, EchoInputs, EchoResult]):
        name = "assigned"
        Result = OwnResult

    class Derived(Bare):
        name = "derived"

    assert (Bare.Config, Bare.Inputs, Bare.Result) == (EchoConfig, EchoInputs, EchoResult)
    assert (Assigned.Inputs, Assigned.Result) == (EchoInputs, OwnResult)
    assert Derived.Result is EchoResult
    assert Bare.__abstractmethods__  # still a workflow to finish: build, start, finish


async def test_run_returns_the_typed_result_with_usage(gateway: Gateway) -> None:
    with scripted_model(["hello"]) as fake:
        result = await _echo(gateway, InMemorySaver()).arun("hi", times="2", thread_id="t1")
    assert isinstance(result, EchoResult)
    assert result.reply == result.output == "hello"
    assert result.thread_id == "t1" and not result.waiting
    assert result.usage["model_calls"] == 1 and result.usage["prompt_tokens"] > 0
    by_node = result.usage_by_node
    assert list(by_node) == ["answer"] and by_node["answer"]["model_calls"] == 1
    assert by_node["answer"]["prompt_tokens"] == result.usage["prompt_tokens"]
    assert fake.calls[0].messages[-1]["content"] == "hihi"  # "2" became the int it declares


async def test_inputs_are_checked_against_the_model(gateway: Gateway) -> None:
    with pytest.raises(UsageError, match=r"input 'times'.*'many'"):
        await _echo(gateway, InMemorySaver()).arun("hi", times="many")
    with pytest.raises(UsageError, match="input 'text' is required"):
        await _echo(gateway, InMemorySaver()).arun()


async def test_the_stream_reports_nodes_calls_checkpoints_and_the_result(gateway: Gateway) -> None:
    with scripted_model(["hello"]):
        events = [e async for e in _echo(gateway, InMemorySaver()).astream("hi", thread_id="t")]
    kinds = [type(e) for e in events]
    assert kinds.index(NodeStarted) < kinds.index(ModelCalled) < kinds.index(NodeFinished)
    assert CheckpointSaved in kinds and kinds[-1] is RunFinished
    call = next(e for e in events if isinstance(e, ModelCalled))
    assert call.node == "answer" and call.prompt_tokens > 0 and call.thread_id == "t"
    final = events[-1]
    assert isinstance(final, RunFinished) and final.result.reply == "hello"
    # every event round-trips through its JSON line
    assert all(parse_event(e.model_dump_json()).kind == e.kind for e in events)


async def test_a_run_stops_at_a_question_and_goes_on_with_a_checked_answer(
    gateway: Gateway,
) -> None:
    saver = InMemorySaver()
    echo = _echo(gateway, saver, ask_first=True)
    with scripted_model(["hello Ada"]) as fake:
        events = [e async for e in echo.astream("hi", thread_id="q")]
        asked = [e for e in events if isinstance(e, Interrupted)]
        assert len(asked) == 1 and asked[0].pending.question == "What is your name?"
        waiting = events[-1]
        assert isinstance(waiting, RunFinished) and waiting.status == "waiting"
        assert waiting.result.waiting and waiting.result.interrupt.node == "greet"
        assert not fake.calls  # nothing after the question ran
        with pytest.raises(UsageError, match="waits for an answer to: What is your name"):
            await echo.aresume("q")
        with pytest.raises(UsageError, match=r"answer refused.*too short"):
            await echo.aresume("q", answer="A")
        assert not fake.calls  # a refused answer leaves the run where it was
        result = await echo.aresume("q", answer="Ada")
    assert result.name == "Ada" and result.reply == "hello Ada" and not result.waiting
    assert fake.calls[0].messages[-1]["content"] == "hi Ada"
    with pytest.raises(UsageError, match="not waiting for an answer"):
        await echo.aresume("q", answer="again")


async def test_a_thread_that_holds_a_run_is_not_started_over(gateway: Gateway) -> None:
    saver = InMemorySaver()
    with scripted_model(["one"]):
        await _echo(gateway, saver).arun("hi", thread_id="same")
    with pytest.raises(UsageError, match="already holds a run of echo"):
        await _echo(gateway, saver).arun("hi", thread_id="same")
    with pytest.raises(UsageError, match="no checkpoint for thread 'other'"):
        await _echo(gateway, saver).aresume("other")


async def test_a_stream_left_early_closes_without_errors(gateway: Gateway) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    with scripted_model(lambda messages: "hello"):
        async for _event in _echo(gateway, InMemorySaver()).astream("hi", thread_id="left"):
            break  # the consumer has seen enough; the generator is closed when dropped
        await asyncio.sleep(0.2)  # the loop finalizes the dropped stream
        result = await _echo(gateway, InMemorySaver()).arun("hi", thread_id="next")
    assert errors == []
    assert result.reply == "hello" and result.usage["model_calls"] == 1
