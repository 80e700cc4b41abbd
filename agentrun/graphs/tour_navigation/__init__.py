"""Tour navigation (Mobility VLA) through the navigation package's city simulator.

`TourNavigation(config, environment=...).arun(task)` follows one `TourTask`'s instruction with
its recorded tour (`tour.py`); without a task, `arun(city_seed=..., task_seed=...)` samples one
(what a pipeline runs). The graph is in `graph.py`, its prompt in `prompts.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.graph import StateGraph

from agentrun.graphs.base import BuildContext
from agentrun.graphs.navigation.context import EnvironmentWorkflow
from agentrun.graphs.runtime import Session
from agentrun.graphs.tour_navigation.graph import build_graph, parse_frame
from agentrun.graphs.tour_navigation.models import TourConfig, TourInputs, TourResult
from agentrun.graphs.tour_navigation.tour import Tour, TourTask, sample_tour_tasks


class TourNavigation(EnvironmentWorkflow[TourConfig, TourInputs, TourResult]):
    """The model names the goal frame of the tour; a shortest-path executor walks there."""

    name = "tour-navigation"
    description = (
        "Tour navigation (Mobility VLA): a recorded tour of a seeded city neighbourhood becomes "
        "a graph; the model picks the goal frame for the instruction and a shortest-path "
        "executor walks there. One sampled task per run."
    )

    def build(self, ctx: BuildContext[TourConfig]) -> StateGraph[Any, Any, Any, Any]:
        return build_graph(ctx.config)

    async def start(self, inputs: TourInputs, session: Session) -> Mapping[str, Any]:
        return {"task": inputs.tour_task().model_dump(mode="json")}

    async def finish(self, state: Mapping[str, Any], session: Session) -> TourResult:
        task = TourTask.model_validate(state["task"])
        goals = task.goal_frames()
        chosen = int(state["chosen_frame"])
        return TourResult(
            task_id=task.task_id, instruction=task.instruction,
            start_frame=int(state["start_frame"]), chosen_frame=chosen, goal_frames=goals,
            frame_correct=chosen in goals, success=bool(state.get("success")),
            steps=len(state.get("actions", [])), fallback=bool(state.get("fallback")),
        )  # fmt: skip


__all__ = [
    "Tour",
    "TourConfig",
    "TourInputs",
    "TourNavigation",
    "TourResult",
    "TourTask",
    "build_graph",
    "parse_frame",
    "sample_tour_tasks",
]
