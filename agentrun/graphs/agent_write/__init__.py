"""AgentWrite: long texts that hit the requested length (see `graph`)."""

from agentrun.graphs.agent_write.graph import (
    AgentWriteConfig,
    AgentWriteResult,
    EmptySectionError,
    PlanError,
    SectionResult,
    all_previous_text_tokens,
    aresume,
    arun,
    resume,
    run,
)

__all__ = [
    "AgentWriteConfig",
    "AgentWriteResult",
    "EmptySectionError",
    "PlanError",
    "SectionResult",
    "all_previous_text_tokens",
    "aresume",
    "arun",
    "resume",
    "run",
]
