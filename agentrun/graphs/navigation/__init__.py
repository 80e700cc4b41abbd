"""Landmark navigation (PReP) and the seeded city simulator it walks."""

from agentrun.graphs.navigation.graph import (
    NavigationConfig,
    NavigationContext,
    NavigationResult,
    Strategy,
    aresume,
    arun,
    arun_sampled,
    build_graph,
    navigation_context,
    navigation_session,
    resume,
    run,
    sampled_city,
)

__all__ = [
    "NavigationConfig",
    "NavigationContext",
    "NavigationResult",
    "Strategy",
    "aresume",
    "arun",
    "arun_sampled",
    "build_graph",
    "navigation_context",
    "navigation_session",
    "resume",
    "run",
    "sampled_city",
]
