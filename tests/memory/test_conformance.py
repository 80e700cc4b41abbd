"""The `BaseStore` contract, run on every backend (the `store` fixture is parametrized)."""

from __future__ import annotations

from datetime import datetime

import pytest
from langgraph.store.base import BaseStore, GetOp, InvalidNamespaceError, PutOp, SearchOp

from agentrun.memory.records import DocumentChunk, chunk_key

pytestmark = pytest.mark.server


async def test_put_get_round_trip(store: BaseStore) -> None:
    value = {"text": "tide tables", "n": 3, "nested": {"a": [1, 2]}, "ok": True, "uni": "été ✓"}
    await store.aput(("docs",), "k1", value)
    item = await store.aget(("docs",), "k1")
    assert item is not None
    assert (item.namespace, item.key, item.value) == (("docs",), "k1", value)
    assert isinstance(item.created_at, datetime) and item.updated_at >= item.created_at
    assert await store.aget(("docs",), "missing") is None
    assert await store.aget(("other",), "k1") is None


async def test_update_overwrites_and_delete_removes(store: BaseStore) -> None:
    await store.aput(("docs",), "k", {"text": "first", "v": 1})
    first = await store.aget(("docs",), "k")
    await store.aput(("docs",), "k", {"text": "second"})
    second = await store.aget(("docs",), "k")
    assert first is not None and second is not None
    assert second.value == {"text": "second"}
    assert second.updated_at >= first.updated_at
    assert [i.key for i in await store.asearch(("docs",))] == ["k"]
    await store.adelete(("docs",), "k")
    assert await store.aget(("docs",), "k") is None
    assert await store.asearch(("docs",)) == []
    await store.adelete(("docs",), "never-there")  # deleting nothing is fine


async def test_namespaces_isolate_keys_and_prefixes_select(store: BaseStore) -> None:
    for ns in [("a",), ("a", "b"), ("a", "b", "c"), ("ab",), ("b", "a")]:
        await store.aput(ns, "same", {"ns": "/".join(ns)})
    found = await store.asearch(("a",), limit=100)
    assert sorted(i.value["ns"] for i in found) == ["a", "a/b", "a/b/c"]
    assert sorted(i.value["ns"] for i in await store.asearch(("a", "b"))) == ["a/b", "a/b/c"]
    everything = await store.asearch((), limit=100)
    assert len(everything) == 5
    item = await store.aget(("a", "b"), "same")
    assert item is not None and item.value == {"ns": "a/b"}


async def test_filters_on_value_fields(store: BaseStore) -> None:
    rows = [
        {"doc_id": "d1", "split": "s1", "index": 0, "flag": True, "meta": {"lang": "en"}},
        {"doc_id": "d1", "split": "s1", "index": 1, "flag": False, "meta": {"lang": "fr"}},
        {"doc_id": "d1", "split": "s2", "index": 0, "flag": True},
        {"doc_id": "d2", "split": "s1", "index": 2},
    ]
    for i, row in enumerate(rows):
        await store.aput(("f", "chunks"), f"k{i}", row, index=False)
    await store.aput(("g",), "outside", {"doc_id": "d1", "split": "s1", "index": 0})

    async def keys(**filter: object) -> list[str]:
        found = await store.asearch(("f",), filter=filter, limit=1_000_000)
        return sorted(item.key for item in found)

    assert await keys(doc_id="d1", split="s1") == ["k0", "k1"]
    assert await keys(doc_id="d1") == ["k0", "k1", "k2"]
    assert await keys(flag=True) == ["k0", "k2"]
    assert await keys(index=0) == ["k0", "k2"]
    assert await keys(index={"$gt": 0}) == ["k1", "k3"]
    assert await keys(index={"$gte": 1, "$lte": 1}) == ["k1"]
    assert await keys(index={"$lt": 1}, split="s2") == ["k2"]
    assert await keys(split={"$ne": "s1"}) == ["k2"]
    assert await keys(flag={"$ne": True}) == ["k1", "k3"]  # a missing field is "not equal"
    assert await keys(meta={"lang": "fr"}) == ["k1"]
    assert await keys(doc_id="nope") == []


async def test_pages_are_disjoint_and_large_limits_return_everything(store: BaseStore) -> None:
    await store.abatch([PutOp(("p",), f"k{i:03d}", {"i": i}, index=False) for i in range(120)])
    pages = [await store.asearch(("p",), limit=50, offset=o) for o in (0, 50, 100)]
    assert [len(page) for page in pages] == [50, 50, 20]
    keys = [item.key for page in pages for item in page]
    assert len(set(keys)) == 120
    assert len(await store.asearch(("p",), limit=1_000_000)) == 120
    assert len(await store.asearch(("p",))) == 10  # the contract's default limit


async def test_semantic_search_over_indexed_fields(store: BaseStore) -> None:
    await store.aput(("s",), "light", {"text": "the lighthouse keeper lit the lamp", "n": 1},
                     index=["text"])  # fmt: skip
    await store.aput(("s",), "fish", {"text": "herring boats landed fish at dawn", "n": 2},
                     index=["text"])  # fmt: skip
    await store.aput(("s",), "default", {"text": "salt pans by the lagoon", "n": 3})
    await store.aput(("s",), "hidden", {"text": "lighthouse lamp keeper lit", "n": 4},
                     index=False)  # fmt: skip
    await store.aput(("s",), "title", {"title": "lighthouse lamp", "text": "unrelated words"},
                     index=["title"])  # fmt: skip

    found = await store.asearch(("s",), query="who lit the lighthouse lamp", limit=3)
    assert {item.key for item in found[:2]} == {"light", "title"}
    scores = [item.score for item in found]
    assert all(isinstance(s, float) for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]

    salt = await store.asearch(("s",), query="salt lagoon pans", limit=1)
    assert [item.key for item in salt] == ["default"]  # index=None uses the "text" field

    everything = await store.asearch(("s",), query="lighthouse", limit=10)
    assert {item.key for item in everything} == {"light", "fish", "default", "hidden", "title"}
    assert everything[-1].key == "hidden" and everything[-1].score is None


async def test_semantic_search_with_filter_and_prefix(store: BaseStore) -> None:
    texts = {"a": "granite harbour wall", "b": "granite quarry stone", "c": "granite wall"}
    for key, text in texts.items():
        group = "x" if key != "b" else "y"
        await store.aput(("q", group), key, {"text": text, "group": group}, index=["text"])
    await store.aput(("r",), "z", {"text": "granite harbour wall", "group": "x"}, index=["text"])
    found = await store.asearch(("q",), query="harbour wall", filter={"group": "x"}, limit=5)
    assert [item.key for item in found] == ["a", "c"]
    offset = await store.asearch(("q",), query="harbour wall", filter={"group": "x"}, offset=1)
    assert [item.key for item in offset] == ["c"]


async def test_updates_replace_vectors(store: BaseStore) -> None:
    await store.aput(("u",), "k", {"text": "apples and pears"}, index=["text"])
    await store.aput(("u",), "other", {"text": "bread and butter"}, index=["text"])
    await store.aput(("u",), "k", {"text": "ships and sails"}, index=["text"])
    found = await store.asearch(("u",), query="apples pears", limit=2)
    assert found[0].key != "k" or found[0].score is None or found[0].score < 0.5
    ships = await store.asearch(("u",), query="ships sails", limit=1)
    assert ships[0].key == "k" and ships[0].value == {"text": "ships and sails"}


async def test_list_namespaces(store: BaseStore) -> None:
    for ns in [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("x", "v1"), ("y", "z", "v1")]:
        await store.aput(ns, "k", {"v": 1})
    assert await store.alist_namespaces() == [
        ("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("x", "v1"), ("y", "z", "v1"),
    ]  # fmt: skip
    assert await store.alist_namespaces(prefix=("a", "b")) == [("a", "b", "c"), ("a", "b", "d")]
    assert await store.alist_namespaces(suffix=("v1",)) == [("x", "v1"), ("y", "z", "v1")]
    assert await store.alist_namespaces(prefix=("a", "*", "c")) == [("a", "b", "c")]
    assert await store.alist_namespaces(max_depth=1) == [("a",), ("x",), ("y",)]
    assert await store.alist_namespaces(prefix=("a",), max_depth=2) == [("a", "b"), ("a", "e")]
    assert await store.alist_namespaces(limit=2, offset=1) == [("a", "b", "d"), ("a", "e")]


async def test_batches_answer_in_order_and_sync_api_works(store: BaseStore) -> None:
    results = await store.abatch(
        [
            PutOp(("b",), "k", {"text": "one"}),
            GetOp(("b",), "k"),
            SearchOp(("b",)),
        ]
    )
    assert results[0] is None
    # Reads in a batch see the store as it was before the batch's writes.
    assert results[1] is None and results[2] == []
    store.put(("b",), "k2", {"text": "two"})
    item = store.get(("b",), "k2")
    assert item is not None and item.value == {"text": "two"}
    assert {i.key for i in store.search(("b",))} == {"k", "k2"}
    store.delete(("b",), "k2")
    assert store.get(("b",), "k2") is None


async def test_invalid_namespaces_and_ttl_are_refused(store: BaseStore) -> None:
    for bad in [(), ("langgraph", "x"), ("a.b",), ("",)]:
        with pytest.raises(InvalidNamespaceError):
            await store.aput(bad, "k", {"v": 1})
    with pytest.raises(NotImplementedError, match="TTL"):
        await store.aput(("t",), "k", {"v": 1}, ttl=5)


async def test_document_chunks_load_as_long_doc_expects(store: BaseStore) -> None:
    chunks = [
        DocumentChunk(text=f"part {i}", source="f.md", doc_id="abc", split="ingest-256",
                      index=i, start=i * 7, end=i * 7 + 6, tokens=2)
        for i in range(5)
    ]  # fmt: skip
    for chunk in chunks:
        key = chunk_key(chunk.doc_id, chunk.split, chunk.index)
        await store.aput(("default", "chunks"), key, chunk.to_value(), index=["text"])
    found = await store.asearch(
        ("default", "chunks"), filter={"doc_id": "abc", "split": "ingest-256"}, limit=1_000_000
    )
    loaded = sorted((DocumentChunk.from_value(i.value) for i in found), key=lambda c: c.index)
    assert loaded == chunks
