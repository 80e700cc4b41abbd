"""What a tool may use of the run that calls it.

A tool function that needs the run declares a parameter annotated `ToolContext`; `FunctionTool`
fills it in at call time (`await tool.call(arguments, context=ctx)`) and leaves it out of the
JSON Schema the model sees, so a model can never choose the store, the namespace or the folders
a tool works in. Whoever runs the tool (a pipeline step, the agent loop) builds the context from
its own run; this module knows nothing of graphs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentrun.agents.ledger import Usage
from agentrun.errors import ToolCallError
from agentrun.memory.namespaces import records_ns
from agentrun.tools.sandbox import FileRoots

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

    from agentrun.agents.gateway import Gateway


@dataclass
class ToolContext:
    """The run's resources a tool may use; what a run does not have is None."""

    #: The run's store, scoped to its namespace (reads of `readable` ones allowed).
    store: BaseStore | None = None
    namespace: tuple[str, ...] = ("default",)
    #: Namespaces besides its own that the run may read (a pipeline's `memory.read`).
    readable: tuple[tuple[str, ...], ...] = ()
    #: The folders file tools may read; None: no file access at all.
    files: FileRoots | None = None
    gateway: Gateway | None = None
    #: The run's checkpointer (a workflow run as a tool keeps its own thread in it).
    checkpointer: Any = None
    run_id: str = ""
    #: The calling step (`answer`, `worker[2]`), for events and usage by node.
    node: str = ""
    #: This call's key in the run (step, turn, call id): unique, the same after a resume.
    call_key: str = ""
    #: The caller's model alias, the default for a workflow run as a tool.
    model: str | None = None
    stream_text: bool = False
    #: What the tool spent on model calls (a workflow run as a tool adds its usage here).
    usage: Usage = field(default_factory=Usage)

    def for_call(self, call_key: str) -> ToolContext:
        """A copy for one call: its own key and a fresh usage."""
        return dataclasses.replace(self, call_key=call_key, usage=Usage())

    def ns(self, *parts: str) -> tuple[str, ...]:
        """A store namespace inside the run's records."""
        return records_ns(self.namespace, *parts)

    def require_store(self, tool: str) -> BaseStore:
        if self.store is None:
            raise ToolCallError(tool, "this run has no memory store")
        return self.store

    def require_files(self, tool: str) -> FileRoots:
        if self.files is None:
            raise ToolCallError(tool, "this run allows no folders to read")
        return self.files


__all__ = ["ToolContext"]
