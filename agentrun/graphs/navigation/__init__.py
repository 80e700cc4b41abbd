"""Landmark navigation: Perceive, Reflect, and Plan (PReP) through a seeded city simulator.

`Navigation(config, environment=...).arun(task)` walks one `CityTask` to its goal or its step
limit; without a task, `arun(city_seed=..., task_seed=...)` samples one (what a pipeline runs).
The graph is in `graph.py`, its prompts in `prompts.py`, the geometry in `wayfinding.py`; the
city itself (`city.py`), the environment that steps through it (`simulator.py`, behind the
`environment.py` interface) and its pictures (`render.py`) are here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.graph import StateGraph

from agentrun.graphs.base import BuildContext
from agentrun.graphs.navigation.city import CityConfig, CityTask, sample_tasks, spl
from agentrun.graphs.navigation.context import (
    EnvironmentWorkflow,
    NavigationContext,
    navigation_context,
)
from agentrun.graphs.navigation.environment import Environment, Observation, StepResult
from agentrun.graphs.navigation.graph import build_graph, initial_state
from agentrun.graphs.navigation.models import (
    NavigationConfig,
    NavigationInputs,
    NavigationResult,
    Strategy,
)
from agentrun.graphs.navigation.simulator import CityEnvironment
from agentrun.graphs.runtime import Session


class Navigation(EnvironmentWorkflow[NavigationConfig, NavigationInputs, NavigationResult]):
    """PReP (or, by `strategy`, the ReAct baseline or PReP with code choosing every exit) on one
    task; a run that stopped resumes from its checkpoint, the environment replayed to it."""

    name = "navigation"
    description = (
        "Perceive, reflect and plan (PReP) through a seeded city simulator to a goal described "
        "only relative to landmarks; one sampled task per run. City inputs: occlusion (0-1), "
        "visibility_m, bearing_noise_deg, distance_noise (relative)."
    )

    def build(self, ctx: BuildContext[NavigationConfig]) -> StateGraph[Any, Any, Any, Any]:
        return build_graph(ctx.config)

    async def start(self, inputs: NavigationInputs, session: Session) -> Mapping[str, Any]:
        return initial_state(inputs.city_task())

    async def finish(self, state: Mapping[str, Any], session: Session) -> NavigationResult:
        task = CityTask.model_validate(state["task"])
        actions = list(state.get("actions", []))
        success, goal = bool(state.get("success")), state.get("goal")
        return NavigationResult(
            strategy=self.config.strategy, task_id=task.task_id, success=success,
            steps=len(actions), shortest_hops=task.shortest_hops, step_limit=task.step_limit,
            spl=spl(success, task.shortest_hops, len(actions)), actions=actions,
            goal_estimate=list(goal) if goal else None, fallbacks=int(state.get("fallbacks", 0)),
            decisions=int(state.get("decisions", 0)), overrides=int(state.get("overrides", 0)),
            plan_revisions=int(state.get("plan_revisions", 0)), loops=int(state.get("loops", 0)),
            warnings=list(state.get("warnings", [])),
        )  # fmt: skip


__all__ = [
    "CityConfig",
    "CityEnvironment",
    "CityTask",
    "Environment",
    "EnvironmentWorkflow",
    "Navigation",
    "NavigationConfig",
    "NavigationContext",
    "NavigationInputs",
    "NavigationResult",
    "Observation",
    "StepResult",
    "Strategy",
    "build_graph",
    "navigation_context",
    "sample_tasks",
]
