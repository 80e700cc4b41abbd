"""The checkpointer contract runs use, on every backend: SQLite (local) and Postgres (shared)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, create_checkpoint, empty_checkpoint
from langgraph.graph import END, START, StateGraph

from agentrun.memory.checkpoint import checkpointer, sqlite_checkpointer

pytestmark = pytest.mark.server


@pytest.fixture(params=["sqlite", "postgres"])
async def saver(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if request.param == "sqlite":
        async with sqlite_checkpointer(tmp_path) as opened:
            yield opened
    else:
        url = request.getfixturevalue("postgres_url")
        async with checkpointer(url=url) as opened:
            yield opened


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": uuid.uuid4().hex, "checkpoint_ns": ""}}


async def put_chain(saver: BaseCheckpointSaver[Any], config: dict[str, Any], count: int) -> list:
    saved, checkpoint = [], empty_checkpoint()
    for step in range(count):
        checkpoint = create_checkpoint(checkpoint, None, step)
        config = await saver.aput(
            config, checkpoint, {"step": step, "source": "loop", "label": f"s{step}"}, {}
        )
        saved.append(config)
    return saved


async def test_the_latest_and_each_checkpoint_read_back(saver: BaseCheckpointSaver[Any]) -> None:
    config = thread()
    saved = await put_chain(saver, config, 3)
    latest = await saver.aget_tuple(config)
    assert (
        latest is not None
        and latest.config["configurable"]["checkpoint_id"]
        == (saved[-1]["configurable"]["checkpoint_id"])
    )
    assert latest.metadata["label"] == "s2" and latest.parent_config is not None
    assert (
        latest.parent_config["configurable"]["checkpoint_id"]
        == (saved[1]["configurable"]["checkpoint_id"])
    )
    first = await saver.aget_tuple(saved[0])
    assert first is not None and first.metadata["step"] == 0
    assert await saver.aget_tuple(thread()) is None


async def test_listing_is_newest_first_and_filters(saver: BaseCheckpointSaver[Any]) -> None:
    config = thread()
    saved = await put_chain(saver, config, 4)
    ids = [c["configurable"]["checkpoint_id"] for c in saved]
    listed = [t.config["configurable"]["checkpoint_id"] async for t in saver.alist(config)]
    assert listed == ids[::-1]
    limited = [t async for t in saver.alist(config, limit=2)]
    assert [t.metadata["step"] for t in limited] == [3, 2]
    before = [t.metadata["step"] async for t in saver.alist(config, before=saved[2])]
    assert before == [1, 0]
    labelled = [t.metadata["step"] async for t in saver.alist(config, filter={"label": "s1"})]
    assert labelled == [1]


async def test_pending_writes_and_deleting_a_thread(saver: BaseCheckpointSaver[Any]) -> None:
    config = thread()
    [saved] = await put_chain(saver, config, 1)
    await saver.aput_writes(saved, [("answer", "forty-two"), ("notes", [1, 2])], "task-1")
    found = await saver.aget_tuple(config)
    assert found is not None
    assert sorted(found.pending_writes or []) == [
        ("task-1", "answer", "forty-two"), ("task-1", "notes", [1, 2]),
    ]  # fmt: skip
    await saver.adelete_thread(config["configurable"]["thread_id"])
    assert await saver.aget_tuple(config) is None
    assert [t async for t in saver.alist(config)] == []


class State(TypedDict, total=False):
    done: list[str]


async def test_a_failed_graph_resumes_without_redoing_finished_steps(
    saver: BaseCheckpointSaver[Any],
) -> None:
    runs: list[str] = []
    fail = [True]

    def step(name: str) -> Any:
        def node(state: State) -> State:
            runs.append(name)
            if name == "second" and fail[0]:
                fail[0] = False
                raise RuntimeError("lost its connection")
            return {"done": [*(state.get("done") or []), name]}

        return node

    graph = StateGraph(State)
    graph.add_node("first", step("first"))
    graph.add_node("second", step("second"))
    graph.add_edge(START, "first")
    graph.add_edge("first", "second")
    graph.add_edge("second", END)
    app = graph.compile(checkpointer=saver)
    config = thread()
    with pytest.raises(RuntimeError, match="lost its connection"):
        await app.ainvoke({"done": []}, config, durability="sync")
    final = await app.ainvoke(None, config, durability="sync")
    assert final["done"] == ["first", "second"]
    assert runs == ["first", "second", "second"]  # the finished step was not run again
