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
from agentrun.graphs import navigation
from agentrun.graphs.navigation import NavigationConfig
from agentrun.graphs.navigation.city import (
    CityConfig,
    CityTask,
    EpisodeOutcome,
    sample_tasks,
    summarize,
)
from agentrun.graphs.navigation.simulator import CityEnvironment, replay
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


async def run(
    gateway: Gateway,
    task: CityTask = TASK,
    store: Any = None,
    environment: CityEnvironment | None = None,
    **options: Any,
) -> navigation.NavigationResult:
    config = NavigationConfig(model="fake/nav", **options)
    return await navigation.arun(
        task, config=config, gateway=gateway, store=store or InMemoryStore(),
        checkpointer=InMemorySaver(), environment=environment,
    )  # fmt: skip


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
    assert prompt.endswith("Reply with one direction from the list.")
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


async def test_unparseable_replies_fall_back_to_the_best_exit_and_are_counted(
    gateway: Gateway,
) -> None:
    with scripted_model(lambda messages: "I am not sure what to do."):
        vague = await run(gateway)
    with scripted_model(first_listed):
        clear = await run(gateway)
    assert vague.fallbacks == vague.decisions > 0
    assert vague.actions == clear.actions and vague.success == clear.success


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
    saver, store = InMemorySaver(), InMemoryStore()
    config = NavigationConfig(model="fake/nav")
    answered = 0

    def breaks_after_three(messages: list[Message]) -> str | BaseException:
        nonlocal answered
        if answered >= 3:
            return ConnectionError("the model server went away")
        answered += 1
        return first_listed(messages)

    with scripted_model(breaks_after_three), pytest.raises(Exception, match="nothing answered"):
        await navigation.arun(TASK, config=config, gateway=gateway, store=store,
                              checkpointer=saver, thread_id="t1")  # fmt: skip
    with scripted_model(first_listed) as model:
        result = await navigation.aresume(
            "t1", config=config, gateway=gateway, store=store, checkpointer=saver
        )
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
