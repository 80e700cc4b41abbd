"""Short outages of the checkpoint database and the chroma server are retried with back-off; a
longer one fails with an error naming the service, and a batch's other items finish."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.errors import ServiceUnavailableError
from agentrun.memory import ChromaStore, FakeEmbedder
from agentrun.memory.checkpoint import checkpointer
from agentrun.memory.outages import RETRY_ENV
from agentrun.pipeline import Pipeline
from tests.batching import TWO_CALLS, fake_models, lines, write_items, write_pipeline
from tests.services import ChromaServer, PostgresServer, chroma_executable, throwaway_postgres

pytestmark = pytest.mark.server
CONFIG = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}


@pytest.fixture
def database() -> Iterator[PostgresServer]:
    """A server of this test's own, which it may stop."""
    with throwaway_postgres() as server:
        yield server


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    if chroma_executable() is None:
        pytest.skip("the `chroma` command (from chromadb) is not installed")
    server = ChromaServer(tmp_path).start()
    yield server
    server.stop()


def back_in(seconds: float, start: object) -> threading.Thread:
    def later() -> None:
        time.sleep(seconds)
        start()  # type: ignore[operator]

    thread = threading.Thread(target=later)
    thread.start()
    return thread


async def test_postgres_back_within_the_window_is_waited_for(
    database: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RETRY_ENV, "20")
    async with checkpointer(url=database.url) as saver:
        saved = await saver.aput(CONFIG, empty_checkpoint(), {}, {})
        database.stop()
        restart = back_in(1.5, database.start)
        found = await saver.aget_tuple(saved)
        restart.join()
        assert found is not None and found.config == saved
        await saver.aput(CONFIG, empty_checkpoint(), {}, {})  # writes go on too


async def test_a_longer_postgres_outage_fails_clearly_then_recovers(
    database: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RETRY_ENV, "1")
    async with checkpointer(url=database.url) as saver:
        saved = await saver.aput(CONFIG, empty_checkpoint(), {}, {})
        database.stop()
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError, match=(
            rf"the checkpoint database {database.url} did not answer for 1 s .*resume it once"
        )):  # fmt: skip
            await saver.aget_tuple(saved)
        assert time.monotonic() - started < 10
        database.start()
        assert await saver.aget_tuple(saved) is not None


def test_the_chroma_server_back_within_the_window_is_waited_for(
    chroma: ChromaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RETRY_ENV, "20")
    with ChromaStore.http(chroma.url, FakeEmbedder()) as store:
        store.put(("a",), "k", {"text": "kept"})
        chroma.stop()
        restart = back_in(1.5, chroma.start)
        found = store.get(("a",), "k")
        restart.join()
        assert found is not None and found.value == {"text": "kept"}
        chroma.stop()
        monkeypatch.setenv(RETRY_ENV, "1")
        with pytest.raises(ServiceUnavailableError, match=rf"the chroma server at {chroma.url}"):
            store.put(("a",), "k2", {"text": "lost"})


def test_a_longer_outage_fails_the_items_it_meets_and_the_rest_finish(
    database: PostgresServer, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    monkeypatch.setenv("AGENTRUN_CHECKPOINT_URL", database.url)
    monkeypatch.setenv(RETRY_ENV, "1")
    answered: list[str] = []
    restart: list[threading.Thread] = []

    def reply(body: dict[str, object]) -> str:
        prompt = str(body["messages"][-1]["content"])  # type: ignore[index]
        answered.append(prompt)
        if len(answered) == 6:
            database.stop()  # down for about 3 s, three times the retry window
            restart.append(back_in(3.0, database.start))
        return "A:" + prompt.split(": ", 1)[1]

    items, out = write_items(tmp_path, 16), tmp_path / "out.jsonl"
    with FakeOpenAIServer(reply=reply, latency_s=0.1) as server:
        pipeline = Pipeline.load(write_pipeline(tmp_path, fake_models(server), TWO_CALLS))
        first = pipeline.batch(items, out=out, key="id", concurrency=3, cache=False)
        restart[0].join()
        assert first.failed >= 1 and first.done >= 1 and first.done + first.failed == 16
        for outcome in first.outcomes:
            if outcome.status == "failed":
                assert "the checkpoint database" in (outcome.error or "")
                assert "did not answer for 1 s" in (outcome.error or "")
        again = pipeline.batch(items, out=out, key="id", concurrency=3, cache=False)
    assert (again.skipped, again.done, again.failed) == (first.done, first.failed, 0)
    assert sorted(row["key"] for row in lines(out)) == sorted(f"i{n}" for n in range(1, 17))
