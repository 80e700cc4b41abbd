"""The chromadb store beyond the shared contract: locking, embedder identity, scoping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore, PutOp

from agentrun.errors import MemoryStoreError
from agentrun.memory import ChromaStore, FakeEmbedder, default_store, in_memory_store, scoped
from agentrun.memory.namespaces import records_ns

ROOT = Path(__file__).resolve().parents[2]
AGENTRUN = str(Path(sys.executable).with_name("agentrun"))


def run_writers(
    data_dir: Path, count: int, hold_s: float, env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Two writer processes told to open the store at the same instant; their reports."""
    start_at = time.time() + 5  # both have imported everything by then
    writers = []
    for name in ("one", "two"):
        args = [str(data_dir), name, str(count), str(start_at), str(hold_s)]
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.memory.writer_child", *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        writers.append(child)
    reports = []
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def test_two_writer_processes_at_once_take_turns_and_lose_nothing(tmp_path: Path) -> None:
    count, hold_s = 150, 1.0
    first, second = sorted(run_writers(tmp_path, count, hold_s), key=lambda r: r["held_from"])
    assert second["asked"] < first["held_to"]  # the second asked while the first held it,
    assert first["held_to"] <= second["held_from"]  # and got it only after: never both at once
    with default_store(tmp_path, embedder=FakeEmbedder()) as store:
        assert store.items.count() == store.vectors.count() == 2 * count
        for name in ("one", "two"):
            items = store.search(("w", name), limit=1_000_000)
            assert sorted(item.value["i"] for item in items) == list(range(count))
            assert all(item.value["text"] == f"{name} writes item {item.value['i']}"
                       for item in items)  # fmt: skip
            # HNSW is approximate, and two writers interleave differently each run: ask for
            # enough neighbours that the exact match is found, not that it is always first
            found = store.search(("w",), query=f"{name} writes item 7", limit=30)
            assert (("w", name), 7) in [(item.namespace, item.value["i"]) for item in found]


def test_the_turn_taking_check_sees_writers_overlap_without_the_lock(tmp_path: Path) -> None:
    # unlocked writers opening a folder that has no store yet would both create chromadb's
    # tables and one would fail: the store exists first, so the check sees only their overlap
    with default_store(tmp_path, embedder=FakeEmbedder()):
        pass
    reports = run_writers(tmp_path, 10, 1.0, env={"WRITER_CHILD_NO_LOCK": "1"})
    first, second = sorted(reports, key=lambda r: r["held_from"])
    assert first["held_to"] > second["held_from"]


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
async def test_scoped_store_refuses_everything_outside_its_records(
    make: object, tmp_path: Path
) -> None:
    inner: BaseStore = (
        in_memory_store() if make else ChromaStore.persistent(tmp_path, FakeEmbedder())
    )
    theirs = records_ns(("other", "user"), "notes")
    nested = records_ns(("pipe", "alice", "bob"), "notes")
    await inner.aput(theirs, "secret", {"text": "not yours"})
    await inner.aput(nested, "secret", {"text": "an inner namespace's"})
    store = scoped(inner, ("pipe", "alice"))
    mine = records_ns(("pipe", "alice"), "notes")
    await store.aput(mine, "k", {"text": "mine"})
    item = await store.aget(mine, "k")
    assert item is not None and item.value == {"text": "mine"}
    everything = records_ns(("pipe", "alice"))
    assert [i.key for i in await store.asearch(everything, query="mine")] == ["k"]
    assert await store.alist_namespaces() == [mine]
    outside = [
        store.aget(theirs, "secret"),
        store.aget(nested, "secret"),
        store.aput(records_ns(("pipe", "bob"), "notes"), "k", {"text": "x"}),
        store.aput(nested, "k", {"text": "x"}),
        store.adelete(theirs, "secret"),
        store.asearch(("pipe",)),
        store.asearch(("pipe", "alice")),
        store.asearch(("pipe", "alice", "bob")),
        store.asearch(()),
        store.alist_namespaces(prefix=("other",)),
        store.alist_namespaces(prefix=("pipe", "alice")),
    ]
    for attempt in outside:
        with pytest.raises(MemoryStoreError, match=r"outside this workflow's scope pipe/alice"):
            await attempt
    assert await inner.aget(theirs, "secret") is not None
    if isinstance(inner, ChromaStore):
        inner.close()


def test_values_that_are_not_json_are_refused_by_name(tmp_path: Path) -> None:
    import datetime

    with ChromaStore.persistent(tmp_path, FakeEmbedder()) as store:
        with pytest.raises(MemoryStoreError, match=r"value of a/b/k cannot be stored"):
            store.put(("a", "b"), "k", {"when": datetime.datetime.now()})
        assert store.get(("a", "b"), "k") is None


def test_a_search_reads_only_the_item_records_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ChromaStore.persistent(tmp_path, FakeEmbedder()) as store:
        store.batch([PutOp(("a",), f"k{i}", {"text": f"harbour note {i}"}) for i in range(300)])
        read: list[str] = []
        original = store._items_by_id

        def counting(ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
            read.extend(ids)
            return original(ids)

        monkeypatch.setattr(store, "_items_by_id", counting)
        found = store.search(("a",), query="harbour note 17", limit=5)
        # (HNSW is approximate: which five come back may vary; what is read must not)
        assert len(found) == 5 and all(item.score is not None for item in found)
        assert sorted(read) == sorted(f'["a","{item.key}"]' for item in found)
