"""Tour navigation (Mobility VLA): a model picks the goal frame, a graph executor walks there.

Offline, the task's demonstration tour becomes a topological graph (`tour.py`). Online: localize
the current view to a frame (deterministic matching), ask the model for the goal frame given
every frame's caption (and map image, for a VLM) and the instruction, then follow the graph's
shortest path in the environment. Each of the three is a checkpointed graph step; an
unparseable frame number falls back to staying at the current frame, and is counted.
"""

from __future__ import annotations

import operator
import re
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from agentrun.graphs import runtime
from agentrun.graphs.navigation.context import NavigationContext, navigation_context
from agentrun.graphs.runtime import add_usage, usage_of, usage_update
from agentrun.graphs.tour_navigation.models import TourConfig
from agentrun.graphs.tour_navigation.prompts import choose_messages
from agentrun.graphs.tour_navigation.tour import TourTask

_NUMBER = re.compile(r"\d+")


class TourState(TypedDict, total=False):
    task: dict[str, Any]
    start_frame: int
    chosen_frame: int
    fallback: bool
    actions: list[str]
    success: bool
    usage: Annotated[dict[str, Any], add_usage]
    warnings: Annotated[list[str], operator.add]


def parse_frame(reply: str, count: int) -> int | None:
    """The first number in the reply that is a frame of the tour."""
    for match in _NUMBER.finditer(reply):
        value = int(match.group())
        if 0 <= value < count:
            return value
    return None


def build_graph(config: TourConfig) -> StateGraph[TourState, NavigationContext, Any, Any]:
    """localize -> choose -> execute."""

    def task_of(state: TourState) -> TourTask:
        return TourTask.model_validate(state["task"])

    async def localize(state: TourState) -> dict[str, Any]:
        task = task_of(state)
        env = navigation_context().environment
        assert env is not None
        observation = env.reset(task.city_task())
        return {"start_frame": task.tour().localize(observation.text)}

    async def choose(state: TourState) -> dict[str, Any]:
        task = task_of(state)
        tour = task.tour()
        messages = choose_messages(
            tour, state["start_frame"], task.instruction, config.frames == "images"
        )
        completion = await runtime.complete(
            config.model, messages, node="choose",
            max_tokens=config.max_tokens, temperature=config.temperature,
        )  # fmt: skip
        frame = parse_frame(completion.text, len(tour.frames))
        return {
            "chosen_frame": state["start_frame"] if frame is None else frame,
            "fallback": frame is None,
            "usage": usage_update(usage_of(completion)),
        }

    async def execute(state: TourState) -> dict[str, Any]:
        task = task_of(state)
        env = navigation_context().environment
        assert env is not None
        env.reset(task.city_task())
        actions: list[str] = []
        success = False
        for move in task.tour().route(state["start_frame"], state["chosen_frame"]):
            result = env.step(move)
            actions.append(move)
            success = result.success
            if result.done:
                break
        return {"actions": actions, "success": success}

    graph: StateGraph[TourState, NavigationContext, Any, Any] = StateGraph(
        TourState, context_schema=NavigationContext
    )
    graph.add_node("localize", localize)
    graph.add_node("choose", choose)
    graph.add_node("execute", execute)
    graph.add_edge(START, "localize")
    graph.add_edge("localize", "choose")
    graph.add_edge("choose", "execute")
    graph.add_edge("execute", END)
    return graph
