"""The chromadb store beyond the shared contract: locking, embedder identity, scoping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from langgraph.store.base import BaseStore

from agentrun.errors import MemoryStoreError
from agentrun.memory import ChromaStore, FakeEmbedder, default_store, in_memory_store, scoped

ROOT = Path(__file__).resolve().parents[2]
AGENTRUN = str(Path(sys.executable).with_name("agentrun"))


def test_two_writer_processes_at_once_lose_nothing(tmp_path: Path) -> None:
    count = 150
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.memory.writer_child", str(tmp_path), name, str(count)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("one", "two")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    with default_store(tmp_path, embedder=FakeEmbedder()) as store:
        for name in ("one", "two"):
            items = store.search(("w", name), limit=1_000_000)
            assert sorted(item.value["i"] for item in items) == list(range(count))
        found = store.search(("w",), query="two writes item 7", limit=1)
        assert found[0].namespace == ("w", "two")


def test_a_locked_store_gives_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    env = {**os.environ, "AGENTRUN_STORE_LOCK_TIMEOUT": "0.5"}
    with default_store(tmp_path, embedder=FakeEmbedder()):
        done = subprocess.run(
            [AGENTRUN, "--data-dir", str(tmp_path), "memory", "ls"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert f"in use by process {os.getpid()}" in done.stderr
    assert "AGENTRUN_CHROMA_URL" in done.stderr and "Traceback" not in done.stderr
    # Released on close: the same command now gets in (and finds no documents).
    done = subprocess.run(
        [AGENTRUN, "--data-dir", str(tmp_path), "memory", "ls", "-n", "w"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3 and "built with embedder 'fake-bag-of-words-64'" in done.stderr


def test_a_store_refuses_another_embedder(tmp_path: Path) -> None:
    with ChromaStore.persistent(tmp_path, FakeEmbedder(32)) as store:
        store.put(("a",), "k", {"text": "hello"})
    with pytest.raises(MemoryStoreError, match=r"built with embedder 'fake-bag-of-words-32' "
                       r"\(32 dimensions\), not 'fake-bag-of-words-64'"):  # fmt: skip
        ChromaStore.persistent(tmp_path, FakeEmbedder(64))
    with ChromaStore.persistent(tmp_path, FakeEmbedder(32)) as store:  # the lock was released
        item = store.get(("a",), "k")
        assert item is not None and item.value == {"text": "hello"}


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = ChromaStore.persistent(tmp_path, FakeEmbedder())
    store.close()
    with pytest.raises(MemoryStoreError, match="closed"):
        store.get(("a",), "k")


def test_server_url_that_answers_nothing_is_a_clear_error() -> None:
    with pytest.raises(
        MemoryStoreError, match=r"no chroma server answered at http://127\.0\.0\.1:9"
    ):
        ChromaStore.http("http://127.0.0.1:9", FakeEmbedder())


@pytest.mark.parametrize("make", [in_memory_store, None], ids=["in-memory", "chroma"])
async def test_scoped_store_refuses_everything_outside_its_prefix(
    make: object, tmp_path: Path
) -> None:
    inner: BaseStore = (
        in_memory_store() if make else ChromaStore.persistent(tmp_path, FakeEmbedder())
    )
    await inner.aput(("other", "user"), "secret", {"text": "not yours"})
    store = scoped(inner, ("pipe", "alice"))
    await store.aput(("pipe", "alice", "notes"), "k", {"text": "mine"})
    item = await store.aget(("pipe", "alice", "notes"), "k")
    assert item is not None and item.value == {"text": "mine"}
    assert [i.key for i in await store.asearch(("pipe", "alice"), query="mine")] == ["k"]
    assert await store.alist_namespaces() == [("pipe", "alice", "notes")]
    outside = [
        store.aget(("other", "user"), "secret"),
        store.aput(("pipe", "bob"), "k", {"text": "x"}),
        store.adelete(("other", "user"), "secret"),
        store.asearch(("pipe",)),
        store.asearch(()),
        store.alist_namespaces(prefix=("other",)),
    ]
    for attempt in outside:
        with pytest.raises(MemoryStoreError, match=r"outside this workflow's scope pipe/alice"):
            await attempt
    assert await inner.aget(("other", "user"), "secret") is not None
    if isinstance(inner, ChromaStore):
        inner.close()


def test_values_that_are_not_json_are_refused_by_name(tmp_path: Path) -> None:
    import datetime

    with ChromaStore.persistent(tmp_path, FakeEmbedder()) as store:
        with pytest.raises(MemoryStoreError, match=r"value of a/b/k cannot be stored"):
            store.put(("a", "b"), "k", {"when": datetime.datetime.now()})
        assert store.get(("a", "b"), "k") is None
