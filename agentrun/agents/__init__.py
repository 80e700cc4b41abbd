"""The model gateway over LiteLLM and the agent roles built on it."""

from agentrun.agents.config import (
    LOCAL_MODEL,
    CacheConfig,
    GatewayConfig,
    LocalModelConfig,
    ModelConfig,
    RetryPolicy,
)
from agentrun.agents.gateway import Completion, Gateway
from agentrun.agents.ledger import CallRecord, Ledger, Usage, current_node, current_run
from agentrun.agents.messages import Image, assistant, system, tool_result, user
from agentrun.agents.tool_calls import ToolCall

__all__ = [
    "LOCAL_MODEL",
    "CacheConfig",
    "CallRecord",
    "Completion",
    "Gateway",
    "GatewayConfig",
    "Image",
    "Ledger",
    "LocalModelConfig",
    "ModelConfig",
    "RetryPolicy",
    "ToolCall",
    "Usage",
    "assistant",
    "current_node",
    "current_run",
    "system",
    "tool_result",
    "user",
]
