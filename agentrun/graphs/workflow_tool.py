"""Registered workflows as tools, and the one lookup of a tool name for pipelines and agents.

`WorkflowTool(ChainOfAgents)` is a `Tool` whose arguments are the workflow's `Inputs`: an agent
can hand a long document to `chain-of-agents`. It runs the workflow on the caller's gateway,
store and checkpointer, on a thread of its own named after the caller's run and the call (so a
resumed run continues it rather than starting again), passes its events on under the caller's
node, adds its usage to the call's, and returns its `output`.

`lookup_tool(name)` finds a registered tool, else a registered workflow as a tool; names such as
`file.*` select every tool under a prefix (`select_tools`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from agentrun.agents.ledger import Usage
from agentrun.errors import ToolArgumentsError, ToolCallError, UsageError
from agentrun.graphs import registry as workflows
from agentrun.graphs import runtime
from agentrun.graphs.base import Workflow, pass_on
from agentrun.tools import registry as tools
from agentrun.tools.context import ToolContext
from agentrun.tools.function import Tool, argument_problems, compact_schema

#: A pattern naming every tool under a prefix: `file.*`, `files.*` (an MCP server's tools).
PATTERN_SUFFIX = ".*"


class WorkflowTool(Tool):
    """A registered workflow as a tool: arguments are its `Inputs`, the result its `output`."""

    def __init__(
        self,
        workflow: type[Workflow[Any, Any, Any]],
        config: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        summary = description or workflow.description or (workflow.__doc__ or "").strip()
        schema = compact_schema(workflow.Inputs.model_json_schema())
        super().__init__(name or workflow.name, summary.split("\n\n")[0], schema)
        self.workflow = workflow
        self.config = dict(config or {})

    @property
    def arguments_model(self) -> type[BaseModel]:
        return self.workflow.Inputs

    def validate(self, arguments: dict[str, Any]) -> Any:
        try:
            return self.workflow.Inputs.model_validate(arguments)
        except ValidationError as exc:
            raise ToolArgumentsError(self.name, argument_problems(exc)) from None

    async def _run(self, arguments: Any, context: ToolContext | None) -> Any:
        if context is None or context.gateway is None or context.store is None:
            raise UsageError(f"tool {self.name!r} runs a workflow: call it with a ToolContext "
                             "holding the run's gateway and store")  # fmt: skip
        config = dict(self.config)
        if "model" in self.workflow.Config.model_fields and context.model:
            config.setdefault("model", context.model)
        workflow = self.workflow(
            config, gateway=context.gateway, store=context.store,
            checkpointer=context.checkpointer, namespace=context.namespace,
            stream_text=context.stream_text,
        )  # fmt: skip
        thread = nested_thread(context.run_id, context.call_key or self.name)
        saver = context.checkpointer
        if saver is not None and await runtime.has_checkpoint(saver, thread):
            events = workflow.astream_resume(thread)  # begun before the run was stopped
        else:
            events = workflow.astream(arguments, thread_id=thread)
        label = f"{context.node}/{self.name}" if context.node else self.name
        result = await pass_on(events, label)
        if result.interrupt is not None:
            raise ToolCallError(self.name, "the workflow stopped to ask a person, which a tool "
                                "cannot do; run it as a pipeline step instead")  # fmt: skip
        spent = Usage.from_dict({**result.usage, "by_node": result.usage_by_node})
        context.usage = context.usage + spent.under(label)
        return result.output


def nested_thread(run_id: str, key: str) -> str:
    """The thread of a run nested in `run_id` for `key` (a step or a call)."""
    return f"{run_id}-{re.sub(r'[^A-Za-z0-9_-]+', '-', key).strip('-')}"


# --- names -----------------------------------------------------------------------------------


def lookup_tool(name: str) -> Tool | None:
    """The tool registered as `name`, else the workflow registered as `name` as a tool."""
    found = tools.find_tool(name)
    if found is not None:
        return found
    if name in workflows.workflow_names():
        return WorkflowTool(workflows.get_workflow(name))
    return None


def known_names() -> list[str]:
    """Every name `lookup_tool` knows: tools, then workflows."""
    return sorted({*tools.tool_names(), *workflows.workflow_names()})


def is_pattern(name: str) -> bool:
    return name.endswith(PATTERN_SUFFIX)


def select_tools(names: Iterable[str], available: Sequence[Tool] = ()) -> list[Tool]:
    """The tools `names` name, in order and each once: single names (registered tools,
    workflows, or tools among `available`, e.g. an MCP server's) and `prefix.*` patterns over
    all of them. A name or pattern that finds nothing is a `UsageError` listing the choices."""
    extra = {tool.name: tool for tool in available}
    chosen: dict[str, Tool] = {}
    for name in names:
        if is_pattern(name):
            prefix = name.removesuffix("*")
            matching = [n for n in sorted({*extra, *tools.tool_names()}) if n.startswith(prefix)]
            if not matching:
                raise UsageError(f"tool pattern {name!r} matches no tool (tools: "
                                 f"{', '.join(sorted({*extra, *known_names()}))})")  # fmt: skip
            for match in matching:
                chosen.setdefault(match, extra.get(match) or tools.get_tool(match))
            continue
        found = extra.get(name) or lookup_tool(name)
        if found is None:
            raise UsageError(tools.unknown_tool(name, also=[*extra, *workflows.workflow_names()]))
        chosen.setdefault(name, found)
    return list(chosen.values())


__all__ = [
    "WorkflowTool",
    "is_pattern",
    "known_names",
    "lookup_tool",
    "nested_thread",
    "select_tools",
]
