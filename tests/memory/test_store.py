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


def test_a_namespace_record_is_written_once_and_stays_right_across_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ChromaStore.persistent(tmp_path, FakeEmbedder()) as first:
        upserts: list[list[str]] = []
        original = first.namespaces.upsert

        def counting(ids: list[str], **rest: Any) -> None:
            upserts.append(ids)
            original(ids=ids, **rest)

        monkeypatch.setattr(first.namespaces, "upsert", counting)
        for i in range(3):
            first.put(("runs", "r1", "prompts"), f"p{i}", {"n": i}, index=False)
        assert upserts == [["runs.r1.prompts"]]  # not once per write
        # A second store of this process empties the namespace; the first must see it go
        # and write the record again when it writes there next.
        with ChromaStore.persistent(tmp_path, FakeEmbedder()) as second:
            for i in range(3):
                second.delete(("runs", "r1", "prompts"), f"p{i}")
            assert first.list_namespaces() == []
            first.put(("runs", "r1", "prompts"), "again", {"n": 9}, index=False)
            assert second.list_namespaces() == [("runs", "r1", "prompts")]


def test_the_embedded_store_writes_through_a_write_ahead_log(tmp_path: Path) -> None:
    import sqlite3

    import chromadb
    from chromadb.config import Settings

    old = tmp_path / "old"  # a store made by chromadb itself, in its default journal mode
    client = chromadb.PersistentClient(path=str(old), settings=Settings(anonymized_telemetry=False))
    client.create_collection("older")
    client.close()
    for folder in (tmp_path / "new", old):
        with ChromaStore.persistent(folder, FakeEmbedder()) as store:
            store.put(("a",), "k", {"text": "harbour"})
            database = sqlite3.connect(folder / "chroma.sqlite3")
            assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            database.close()
        with ChromaStore.persistent(folder, FakeEmbedder()) as store:
            assert store.get(("a",), "k") is not None


def test_a_search_asks_for_a_few_neighbours_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ChromaStore.persistent(tmp_path, FakeEmbedder()) as store:
        store.batch([PutOp(("a",), f"k{i}", {"text": f"harbour note {i}"}) for i in range(300)])
        queries: list[dict[str, Any]] = []
        original = store.vectors.query

        def recording(**request: Any) -> Any:
            queries.append(request)
            return original(**request)

        monkeypatch.setattr(store.vectors, "query", recording)
        monkeypatch.setattr(store.vectors, "count", lambda: pytest.fail("count() per search"))
        found = store.search(("a",), query="harbour note 17", limit=10)
        assert len(found) == 10
        [request] = queries  # one HNSW query, for 20 neighbours rather than 200,
        assert request["n_results"] == 20 and request["include"] == ["distances"]  # no metadata


def test_a_small_namespace_in_a_big_store_is_searched_completely(tmp_path: Path) -> None:
    """Its items are rarely among the unfiltered nearest neighbours: the filtered query that
    follows must find them all, with or without field filters, and stop at the end."""
    with ChromaStore.persistent(tmp_path, FakeEmbedder()) as store:
        store.batch([PutOp(("big",), f"b{i}", {"text": f"harbour note {i}"}) for i in range(400)])
        small = [
            PutOp(("small",), f"s{i}", {"text": f"quay log {i}", "odd": i % 2}) for i in range(5)
        ]
        store.batch(small)
        found = store.search(("small",), query="harbour note 3", limit=10)
        assert sorted(item.key for item in found) == [f"s{i}" for i in range(5)]
        assert all(item.score is not None for item in found)
        odd = store.search(("small",), query="harbour note 3", filter={"odd": 1}, limit=10)
        assert sorted(item.key for item in odd) == ["s1", "s3"]
        across = store.search((), query="quay log 2", limit=1000)
        assert across[0].key == "s2"


def test_new_stores_get_the_tuned_vector_index(tmp_path: Path) -> None:
    from agentrun.memory.store import VECTOR_INDEX

    with ChromaStore.persistent(tmp_path, FakeEmbedder()) as store:
        hnsw = store.vectors.configuration_json["hnsw"]
        assert {key: hnsw[key] for key in VECTOR_INDEX} == VECTOR_INDEX
        assert hnsw["space"] == "cosine" and hnsw["max_neighbors"] > 16


def test_search_returns_the_exact_nearest_neighbours(tmp_path: Path) -> None:
    """Recall@10 against an exact scan (ties counted as hits), on a small store."""
    import random

    import numpy as np

    rng = random.Random(7)
    words = [f"w{i}" for i in range(400)]
    texts = [" ".join(rng.sample(words, 8)) for _ in range(2000)]
    queries = [" ".join(rng.sample(words, 3)) for _ in range(30)]
    embedder = FakeEmbedder()
    matrix = np.array(embedder.embed(texts))
    with ChromaStore.persistent(tmp_path, embedder) as store:
        store.batch([PutOp(("r",), f"t{i}", {"text": text}) for i, text in enumerate(texts)])
        hits = 0
        for query in queries:
            scores = matrix @ np.array(embedder.vector(query))
            tenth = np.sort(scores)[-10]
            found = store.search(("r",), query=query, limit=10)
            assert len(found) == 10
            hits += sum(scores[int(item.key[1:])] >= tenth - 1e-6 for item in found)
    assert hits / (10 * len(queries)) >= 0.95
