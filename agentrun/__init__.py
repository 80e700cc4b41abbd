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
    AuthenticationFailedError,
    BudgetError,
    ConfigError,
    ContextLengthError,
    CostLimitError,
    EndpointUnreachableError,
    FileOutsideRootsError,
    InputFileError,
    LocalModelStartError,
    MemoryStoreError,
    MissingAPIKeyError,
    ModelCallError,
    ModelError,
    RetryAfterTooLongError,
    RunFailedError,
    ScriptedModelError,
    SpecError,
    StructuredOutputError,
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
    from agentrun.pipeline import Pipeline, load_pipeline

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
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentrun' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AgentrunError",
    "AuthenticationFailedError",
    "BudgetError",
    "Completion",
    "ConfigError",
    "ContextLengthError",
    "CostLimitError",
    "EndpointUnreachableError",
    "FileOutsideRootsError",
    "Gateway",
    "GatewayConfig",
    "Image",
    "InputFileError",
    "Ledger",
    "LocalModelConfig",
    "LocalModelStartError",
    "MemoryStoreError",
    "MissingAPIKeyError",
    "ModelCallError",
    "ModelConfig",
    "ModelError",
    "Pipeline",
    "RetryAfterTooLongError",
    "RetryPolicy",
    "RunFailedError",
    "ScriptedModelError",
    "SpecError",
    "StructuredOutputError",
    "UnknownModelError",
    "UsageError",
    "__version__",
    "load_pipeline",
]
