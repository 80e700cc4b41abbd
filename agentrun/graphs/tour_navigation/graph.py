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
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.ledger import Usage
from agentrun.agents.messages import Image, Message, system
from agentrun.graphs import runtime
from agentrun.graphs.navigation import (
    NavigationContext,
    navigation_context,
    navigation_session,
    sampled_city,
)
from agentrun.graphs.navigation.render import local_map_png
from agentrun.graphs.runtime import (
    EventHandler,
    add_usage,
    usage_of,
    usage_update,
)
from agentrun.graphs.tour_navigation.tour import Tour, TourTask, sample_tour_tasks

_NUMBER = re.compile(r"\d+")


class TourConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = LOCAL_MODEL
    frames: Literal["captions", "images"] = Field(
        default="captions", description="images: each frame's map image too (needs a VLM)."
    )
    max_tokens: int = Field(default=8, gt=0)
    temperature: float = Field(default=0.0, ge=0)


class TourResult(BaseModel):
    task_id: str
    thread_id: str
    instruction: str
    start_frame: int
    chosen_frame: int
    goal_frames: list[int]
    frame_correct: bool
    success: bool
    steps: int
    fallback: bool = Field(description="The reply named no frame; the agent stayed put.")
    usage: dict[str, Any] = Field(default_factory=dict)


class TourState(TypedDict, total=False):
    task: dict[str, Any]
    start_frame: int
    chosen_frame: int
    fallback: bool
    actions: list[str]
    success: bool
    usage: Annotated[dict[str, Any], add_usage]
    warnings: Annotated[list[str], operator.add]


def choose_messages(tour: Tour, current: int, instruction: str, images: bool) -> list[Message]:
    """Every frame labelled 'Frame i', the current frame, the instruction; ask for a number."""
    parts: list[Any] = [{"type": "text", "text": "A tour of the neighbourhood, frame by frame:"}]
    for frame in tour.frames:
        parts.append({"type": "text", "text": f"Frame {frame.index}: {frame.caption}"})
        if images:
            png = local_map_png(tour.city, frame.node, frame.heading)
            parts.append(Image(png, mime_type="image/png").to_part())
    parts.append(
        {
            "type": "text",
            "text": f"You are at frame {current}.\nInstruction: {instruction}\n"
            "Which frame is the place to go? Reply with the frame number only.",
        }
    )
    if not images:
        text = "\n".join(part["text"] for part in parts)
        return [
            system("You guide a robot using a recorded tour."),
            {"role": "user", "content": text},
        ]
    return [system("You guide a robot using a recorded tour."), {"role": "user", "content": parts}]


def parse_frame(reply: str, count: int) -> int | None:
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


def result_from_state(state: dict[str, Any], thread_id: str) -> TourResult:
    task = TourTask.model_validate(state["task"])
    goals = task.goal_frames()
    chosen = int(state["chosen_frame"])
    return TourResult(
        task_id=task.task_id, thread_id=thread_id, instruction=task.instruction,
        start_frame=int(state["start_frame"]), chosen_frame=chosen, goal_frames=goals,
        frame_correct=chosen in goals, success=bool(state.get("success")),
        steps=len(state.get("actions", [])), fallback=bool(state.get("fallback")),
        usage=Usage.from_dict(state.get("usage")).to_dict(),
    )  # fmt: skip


async def arun(
    task: TourTask,
    *,
    config: TourConfig | None = None,
    thread_id: str | None = None,
    on_event: EventHandler | None = None,
    **resources: Any,
) -> TourResult:
    """Follow `task.instruction` using the task's tour; resumable by `thread_id` like the rest.
    `resources` are those of `navigation.navigation_session`."""
    config = config or TourConfig()
    thread_id = thread_id or runtime.new_thread_id()
    async with navigation_session(thread_id=thread_id, **resources) as session:
        graph = build_graph(config)
        snapshot = await session.compile(graph).aget_state(
            {"configurable": {"thread_id": thread_id}}
        )
        graph_input = None if snapshot.values else {"task": task.model_dump(mode="json")}
        state = await session.run(graph, graph_input, on_event=on_event)
        return result_from_state(state, thread_id)


async def aresume(
    thread_id: str,
    *,
    config: TourConfig | None = None,
    on_event: EventHandler | None = None,
    **resources: Any,
) -> TourResult:
    """Continue a failed or killed tour episode from its last checkpoint."""
    config = config or TourConfig()
    async with navigation_session(thread_id=thread_id, **resources) as session:
        graph = build_graph(config)
        await session.saved(graph)
        state = await session.run(graph, None, on_event=on_event)
        return result_from_state(state, thread_id)


async def arun_sampled(
    *,
    city_seed: int = 0,
    task_seed: int = 0,
    radius_m: float = 300.0,
    occlusion: float | None = None,
    visibility_m: float | None = None,
    **options: Any,
) -> TourResult:
    """Follow the first tour task sampled from the city of `city_seed` (what a pipeline runs):
    the same seeds and settings give the same tour and instruction. `options` are `arun`'s."""
    city = sampled_city(city_seed, occlusion=occlusion, visibility_m=visibility_m)
    task = sample_tour_tasks(city, 1, seed=task_seed, radius_m=radius_m)[0]
    return await arun(task, **options)


def run(task: TourTask, **options: Any) -> TourResult:
    """Sync twin of `arun`."""
    return runtime.run_sync(arun(task, **options))


def resume(thread_id: str, **options: Any) -> TourResult:
    """Sync twin of `aresume`."""
    return runtime.run_sync(aresume(thread_id, **options))
