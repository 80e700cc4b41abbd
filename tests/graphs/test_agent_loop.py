"""The agent loop as a workflow of its own (`ToolAgent`) and as a node: tools in the run's
context, workflows as tools on nested threads with their usage counted, and a long document
handed to chain-of-agents."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.messages import Message
from agentrun.agents.testing import ScriptedToolCalls, scripted_model
from agentrun.errors import ToolArgumentsError, UsageError
from agentrun.graphs.chain_of_agents import ChainOfAgents
from agentrun.graphs.events import ToolCalled
from agentrun.graphs.runtime import has_checkpoint
from agentrun.graphs.tool_agent import ToolAgent
from agentrun.graphs.workflow_tool import WorkflowTool, select_tools
from agentrun.tools.context import ToolContext
from agentrun.tools.function import tool
from tests.graphs.test_base import Echo
from tests.memory import coa_child


@tool
def where(ctx: ToolContext) -> str:
    """Which namespace and step the tool runs in."""
    return f"{'/'.join(ctx.namespace)} {ctx.node}"


def gateway() -> Gateway:
    return Gateway(GatewayConfig(models={"fake": ModelConfig(model="fake/m")}), cache=False)


def agent(given: list[Any], saver: InMemorySaver, **config: Any) -> ToolAgent:
    return ToolAgent(
        {"model": "fake", **config}, tools=given, gateway=gateway(), store=InMemoryStore(),
        checkpointer=saver, namespace=("acme",),
    )  # fmt: skip


def results(messages: list[Message]) -> list[str]:
    return [m["content"] for m in messages if m.get("role") == "tool"]


async def test_a_workflow_is_a_tool_on_a_nested_thread_with_its_usage_counted() -> None:
    shout = WorkflowTool(Echo)
    assert shout.name == "echo" and shout.parameters["required"] == ["text"]
    with pytest.raises(ToolArgumentsError, match="times: Input should be a valid integer"):
        shout.validate({"text": "a", "times": "many"})
    saver = InMemorySaver()
    script = [
        ScriptedToolCalls(
            [
                {"name": "echo", "arguments": {"text": "ahoy", "times": 2}},
                {"name": "where", "arguments": {}},
            ]
        ),
        "AHOY AHOY",  # the echo workflow's own model call
        "it said AHOY AHOY",
    ]
    events: list[Any] = []
    with scripted_model(script) as fake:
        result = await agent([shout, where], saver).arun(
            "Shout ahoy twice.", thread_id="run1", on_event=events.append
        )
    assert result.answer == "it said AHOY AHOY" and result.steps == 2 and result.tool_calls == 2
    assert fake.calls[1].messages == [{"role": "user", "content": "ahoyahoy"}]
    assert results(fake.calls[2].messages) == ["AHOY AHOY", "acme agent"]
    assert await has_checkpoint(saver, "run1-agent-call_0-1")
    assert result.usage["model_calls"] == 3
    assert result.usage_by_node["agent/echo/answer"]["model_calls"] == 1
    nested = [e for e in events if getattr(e, "node", "") == "agent/echo/answer"]
    assert nested, "the nested workflow's events are passed on under the calling node"
    assert {e.tool for e in events if isinstance(e, ToolCalled)} == {"echo", "where"}


async def test_an_agent_hands_a_long_document_to_chain_of_agents() -> None:
    document = coa_child.document()

    def reply(messages: list[Message]) -> Any:
        if messages[0]["content"] != "Use your tools.":
            return coa_child.fake_reply({"messages": messages})  # chain-of-agents' own calls
        done = results(messages)
        if not done:
            arguments = {"document": document, "query": coa_child.QUERY}
            return ScriptedToolCalls([{"name": "chain-of-agents", "arguments": arguments}])
        return f"The report says: {done[0]}"

    with scripted_model(reply) as fake:
        reader = WorkflowTool(ChainOfAgents, {"chunk_tokens": 400, "cu_format": "evidence"})
        made = agent([reader], InMemorySaver(), system="Use your tools.")
        result = await made.arun("Who rang the bell?")
    workers = [c for c in fake.calls if "one numbered sentence per line" in str(c.messages)]
    assert len(workers) >= 2  # the document was read in several chunks
    assert result.answer.startswith("The report says: tower ")
    assert result.usage["model_calls"] == len(fake.calls)


def test_names_select_registered_tools_workflows_and_prefixes() -> None:
    chosen = select_tools(["file.*", "chain-of-agents", "where", "file.read"], [where])
    assert [t.name for t in chosen] == ["file.list", "file.read", "chain-of-agents", "where"]
    with pytest.raises(UsageError, match=r"unknown tool 'wher'; did you mean 'where'\?"):
        select_tools(["wher"], [where])
    with pytest.raises(UsageError, match=r"tool pattern 'web\.\*' matches no tool"):
        select_tools(["web.*"])


async def test_tools_offered_twice_are_refused() -> None:
    with scripted_model(["never"]), pytest.raises(UsageError, match="offered twice: where"):
        await agent([where, where], InMemorySaver()).arun("?")
