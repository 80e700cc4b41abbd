"""Perceive, Reflect, and Plan (PReP): reach a goal described only relative to landmarks.

Each environment step runs perceive -> estimate -> memory -> reflect -> plan -> act, every one a
checkpointed graph step (Zeng et al., 2024):

- perceive: landmarks with bearing and distance, from the text observation (exact, or noisy if
  the simulator says so) or read off the image observation by a VLM; exits (odometry) always come
  from the text;
- estimate: one goal estimate per seen reference landmark, cur->goal = cur->L + L->goal, kept in
  egocentric coordinates (start at (0, 0), dead reckoning);
- memory: the egocentric visit grid and trajectory live in state; episodic experiences go to the
  shared store as `Experience` records and come back by similarity to the current perception;
- reflect: all estimates combined with outliers dropped; loop detection on the grid;
- plan: keep or revise a direction-level plan, rank exits (toward the goal, unvisited first, never
  straight back), and let the model choose among the top `candidates` moves, numbered, given the
  reflection's evidence (landmark agreement, a loop, moves that led back, moves already taken
  from here); a reply naming no candidate falls back to the best-ranked move and is counted;
- act: step the environment.

The numbers are code; the model makes the choice. `strategy="react"` is the ReAct-style baseline:
the model sees the instruction, its whole trajectory so far (one short line per step, appended,
so a local server reuses the prompt prefix) and the observation, and picks an exit.
`strategy="ranked"` is the ablation between the two: PReP's graph with every choice taken by
code (the best-ranked exit) and no planner call, so a comparison shows what the model adds.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import Item

from agentrun.agents.ledger import Usage
from agentrun.graphs import runtime
from agentrun.graphs.navigation import prompts
from agentrun.graphs.navigation import wayfinding as wf
from agentrun.graphs.navigation.city import DIRECTIONS, CityTask
from agentrun.graphs.navigation.context import NavigationContext, navigation_context
from agentrun.graphs.navigation.environment import Environment
from agentrun.graphs.navigation.models import NavigationConfig
from agentrun.graphs.runtime import add_usage, usage_of, usage_update
from agentrun.memory.records import Experience
from agentrun.memory.scope import searches_by_meaning

#: The strategies that run PReP's graph (`ranked` takes every choice by code).
PREP_GRAPH: frozenset[str] = frozenset({"prep", "ranked"})


class NavState(TypedDict, total=False):
    task: dict[str, Any]
    actions: list[str]
    done: bool
    success: bool
    observation: str
    perception: dict[str, Any]
    heading: float
    positions: list[list[float]]
    estimates: list[dict[str, Any]]
    goal: list[float] | None
    loop: bool
    legs: list[dict[str, Any]]
    plan_goal: list[float] | None
    plan_note: str
    experiences: list[str]
    summary: str
    choice: str
    history: list[str]
    fallbacks: Annotated[int, operator.add]
    decisions: Annotated[int, operator.add]
    overrides: Annotated[int, operator.add]
    plan_revisions: Annotated[int, operator.add]
    loops: Annotated[int, operator.add]
    outliers: int
    usage: Annotated[dict[str, Any], add_usage]
    warnings: Annotated[list[str], operator.add]


# --- state helpers ---------------------------------------------------------------------------


def _task(state: NavState) -> CityTask:
    return CityTask.model_validate(state["task"])


def _environment(state: NavState) -> Environment[CityTask]:
    """The environment in the state's position: reset and replayed if this process is behind."""
    ctx = navigation_context()
    env = ctx.environment
    assert env is not None
    actions = list(state.get("actions", []))
    if ctx.applied != actions:
        env.reset(_task(state))
        for action in actions:
            env.step(action)
        ctx.applied = actions
    return env


def _perception(state: NavState) -> wf.Perception:
    data = state["perception"]
    return wf.Perception(
        tuple(wf.Sighting(**s) for s in data["landmarks"]),
        tuple(wf.ExitView(**e) for e in data["exits"]),
    )


def _position(state: NavState) -> tuple[float, float]:
    x, y = state["positions"][-1]
    return x, y


def _legs(state: NavState) -> list[wf.Leg]:
    return [wf.Leg(**leg) for leg in state.get("legs", [])]


def _asdicts(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(item) for item in items]


async def _decide(
    config: NavigationConfig,
    messages: list[dict[str, Any]],
    allowed: Sequence[str],
    node: str,
    parse: Callable[[str, Sequence[str]], str | None] = wf.parse_direction,
) -> tuple[str, bool, Usage]:
    """Ask for one of `allowed`; (choice, parsed?, usage). Unparseable -> the first allowed
    (for PReP, the code's best-ranked move)."""
    completion = await runtime.complete(
        config.model, messages, node=node,
        max_tokens=config.decision_max_tokens, temperature=config.temperature,
    )  # fmt: skip
    choice = parse(completion.text, allowed)
    if choice is None:
        return allowed[0], False, usage_of(completion)
    return choice, True, usage_of(completion)


# --- graph -----------------------------------------------------------------------------------


def build_graph(config: NavigationConfig) -> StateGraph[NavState, NavigationContext, Any, Any]:
    """PReP (and `ranked`): perceive -> estimate -> memory -> reflect -> plan -> act, looping
    until done. ReAct: perceive -> decide -> act."""

    async def perceive(state: NavState) -> dict[str, Any]:
        env = _environment(state)
        allowed = set(env.available_actions())
        update: dict[str, Any] = {}
        if config.perception == "text":
            observation = env.observe("text")
            perception = wf.parse_observation(observation.text)
            landmarks = list(perception.landmarks)
        else:
            observation = env.observe("image")
            assert observation.image is not None
            completion = await runtime.complete(
                config.vlm, prompts.perceive_image(observation.image, state.get("heading", 0.0)),
                node="perceive", max_tokens=config.perception_max_tokens,
                temperature=config.temperature,
            )  # fmt: skip
            landmarks = wf.parse_landmarks(completion.text)
            update["usage"] = usage_update(usage_of(completion))
        exits = [ex for ex in wf.parse_exits(observation.text) if ex.direction in allowed]
        perceived = {"landmarks": _asdicts(landmarks), "exits": _asdicts(exits)}
        return {**update, "observation": observation.text, "perception": perceived}

    async def estimate(state: NavState) -> dict[str, Any]:
        references = wf.parse_goal(_task(state).instruction)
        found = wf.estimate_goal(
            _position(state), _perception(state).landmarks, references, len(state["actions"])
        )
        return {"estimates": [*state.get("estimates", []), *_asdicts(found)]}

    async def memory(state: NavState) -> dict[str, Any]:
        if config.experiences == 0:
            return {"experiences": []}
        ctx = navigation_context()
        namespace = ctx.ns("runs", ctx.run_id, "experiences")
        query = prompts.describe_perception(_perception(state))
        items: Sequence[Item]
        if searches_by_meaning(ctx.store):
            items = await ctx.store.asearch(namespace, query=query, limit=config.experiences)
        else:  # the most recent ones: keys are step numbers
            step = len(state["actions"])
            keys = [f"{i:06d}" for i in range(max(1, step - config.experiences + 1), step + 1)]
            found_items = [await ctx.store.aget(namespace, key) for key in keys]
            items = [item for item in found_items if item is not None]
        found = [Experience.from_value(item.value) for item in items]
        return {"experiences": [f"{e.state} You went {e.action}: {e.outcome}" for e in found]}

    async def reflect(state: NavState) -> dict[str, Any]:
        estimates = [wf.GoalEstimate(**e) for e in state.get("estimates", [])]
        goal, outliers = wf.reflect_goal(estimates)
        loop = wf.loop_detected(state["positions"], window=config.loop_window)
        update: dict[str, Any] = {
            "goal": list(goal) if goal else None, "outliers": outliers,
            "loop": loop, "loops": int(loop),
        }  # fmt: skip
        step = len(state["actions"])
        summarizes = config.summarize_every and config.strategy != "ranked"
        if summarizes and step and step % config.summarize_every == 0:
            recent = state.get("history", [])[-config.history :]
            completion = await runtime.complete(
                config.model, prompts.summarize_trajectory(recent), node="reflect",
                max_tokens=48, temperature=config.temperature,
            )  # fmt: skip
            update["summary"] = completion.text.strip()[:300]
            update["usage"] = usage_update(usage_of(completion))
        return update

    async def plan(state: NavState) -> dict[str, Any]:
        position = _position(state)
        goal = state.get("goal")
        legs, plan_goal = _legs(state), state.get("plan_goal")
        revised, note = False, "kept"
        if goal is not None:  # head for the reflected estimate; the legs say how, by street
            if plan_goal is None or math.dist(goal, plan_goal) > config.replan_shift_m or not legs:
                legs, plan_goal = wf.plan_legs(position, goal), goal
                revised, note = True, "revised: new goal estimate"
            elif state.get("loop"):
                legs, revised, note = wf.plan_legs(position, goal), True, "revised: loop"
            target = wf.bearing_to(goal[0] - position[0], goal[1] - position[1])
        else:  # explore away from where it has been, re-aimed every step
            explore = wf.explore_direction(state["positions"], state.get("heading", 0.0))
            if not legs or legs[0].direction != explore or state.get("loop"):
                legs, revised = [wf.Leg(explore, 300.0)], True
                note = "revised: loop" if state.get("loop") else "revised: explore"
            target = DIRECTIONS.index(explore) * 45.0
        previous = state["positions"][-2] if len(state["positions"]) > 1 else None
        visits = wf.visit_counts(state["positions"])
        tried = wf.departures(state["positions"], state.get("actions", []), position)
        options = wf.rank_options(_perception(state), position, previous, target, visits, tried)
        update: dict[str, Any] = {
            "legs": _asdicts(legs), "plan_goal": plan_goal, "plan_note": note,
            "plan_revisions": int(revised),
        }  # fmt: skip
        if len(options) == 1:  # forced move: nothing to decide
            return {**update, "choice": options[0].direction}
        if config.strategy == "ranked":  # the ablation: code decides, no model call
            return {**update, "choice": options[0].direction, "decisions": 1}
        candidates = options[: config.candidates]
        evidence = wf.gather_evidence(
            [wf.GoalEstimate(**e) for e in state.get("estimates", [])], goal,
            state.get("outliers", 0), state["positions"], bool(state.get("loop")),
            config.loop_window,
        )  # fmt: skip
        messages = prompts.prep_decision(
            _task(state).instruction, goal, position, legs, note, evidence,
            state.get("actions", [])[-config.history :], state.get("experiences", []),
            state.get("summary", ""), candidates,
        )  # fmt: skip
        choice, parsed, usage = await _decide(
            config, messages, [o.direction for o in candidates], "plan", wf.parse_choice
        )
        return {**update, "choice": choice, "fallbacks": int(not parsed), "decisions": 1,
                "overrides": int(choice != options[0].direction),
                "usage": usage_update(usage)}  # fmt: skip

    async def decide(state: NavState) -> dict[str, Any]:
        allowed = [ex["direction"] for ex in state["perception"]["exits"]]
        messages = prompts.react_decision(
            _task(state).instruction, state["observation"], state.get("history", []), allowed
        )
        choice, parsed, usage = await _decide(config, messages, allowed, "decide")
        return {"choice": choice, "fallbacks": int(not parsed), "decisions": 1,
                "usage": usage_update(usage)}  # fmt: skip

    async def act(state: NavState) -> dict[str, Any]:
        ctx = navigation_context()
        env = _environment(state)
        choice = state["choice"]
        before = _perception(state)
        exit_view = next(ex for ex in before.exits if ex.direction == choice)
        result = env.step(choice)
        actions = [*state.get("actions", []), choice]
        ctx.applied = list(actions)
        moved = wf.vector(exit_view.bearing, exit_view.length)
        x, y = _position(state)
        arrival = [x + moved[0], y + moved[1]]
        revisit = wf.visit_counts(state["positions"]).get(wf.cell_of(arrival), 0)
        outcome = (
            "reached the goal" if result.success
            else f"walked {exit_view.length:.0f} m to a {'visited' if revisit else 'new'} place"
        )  # fmt: skip
        seen = prompts.describe_perception(before)
        experience = Experience(
            text=f"{seen} Went {choice}.", place=wf.cell_of((x, y)), state=seen,
            action=choice, outcome=outcome,
        )  # fmt: skip
        index: list[str] | None = ["text"] if searches_by_meaning(ctx.store) else None
        await ctx.store.aput(
            ctx.ns("runs", ctx.run_id, "experiences"), f"{len(actions):06d}",
            experience.to_value(), index=index,
        )  # fmt: skip
        return {
            "actions": actions, "done": result.done, "success": result.success,
            "positions": [*state["positions"], arrival], "heading": exit_view.bearing,
            "legs": _asdicts(wf.advance_legs(_legs(state), moved)),
            "history": [
                *state.get("history", []),
                f"{prompts.describe_landmarks(before)}; went {choice}; {outcome}.",
            ],
        }  # fmt: skip

    def next_step(state: NavState) -> str:  # a task starting at its goal takes no step
        return END if state.get("done") else "perceive"

    graph: StateGraph[NavState, NavigationContext, Any, Any] = StateGraph(
        NavState, context_schema=NavigationContext
    )
    graph.add_node("perceive", perceive)
    graph.add_node("act", act)
    if config.strategy in PREP_GRAPH:
        for name, node in (("estimate", estimate), ("memory", memory), ("reflect", reflect),
                           ("plan", plan)):  # fmt: skip
            graph.add_node(name, node)
        for a, b in (("perceive", "estimate"), ("estimate", "memory"), ("memory", "reflect"),
                     ("reflect", "plan"), ("plan", "act")):  # fmt: skip
            graph.add_edge(a, b)
    else:
        graph.add_node("decide", decide)
        graph.add_edge("perceive", "decide")
        graph.add_edge("decide", "act")
    graph.add_conditional_edges(START, next_step, ["perceive", END])
    graph.add_conditional_edges("act", next_step, ["perceive", END])
    return graph


def initial_state(task: CityTask) -> NavState:
    """The first state of `task`: at the start, facing north, done if it starts at its goal."""
    done = task.start == task.goal
    return {
        "task": task.model_dump(mode="json"), "actions": [], "done": done, "success": done,
        "positions": [[0.0, 0.0]], "heading": 0.0, "estimates": [], "legs": [], "history": [],
    }  # fmt: skip
