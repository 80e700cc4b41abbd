"""Tour navigation (Mobility VLA) over the navigation package's city simulator."""

from agentrun.graphs.tour_navigation.graph import (
    TourConfig,
    TourResult,
    aresume,
    arun,
    arun_sampled,
    build_graph,
    parse_frame,
    resume,
    run,
)

__all__ = [
    "TourConfig",
    "TourResult",
    "aresume",
    "arun",
    "arun_sampled",
    "build_graph",
    "parse_frame",
    "resume",
    "run",
]
