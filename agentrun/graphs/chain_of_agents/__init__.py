"""Chain of Agents: workers read a long document in order; a manager answers from the last
communication unit (`graph`), and the baselines it is measured against (`baselines`)."""

from agentrun.graphs.chain_of_agents.graph import (
    ChainOfAgentsConfig,
    ChainOfAgentsResult,
    aresume,
    arun,
    resume,
    run,
)

__all__ = ["ChainOfAgentsConfig", "ChainOfAgentsResult", "aresume", "arun", "resume", "run"]
