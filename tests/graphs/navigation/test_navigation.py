"""PReP and the ReAct baseline on scripted models: the loop, memory, fallbacks, VLM and resume."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway, GatewayConfig
from agentrun.agents.messages import Message, text_of
from agentrun.agents.testing import scripted_model
from agentrun.errors import UsageError
from agentrun.graphs.events import Event, NodeFinished, RunFinished
from agentrun.graphs.navigation import Navigation, NavigationConfig, NavigationResult
from agentrun.graphs.navigation.city import (
    DIRECTIONS,
    CityConfig,
    CityTask,
    EpisodeOutcome,
    sample_tasks,
    summarize,
)
from agentrun.graphs.navigation.simulator import CityEnvironment, replay
from agentrun.graphs.navigation.wayfinding import angle_between
from agentrun.memory.namespaces import records_ns
from agentrun.memory.records import Experience
from tests.conftest import FAST_RETRY

TASK = sample_tasks(CityConfig(), 1, min_hops=10, max_hops=20)[0]


def experiences_ns(thread_id: str) -> tuple[str, ...]:
    """Where a run in the default namespace keeps its experiences."""
    return records_ns(("default",), "runs", thread_id, "experiences")


def listed(messages: list[Message]) -> list[str]:
    """The directions a decision prompt offers, in order."""
    text = text_of(messages)
    if "best first:" in text:
        return re.findall(r"^\d+\. ([a-z\-]+) \(", text, flags=re.MULTILINE)
    return text.split("Directions you can take: ")[1].split(".")[0].split(", ")


def first_listed(messages: list[Message]) -> str:
    return f"I will go {listed(messages)[0]}."


@pytest.fixture
def gateway(data_dir: Path) -> Iterator[Gateway]:
    with Gateway(GatewayConfig(retry=FAST_RETRY), data_dir=data_dir, cache=False) as gw:
        yield gw


def navigation(
    gateway: Gateway, store: Any = None, environment: CityEnvironment | None = None, **options: Any
) -> Navigation:
    """The workflow on a fake model, its own store and checkpoints (and `environment`)."""
    return Navigation(
        NavigationConfig(model="fake/nav", **options), gateway=gateway,
        store=store or InMemoryStore(), checkpointer=InMemorySaver(), environment=environment,
    )  # fmt: skip


async def run(
    gateway: Gateway,
    task: CityTask = TASK,
    store: Any = None,
    environment: CityEnvironment | None = None,
    **options: Any,
) -> NavigationResult:
    return await navigation(gateway, store, environment, **options).arun(task)


async def test_prep_follows_the_model_and_reaches_a_goal_it_can_locate(gateway: Gateway) -> None:
    store = InMemoryStore()
    with scripted_model(first_listed) as model:
        result = await run(gateway, store=store)
    assert result.success and result.spl == pytest.approx(TASK.shortest_hops / result.steps)
    assert result.steps <= TASK.step_limit
    assert result.decisions == len(model.calls) > 0
    assert result.fallbacks == 0
    assert result.usage["prompt_tokens"] > 0 and result.usage["model_calls"] == len(model.calls)
    assert replay(TASK, result.actions)[-1] == TASK.goal
    prompt = text_of(model.calls[0].messages)
    assert TASK.instruction in prompt and "Estimated goal:" in prompt
    assert re.search(r"Reply with one number from 1 to [23]\.$", prompt)
    experiences = store.search(experiences_ns(result.thread_id), limit=1000)
    assert len(experiences) == result.steps
    assert all(Experience.from_value(item.value).action for item in experiences)


def shortest_path_exit(env: CityEnvironment) -> Callable[[list[Message]], str]:
    """An oracle model: whatever it is asked, the exit on a true shortest path to the goal."""

    def reply(messages: list[Message]) -> str:
        path = env.city.shortest_path(env.node, env.task.goal)
        return f"Go {env.city.actions_along(path[:2])[0]}."

    return reply


@pytest.mark.parametrize("strategy", ["prep", "react"])
async def test_an_oracle_model_scores_sr_and_spl_of_one_through_the_graph(
    gateway: Gateway, strategy: str
) -> None:
    tasks = sample_tasks(CityConfig(seed=11), 3, seed=11, min_hops=10, max_hops=20)
    outcomes = []
    for task in tasks:
        env = CityEnvironment()
        with scripted_model(shortest_path_exit(env)) as model:
            result = await run(gateway, task, strategy=strategy, environment=env)
        assert model.calls and result.fallbacks == 0
        assert result.steps == task.shortest_hops
        outcomes.append(
            EpisodeOutcome(task_id=task.task_id, success=result.success,
                           shortest_hops=task.shortest_hops, steps=result.steps)
        )  # fmt: skip
    summary = summarize(outcomes)
    assert summary["sr"] == 1.0 and summary["spl"] == 1.0


async def test_the_models_choice_is_the_action_taken(gateway: Gateway) -> None:
    env = CityEnvironment()
    chosen: list[tuple[int, str]] = []  # (step, direction) of every decision, in order

    def last_listed(messages: list[Message]) -> str:
        chosen.append((env.steps, listed(messages)[-1]))
        return chosen[-1][1]

    with scripted_model(last_listed):
        result = await run(gateway, environment=env)
    assert result.decisions == len(chosen) > 1
    steps = [step for step, _ in chosen]
    assert steps == sorted(set(steps))  # one decision per step, in the order walked
    assert [result.actions[step] for step, _ in chosen] == [choice for _, choice in chosen]
    with scripted_model(first_listed):
        assert (await run(gateway)).actions != result.actions


@pytest.mark.parametrize(
    "reply",
    ["I am not sure what to do.", "7", "Take move 9.", "Go back the way you came, {absent}."],
)
async def test_replies_naming_no_candidate_fall_back_to_the_best_exit_and_are_counted(
    gateway: Gateway, reply: str
) -> None:
    def invalid(messages: list[Message]) -> str:
        offered = listed(messages)
        absent = next(d for d in DIRECTIONS if d not in offered)
        return reply.format(absent=absent)

    with scripted_model(invalid):
        vague = await run(gateway)
    with scripted_model([]):
        ranked = await run(gateway, strategy="ranked")
    assert vague.fallbacks == vague.decisions > 0 and vague.overrides == 0
    assert vague.actions == ranked.actions and vague.success == ranked.success


async def test_a_valid_choice_by_number_or_name_is_the_move_taken(gateway: Gateway) -> None:
    env = CityEnvironment()
    chosen: list[tuple[int, str]] = []  # (step, direction) of every decision answered "2"

    def second(messages: list[Message]) -> str:
        offered = listed(messages)
        assert 2 <= len(offered) <= 3  # the top candidates only, numbered
        chosen.append((env.steps, offered[1]))
        return "2" if len(chosen) % 2 else f"I pick {offered[1]}."

    with scripted_model(second):
        result = await run(gateway, environment=env)
    assert result.decisions == len(chosen) == result.overrides > 1
    assert result.fallbacks == 0
    assert [result.actions[step] for step, _ in chosen] == [choice for _, choice in chosen]


async def test_the_choice_prompt_shows_the_reflections_evidence(gateway: Gateway) -> None:
    """A model that always turns right circles a block: its prompts then show the loop, the
    moves that led back and those already taken from here, beside the landmarks' agreement."""
    prompts: list[str] = []
    heading = 0.0

    def turn_right(messages: list[Message]) -> str:
        nonlocal heading
        text = text_of(messages)
        prompts.append(text)
        offered = re.findall(r"^(\d+)\. [a-z\-]+ \(bearing (\d+)°", text, flags=re.MULTILINE)
        number, bearing = min(offered, key=lambda o: angle_between(float(o[1]), heading + 90))
        heading = float(bearing)
        return number

    with scripted_model(turn_right):
        result = await run(gateway, loop_window=30)
    assert result.loops > 0 and not result.success
    looped = [p for p in prompts if "Loop detected: you have stood here" in p]
    assert looped and all("taken from here" in p for p in looped)
    assert any("Recent failures: 5 of your last 5 moves led back" in p for p in prompts)
    assert all("Landmark agreement:" in p for p in prompts)
    assert any(re.search(r"estimates from \d landmark\(s\) agree", p) for p in prompts)


async def test_the_ranked_ablation_walks_prep_s_best_exits_without_a_model_call(
    gateway: Gateway,
) -> None:
    with scripted_model(first_listed) as model:
        prep = await run(gateway)
    with scripted_model([]) as idle:  # any model call would exhaust the empty script
        ranked = await run(gateway, strategy="ranked", summarize_every=3)
    assert idle.calls == [] and model.calls
    assert ranked.actions == prep.actions and ranked.success == prep.success
    assert ranked.decisions == prep.decisions > 0 and ranked.fallbacks == 0
    assert ranked.usage["model_calls"] == 0 and ranked.usage["prompt_tokens"] == 0


async def test_the_react_baseline_sees_observation_and_history(gateway: Gateway) -> None:
    with scripted_model(first_listed) as model:
        result = await run(gateway, strategy="react")
    assert result.decisions == result.steps == len(model.calls)
    first, later = text_of(model.calls[0].messages), text_of(model.calls[3].messages)
    assert "Exits:" in first and "Your steps so far:" not in first
    assert later.count("went ") == 3
    assert "Estimated goal" not in later


async def test_the_vlm_path_sends_the_map_image_and_reads_landmarks(gateway: Gateway) -> None:
    reference = TASK.references[0].landmark

    def reply(messages: list[Message]) -> str:
        if any(isinstance(m["content"], list) for m in messages):
            return f"{reference}: 400 m, bearing 10"
        return first_listed(messages)

    with scripted_model(reply) as model:
        result = await run(gateway, perception="image")
    perceive = [c for c in model.calls if isinstance(c.messages[-1]["content"], list)]
    assert len(perceive) == result.steps
    parts = perceive[0].messages[-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    url = parts[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]).startswith(b"\x89PNG")
    assert "facing north" in parts[0]["text"]
    assert result.goal_estimate is not None  # estimated from what the VLM reported

    with scripted_model(lambda m: "NONE" if isinstance(m[-1]["content"], list) else "north"):
        blind = await run(gateway, perception="image")
    assert blind.goal_estimate is None


async def test_similar_experiences_are_retrieved_from_an_indexed_store(gateway: Gateway) -> None:
    def embed(texts: list[str]) -> list[list[float]]:
        return [[t.count(c) + 0.1 for c in "aeiourstnl"] for t in texts]

    store = InMemoryStore(index={"dims": 10, "embed": embed, "fields": ["text"]})
    with scripted_model(first_listed) as model:
        result = await run(gateway, store=store)
    later = [text_of(c.messages) for c in model.calls[1:]]
    assert later and all("Similar earlier moments:" in text for text in later)
    hits = await store.asearch(experiences_ns(result.thread_id), query="Saw no landmark", limit=2)
    assert hits and hits[0].score is not None


async def test_a_failed_episode_resumes_without_resending_recorded_calls(
    gateway: Gateway,
) -> None:
    workflow = navigation(gateway)
    answered = 0

    def breaks_after_three(messages: list[Message]) -> str | BaseException:
        nonlocal answered
        if answered >= 3:
            return ConnectionError("the model server went away")
        answered += 1
        return first_listed(messages)

    with scripted_model(breaks_after_three), pytest.raises(Exception, match="nothing answered"):
        await workflow.arun(TASK, thread_id="t1")
    with scripted_model(first_listed) as model:
        result = await workflow.aresume("t1")
    with scripted_model(first_listed):
        fresh = await run(gateway)
    assert result.actions == fresh.actions and result.success
    assert len(model.calls) == result.decisions - 3


async def test_an_optional_model_summary_of_the_trajectory_reaches_the_planner(
    gateway: Gateway,
) -> None:
    def reply(messages: list[Message]) -> str:
        if "In one sentence" in text_of(messages):
            return "You are wandering in circles."
        return first_listed(messages)

    with scripted_model(reply) as model:
        result = await run(gateway, summarize_every=4)
    summaries = [c for c in model.calls if "In one sentence" in text_of(c.messages)]
    assert len(summaries) == (result.steps - 1) // 4
    plans = [text_of(c.messages) for c in model.calls if "best first:" in text_of(c.messages)]
    assert any("Trajectory so far: You are wandering in circles." in p for p in plans)


async def test_a_task_that_starts_at_its_goal_is_done_without_a_step(gateway: Gateway) -> None:
    there = TASK.model_copy(update={"start": TASK.goal})
    events: list[Event] = []
    with scripted_model([]) as idle:
        result = await navigation(gateway).arun(there, on_event=events.append)
    assert idle.calls == [] and not any(isinstance(e, NodeFinished) for e in events)
    assert result.success and result.steps == 0 and result.actions == [] and result.spl == 1.0


async def test_progress_arrives_as_typed_events(gateway: Gateway) -> None:
    events: list[Event] = []
    with scripted_model([]):
        result = await navigation(gateway, strategy="ranked").arun(TASK, on_event=events.append)
    finished = [e.node for e in events if isinstance(e, NodeFinished)]
    assert finished[:6] == ["perceive", "estimate", "memory", "reflect", "plan", "act"]
    assert finished.count("act") == result.steps > 0
    assert isinstance(events[-1], RunFinished) and events[-1].result == result


async def test_without_a_task_one_is_sampled_from_inputs_given_as_text(gateway: Gateway) -> None:
    hidden = sample_tasks(CityConfig(seed=4, occlusion=0.6), 1, seed=2, min_hops=5, max_hops=8)[0]
    seen = sample_tasks(CityConfig(seed=4), 1, seed=2, min_hops=5, max_hops=8)[0]
    with scripted_model([]):
        result = await navigation(gateway, strategy="ranked").arun(
            city_seed="4", task_seed=" 2 ", min_hops="5", max_hops="8", occlusion="0.6",
            bearing_noise_deg="", distance_noise="None",
        )  # fmt: skip
        walked = await run(gateway, hidden, strategy="ranked")
        other = await run(gateway, seen, strategy="ranked")
    assert result.task_id == hidden.task_id and result.shortest_hops == hidden.shortest_hops
    assert result.actions == walked.actions != other.actions  # the occlusion reached the city


def test_inputs_convert_text_and_a_bad_value_names_its_input() -> None:
    workflow = Navigation()
    inputs = workflow.inputs(
        task_seed="3", occlusion="0.5", bearing_noise_deg=" 12 ", distance_noise=""
    )
    assert (inputs.task_seed, inputs.occlusion, inputs.bearing_noise_deg) == (3, 0.5, 12.0)
    assert inputs.distance_noise is None and inputs.min_hops == 10 and inputs.max_hops == 50
    with pytest.raises(UsageError, match=r"^workflow navigation: input 'task_seed': .*'three'"):
        workflow.inputs(task_seed="three")
    with pytest.raises(UsageError, match=r"input 'visibility_m': .* \(got 'far'\)$"):
        workflow.inputs(visibility_m="far")
    with pytest.raises(UsageError, match=r"input 'occlusion': Input should be a finite number"):
        workflow.inputs(occlusion="nan")


async def test_bad_sampling_inputs_and_a_task_beside_them_are_refused(gateway: Gateway) -> None:
    workflow = navigation(gateway)
    with scripted_model([]) as idle:
        with pytest.raises(
            UsageError, match=r"^navigation input 'occlusion': .* less than or equal to 1$"
        ):
            await workflow.arun(occlusion="2")
        with pytest.raises(UsageError, match="need 1 <= min_hops <= max_hops, got 20 and 5"):
            await workflow.arun(min_hops="20", max_hops="5")
        with pytest.raises(UsageError, match=r"input 'task': .* so city_seed, task_seed would be"):
            await workflow.arun(TASK, city_seed=1, task_seed=2)
    assert idle.calls == []
