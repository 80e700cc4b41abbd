"""A question answered by a model with tools: the agent loop as a workflow of its own.

`ToolAgent(ToolAgentConfig(model=..., tools=["memory.search", "file.*"]), tools=[my_tool])`
offers the named tools (registered tools, registered workflows, `prefix.*`) and any `Tool`
objects given (an MCP client's, your own), and runs `agent_node` on the question: resumable,
with every model and tool call checkpointed. With no tools it is one model call (a baseline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.messages import Message
from agentrun.graphs.agent_loop import DEFAULT_MAX_STEPS, DEFAULT_TOOL_TIMEOUT_S, agent_node
from agentrun.graphs.agent_loop import tool_context as make_tool_context
from agentrun.graphs.base import BuildContext, Workflow, WorkflowResult
from agentrun.graphs.runtime import Session, WorkflowContext, add_usage
from agentrun.graphs.workflow_tool import select_tools
from agentrun.tools.context import ToolContext
from agentrun.tools.function import Tool
from agentrun.tools.sandbox import FileRoots


class ToolAgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = LOCAL_MODEL
    tools: list[str] = Field(
        default_factory=list, description="Registered tools or workflows, or `prefix.*`."
    )
    system: str | None = Field(default=None, description="The system message.")
    max_steps: int = Field(default=DEFAULT_MAX_STEPS, ge=1, le=100)
    tool_timeout_s: float = Field(default=DEFAULT_TOOL_TIMEOUT_S, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    file_roots: list[str] = Field(
        default_factory=list, description="Folders file tools may read (none: no files)."
    )


class ToolAgentInputs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="What to answer.")


class ToolAgentResult(WorkflowResult):
    output_field = "answer"

    answer: str = ""
    steps: int = 0
    tool_calls: int = 0


class ToolAgentState(TypedDict, total=False):
    messages: list[Message]
    answer: str
    steps: int
    tool_calls: int
    usage: Annotated[dict[str, Any], add_usage]


class ToolAgent(Workflow[ToolAgentConfig, ToolAgentInputs, ToolAgentResult]):
    """Answer a question with tools (the agent loop)."""

    name = "tool-agent"
    description = "A model answers a question, calling tools until it can."

    def __init__(
        self,
        config: ToolAgentConfig | Mapping[str, Any] | None = None,
        *,
        tools: Sequence[Tool] = (),
        **options: Any,
    ) -> None:
        super().__init__(config, **options)
        self.extra_tools = list(tools)

    def offered(self) -> list[Tool]:
        """The tools the model is offered: those named in the config, then those given."""
        named = select_tools(self.config.tools, self.extra_tools)
        return [*named, *(t for t in self.extra_tools if t not in named)]

    def build(
        self, ctx: BuildContext[ToolAgentConfig]
    ) -> StateGraph[ToolAgentState, WorkflowContext, Any, Any]:
        config = ctx.config
        files = FileRoots.of(config.file_roots) if config.file_roots else None

        def tools_see(run: WorkflowContext) -> ToolContext:
            return make_tool_context(run, node="agent", files=files, model=config.model)

        options: dict[str, Any] = {"max_tokens": config.max_tokens} if config.max_tokens else {}
        node: Any = agent_node(  # a node function, as LangGraph types them
            config.model, self.offered(), node="agent", max_steps=config.max_steps,
            context=tools_see, tool_timeout_s=config.tool_timeout_s, **options,
        )  # fmt: skip
        graph: StateGraph[ToolAgentState, WorkflowContext, Any, Any] = StateGraph(
            ToolAgentState, context_schema=WorkflowContext
        )
        graph.add_node("agent", node)
        graph.add_edge(START, "agent")
        graph.add_edge("agent", END)
        return graph

    async def start(self, inputs: ToolAgentInputs, session: Session) -> Mapping[str, Any]:
        messages: list[Message] = []
        if self.config.system:
            messages.append({"role": "system", "content": self.config.system})
        messages.append({"role": "user", "content": inputs.question})
        return {"messages": messages}

    async def finish(self, state: Mapping[str, Any], session: Session) -> ToolAgentResult:
        return ToolAgentResult(
            answer=state.get("answer", ""), steps=state.get("steps", 0),
            tool_calls=state.get("tool_calls", 0),
        )  # fmt: skip


__all__ = ["ToolAgent", "ToolAgentConfig", "ToolAgentInputs", "ToolAgentResult"]
