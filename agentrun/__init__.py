"""agentrun: graph-defined agent workflows over long context, on any model LiteLLM reaches.

The public API is importable from here; heavy parts load on first use, so `import agentrun`
is fast, configures no logging and changes no environment variable.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentrun._version import __version__
from agentrun.errors import (
    AgentrunError,
    AnswerError,
    AuthenticationFailedError,
    BudgetError,
    ConfigError,
    ContextLengthError,
    CostLimitError,
    DiskFullError,
    EndpointUnreachableError,
    FileOutsideRootsError,
    InputFileError,
    LocalModelStartError,
    McpServerError,
    MemoryStoreError,
    MissingAPIKeyError,
    ModelCallError,
    ModelError,
    RetryAfterTooLongError,
    RunFailedError,
    ScriptedModelError,
    SpecError,
    StructuredOutputError,
    ToolArgumentsError,
    ToolCallError,
    ToolError,
    UnknownModelError,
    UsageError,
)

if TYPE_CHECKING:
    from agentrun.agents import (
        Completion,
        Gateway,
        GatewayConfig,
        Image,
        Ledger,
        LocalModelConfig,
        ModelConfig,
        RetryPolicy,
    )
    from agentrun.graphs.agent_write import AgentWrite, AgentWriteConfig, AgentWriteResult
    from agentrun.graphs.base import NO_ANSWER, BuildContext, Workflow, WorkflowResult
    from agentrun.graphs.chain_of_agents import (
        ChainOfAgents,
        ChainOfAgentsConfig,
        ChainOfAgentsResult,
    )
    from agentrun.graphs.events import (
        CheckpointSaved,
        Event,
        Interrupted,
        ModelCalled,
        NodeFinished,
        NodeStarted,
        PendingQuestion,
        RunFinished,
        TokenDelta,
        ToolCalled,
        parse_event,
    )
    from agentrun.graphs.human import Review, ask, review
    from agentrun.graphs.navigation import Navigation, NavigationConfig, NavigationResult
    from agentrun.graphs.registry import get_workflow, register_workflow, workflow_names
    from agentrun.graphs.retrieve_then_reason import (
        RetrieveThenReason,
        RetrieveThenReasonConfig,
        RetrieveThenReasonResult,
    )
    from agentrun.graphs.runtime import Session, WorkflowContext
    from agentrun.graphs.tour_navigation import TourConfig, TourNavigation, TourResult
    from agentrun.pipeline import Pipeline, PipelineResult, load_pipeline

_LAZY = {
    "load_pipeline": "agentrun.pipeline",
    "Pipeline": "agentrun.pipeline",
    "Completion": "agentrun.agents",
    "Gateway": "agentrun.agents",
    "GatewayConfig": "agentrun.agents",
    "Image": "agentrun.agents",
    "Ledger": "agentrun.agents",
    "LocalModelConfig": "agentrun.agents",
    "ModelConfig": "agentrun.agents",
    "RetryPolicy": "agentrun.agents",
    "Workflow": "agentrun.graphs.base",
    "WorkflowResult": "agentrun.graphs.base",
    "BuildContext": "agentrun.graphs.base",
    "NO_ANSWER": "agentrun.graphs.base",
    "Session": "agentrun.graphs.runtime",
    "WorkflowContext": "agentrun.graphs.runtime",
    "register_workflow": "agentrun.graphs.registry",
    "get_workflow": "agentrun.graphs.registry",
    "workflow_names": "agentrun.graphs.registry",
    "ask": "agentrun.graphs.human",
    "review": "agentrun.graphs.human",
    "Review": "agentrun.graphs.human",
    "Event": "agentrun.graphs.events",
    "NodeStarted": "agentrun.graphs.events",
    "NodeFinished": "agentrun.graphs.events",
    "TokenDelta": "agentrun.graphs.events",
    "ModelCalled": "agentrun.graphs.events",
    "ToolCalled": "agentrun.graphs.events",
    "CheckpointSaved": "agentrun.graphs.events",
    "Interrupted": "agentrun.graphs.events",
    "PendingQuestion": "agentrun.graphs.events",
    "RunFinished": "agentrun.graphs.events",
    "parse_event": "agentrun.graphs.events",
    "ChainOfAgents": "agentrun.graphs.chain_of_agents",
    "ChainOfAgentsConfig": "agentrun.graphs.chain_of_agents",
    "ChainOfAgentsResult": "agentrun.graphs.chain_of_agents",
    "RetrieveThenReason": "agentrun.graphs.retrieve_then_reason",
    "RetrieveThenReasonConfig": "agentrun.graphs.retrieve_then_reason",
    "RetrieveThenReasonResult": "agentrun.graphs.retrieve_then_reason",
    "AgentWrite": "agentrun.graphs.agent_write",
    "AgentWriteConfig": "agentrun.graphs.agent_write",
    "AgentWriteResult": "agentrun.graphs.agent_write",
    "Navigation": "agentrun.graphs.navigation",
    "NavigationConfig": "agentrun.graphs.navigation",
    "NavigationResult": "agentrun.graphs.navigation",
    "TourNavigation": "agentrun.graphs.tour_navigation",
    "TourConfig": "agentrun.graphs.tour_navigation",
    "TourResult": "agentrun.graphs.tour_navigation",
    "PipelineResult": "agentrun.pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentrun' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "NO_ANSWER",
    "AgentWrite",
    "AgentWriteConfig",
    "AgentWriteResult",
    "AgentrunError",
    "AnswerError",
    "AuthenticationFailedError",
    "BudgetError",
    "BuildContext",
    "ChainOfAgents",
    "ChainOfAgentsConfig",
    "ChainOfAgentsResult",
    "CheckpointSaved",
    "Completion",
    "ConfigError",
    "ContextLengthError",
    "CostLimitError",
    "DiskFullError",
    "EndpointUnreachableError",
    "Event",
    "FileOutsideRootsError",
    "Gateway",
    "GatewayConfig",
    "Image",
    "InputFileError",
    "Interrupted",
    "Ledger",
    "LocalModelConfig",
    "LocalModelStartError",
    "McpServerError",
    "MemoryStoreError",
    "MissingAPIKeyError",
    "ModelCallError",
    "ModelCalled",
    "ModelConfig",
    "ModelError",
    "Navigation",
    "NavigationConfig",
    "NavigationResult",
    "NodeFinished",
    "NodeStarted",
    "PendingQuestion",
    "Pipeline",
    "PipelineResult",
    "RetrieveThenReason",
    "RetrieveThenReasonConfig",
    "RetrieveThenReasonResult",
    "RetryAfterTooLongError",
    "RetryPolicy",
    "Review",
    "RunFailedError",
    "RunFinished",
    "ScriptedModelError",
    "Session",
    "SpecError",
    "StructuredOutputError",
    "TokenDelta",
    "ToolArgumentsError",
    "ToolCallError",
    "ToolCalled",
    "ToolError",
    "TourConfig",
    "TourNavigation",
    "TourResult",
    "UnknownModelError",
    "UsageError",
    "Workflow",
    "WorkflowContext",
    "WorkflowResult",
    "__version__",
    "ask",
    "get_workflow",
    "load_pipeline",
    "parse_event",
    "register_workflow",
    "review",
    "workflow_names",
]
