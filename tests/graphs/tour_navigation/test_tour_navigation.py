"""Tour navigation on scripted models: the goal frame comes from the model, the walk from code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun import settings
from agentrun.agents import Gateway
from agentrun.agents.messages import Message, text_of
from agentrun.agents.testing import scripted_model
from agentrun.errors import UsageError
from agentrun.graphs import runtime
from agentrun.graphs.navigation.city import CityConfig
from agentrun.graphs.run_records import RunRecords, records_path
from agentrun.graphs.tour_navigation import TourConfig, TourNavigation, TourResult, parse_frame
from agentrun.graphs.tour_navigation.tour import TourTask, sample_tour_tasks
from agentrun.memory.namespaces import records_ns
from agentrun.memory.scope import ScopedStore

TASK = sample_tour_tasks(CityConfig(seed=5), 1, seed=5)[0]


def closest_frame(messages: list[Message]) -> str:
    """What a good model does: the frame whose caption puts the landmark nearest."""
    text = text_of(messages)
    landmark = re.search(r"Go to the (.+?)\.", text)
    assert landmark is not None
    best: tuple[float, int] | None = None
    for number, caption in re.findall(r"Frame (\d+): (.*)", text):
        hit = re.search(re.escape(landmark.group(1)) + r" (\d+) m", caption)
        if hit and (best is None or float(hit.group(1)) < best[0]):
            best = (float(hit.group(1)), int(number))
    assert best is not None
    return f"Frame {best[1]}"


@pytest.fixture
def gateway(data_dir: Path) -> Iterator[Gateway]:
    with Gateway(data_dir=data_dir, cache=False) as gw:
        yield gw


def tours(gateway: Gateway, **options: Any) -> TourNavigation:
    """The workflow on a fake model, with its own store and checkpoints."""
    return TourNavigation(
        TourConfig(model="fake/tour", **options), gateway=gateway, store=InMemoryStore(),
        checkpointer=InMemorySaver(),
    )  # fmt: skip


async def run(gateway: Gateway, task: TourTask = TASK, **options: Any) -> TourResult:
    return await tours(gateway, **options).arun(task)


async def test_the_chosen_goal_frame_is_walked_to(gateway: Gateway) -> None:
    with scripted_model(closest_frame) as model:
        result = await run(gateway)
    assert len(model.calls) == 1
    assert result.frame_correct and result.success and result.steps >= TASK.shortest_hops
    assert not result.fallback and result.usage["prompt_tokens"] > 0
    prompt = text_of(model.calls[0].messages)
    assert prompt.count("Frame ") == len(TASK.tour().frames)
    assert f"You are at frame {result.start_frame}." in prompt
    assert TASK.tour().frames[result.start_frame].node == TASK.start


async def test_a_wrong_frame_fails_and_an_unreadable_reply_stays_put(gateway: Gateway) -> None:
    wrong = next(f.index for f in TASK.tour().frames if f.node not in (TASK.goal, TASK.start))
    with scripted_model([f"{wrong}"]):
        result = await run(gateway)
    assert result.chosen_frame == wrong and not result.frame_correct and not result.success
    with scripted_model(["I do not know."]):
        lost = await run(gateway)
    assert lost.fallback and lost.steps == 0 and not lost.success
    assert lost.chosen_frame == lost.start_frame


async def test_image_frames_send_one_image_part_per_frame(gateway: Gateway) -> None:
    with scripted_model(closest_frame) as model:
        result = await run(gateway, frames="images")
    parts = model.calls[0].messages[-1]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == len(TASK.tour().frames)
    assert all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in images)
    assert result.frame_correct


async def test_a_failed_tour_resumes_and_the_store_is_scoped(gateway: Gateway) -> None:
    store = InMemoryStore()
    workflow = TourNavigation(
        TourConfig(model="fake/tour"), gateway=gateway, store=store,
        checkpointer=InMemorySaver(), namespace=("team", "tours"),
    )  # fmt: skip
    broken = scripted_model([ConnectionError("the model server went away")], repeat_last=True)
    with broken, pytest.raises(Exception, match="nothing answered"):
        await workflow.arun(TASK, thread_id="tour-1")
    stores: list[object] = []

    def answer(messages: list[Message]) -> str:
        stores.append(runtime.context().store)
        return closest_frame(messages)

    with scripted_model(answer) as model:
        result = await workflow.aresume("tour-1")
    assert len(model.calls) == 1 and result.success and result.thread_id == "tour-1"
    assert isinstance(stores[0], ScopedStore) and stores[0].labels == ("team", "tours")
    prompts = RunRecords(records_path(settings.data_dir(), "tour-1")).values("prompt")
    assert [p["node"] for p in prompts] == ["choose", "choose"]  # the failed call, then its retry
    assert not store.search(records_ns(("team", "tours")))  # prompts are not memory
    with pytest.raises(UsageError, match="no checkpoint for thread 'nope'"):
        await workflow.aresume("nope")


async def test_a_pipeline_samples_the_tour_from_seeds(gateway: Gateway) -> None:
    with scripted_model(closest_frame):
        first = await tours(gateway).arun(city_seed="5", task_seed="5", radius_m="")
    assert first.task_id == TASK.task_id and first.instruction == TASK.instruction
    with scripted_model(closest_frame):
        wider = await tours(gateway).arun(city_seed=5, task_seed=5, radius_m="450")
    expected = sample_tour_tasks(CityConfig(seed=5), 1, seed=5, radius_m=450.0)[0]
    assert len(expected.tour().frames) > len(TASK.tour().frames)  # the radius reached the tour
    assert wider.goal_frames == expected.goal_frames() and wider.frame_correct


async def test_bad_tour_inputs_name_the_input(gateway: Gateway) -> None:
    workflow = tours(gateway)
    with pytest.raises(UsageError, match=r"^workflow tour-navigation: input 'radius_m': .*'wide'"):
        workflow.inputs(radius_m="wide")
    with scripted_model([]) as idle:
        with pytest.raises(UsageError, match=r"^tour-navigation input 'visibility_m': .*than 0$"):
            await workflow.arun(visibility_m="-5")
        with pytest.raises(UsageError, match=r"input 'task': .* so radius_m would be ignored"):
            await workflow.arun(TASK, radius_m=450)
    assert idle.calls == []


def test_frame_numbers_parse_within_range() -> None:
    assert parse_frame("Frame 12.", 20) == 12
    assert parse_frame("I think 99, no, 7", 20) == 7
    assert parse_frame("none", 20) is None
