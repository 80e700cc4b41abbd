"""Re-ingesting: a file's path names its document, so a new version replaces the old one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from langgraph.store.base import BaseStore, Op, PutOp, Result
from langgraph.store.memory import InMemoryStore

from agentrun.cli import run as cli
from agentrun.memory import FakeEmbedder, default_store, in_memory_store
from agentrun.memory.documents import StoredDocument, load_text
from agentrun.memory.ingest import Ingester, IngestOutcome, documents, remove
from agentrun.memory.namespaces import chunks_ns
from agentrun.memory.records import INGEST_CHUNK_TOKENS, DocumentChunk, chunk_key, split_name

DATA = Path(__file__).parent / "data"
NS = ("default",)


def long_text(version: str) -> str:
    """Enough paragraphs for several write batches at 40-token chunks."""
    return "\n\n".join(
        f"Section {i} of the {version} edition tells of harbour {i}." for i in range(300)
    )


class FailingStore(InMemoryStore):
    """Fails the n-th batch that writes chunks, as a crash or a full disk would."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(index=in_memory_store().index_config)
        self.fail_at = fail_at
        self.chunk_batches = 0

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        if any(isinstance(op, PutOp) and op.value and op.namespace == chunks_ns(NS) for op in ops):
            self.chunk_batches += 1
            if self.chunk_batches == self.fail_at:
                raise OSError("disk full")
        return await super().abatch(ops)


async def chunk_items(store: BaseStore) -> list[DocumentChunk]:
    items = await store.asearch(chunks_ns(NS), limit=1_000_000)
    return [DocumentChunk.from_value(item.value) for item in items]


async def interrupted_edit(path: Path) -> tuple[FailingStore, Ingester, IngestOutcome]:
    """`path` ingested, then edited and its re-ingest failed after one batch of new chunks."""
    await asyncio.to_thread(path.write_text, long_text("first"), "utf-8")
    store = FailingStore(fail_at=0)
    ingester = Ingester(store, FakeEmbedder(), chunk_tokens=40)
    [first] = await ingester.ingest([path])
    await asyncio.to_thread(path.write_text, long_text("second"), "utf-8")
    store.chunk_batches, store.fail_at = 0, 2
    with pytest.raises(OSError, match="disk full"):
        await ingester.ingest_file(path)
    store.fail_at = 0
    return store, ingester, first


async def test_a_failed_re_ingest_keeps_the_old_version_and_the_next_run_tidies_up(
    tmp_path: Path,
) -> None:
    path = tmp_path / "doc.md"
    store, ingester, first = await interrupted_edit(path)
    [info] = await documents(store)
    assert info.doc_id == first.doc_id  # still the old version, complete
    old = StoredDocument(first.doc_id, split_name(40))
    assert await load_text(store, NS, old) == long_text("first")

    [second] = await ingester.ingest([path])
    assert second.status == "ingested" and f"replaces doc {first.doc_id}" in second.message
    chunks = await chunk_items(store)
    assert {c.doc_id for c in chunks} == {second.doc_id} and len(chunks) == second.chunks
    [info] = await documents(store)
    assert info.doc_id == second.doc_id


async def test_chunks_left_by_a_failed_ingest_go_when_the_file_is_reverted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "doc.md"
    store, ingester, first = await interrupted_edit(path)
    assert len({c.doc_id for c in await chunk_items(store)}) == 2  # orphans of the new version

    path.write_text(long_text("first"), "utf-8")
    [again] = await ingester.ingest([path])
    assert again.status == "unchanged"
    chunks = await chunk_items(store)
    assert {c.doc_id for c in chunks} == {first.doc_id} and len(chunks) == first.chunks


async def test_shared_text_and_workflow_chunks_survive_a_replacement(tmp_path: Path) -> None:
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text(long_text("first"), "utf-8")
    b.write_text(long_text("first"), "utf-8")
    store = in_memory_store()
    ingester = Ingester(store, FakeEmbedder(), chunk_tokens=40)
    first, twin = await ingester.ingest([a, b])
    assert twin.status == "ingested" and twin.message == f"same text as {a}"
    assert len(await chunk_items(store)) == first.chunks  # shared, not written twice
    workflow = DocumentChunk(
        text="x", source=str(a), doc_id=first.doc_id, split="fake_m-99", index=0, start=0,
        end=1, tokens=1,
    )  # fmt: skip
    key = chunk_key(first.doc_id, "fake_m-99", 0)
    await store.aput(chunks_ns(NS), key, workflow.to_value(), index=False)

    a.write_text(long_text("second"), "utf-8")
    [second] = await ingester.ingest([a])
    assert f"replaces doc {first.doc_id}" in second.message
    old = StoredDocument(first.doc_id, split_name(40))
    assert await load_text(store, NS, old) == long_text("first")  # b still uses them
    assert await store.aget(chunks_ns(NS), key) is not None

    [(removed, count)] = await remove(store, [str(b)])
    assert removed.source == str(b) and count == first.chunks + 1  # with the workflow's chunk
    assert {c.doc_id for c in await chunk_items(store)} == {second.doc_id}
    assert [d.source for d in await documents(store)] == [str(a)]


def test_an_edited_or_rechunked_file_is_listed_and_found_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    doc = tmp_path / "kestrel.md"
    text = (DATA / "kestrel_observatory.md").read_text(encoding="utf-8")
    doc.write_text(text, "utf-8")
    assert cli(["memory", "ingest", str(doc)]) == 0
    old_id = re.search(r"doc ([0-9a-f]{16})", capsys.readouterr().out).group(1)  # type: ignore[union-attr]
    assert "forty pounds" in text
    doc.write_text(text.replace("forty pounds", "sixty pounds"), "utf-8")

    assert cli(["memory", "ingest", str(doc)]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert f"replaces doc {old_id} {split_name(INGEST_CHUNK_TOKENS)}" in out and "1 ingested" in out
    new_id = re.search(r"doc ([0-9a-f]{16})", out).group(1)  # type: ignore[union-attr]
    assert cli(["memory", "ls"]) == 0
    listed = capsys.readouterr().out
    assert new_id in listed and old_id not in listed

    def stored() -> list[DocumentChunk]:
        with default_store(data_dir) as store:
            return asyncio.run(chunk_items(store))

    def top_texts(question: str) -> list[str]:
        assert cli(["memory", "search", question, "-k", "5", "--full"]) == 0
        found = re.findall(r"^   (.*)$", capsys.readouterr().out, re.MULTILINE)
        assert found
        return found

    chunks = stored()
    assert {c.doc_id for c in chunks} == {new_id}
    texts = top_texts("How much did Parrish pay the farmer for the ridge?")
    assert len(texts) == len(set(texts)) and "sixty pounds" in texts[0]
    assert not any("forty pounds" in t for t in texts)

    for _ in range(2):  # another chunk size replaces the chunks; the second run adds nothing
        assert cli(["memory", "ingest", str(doc), "--chunk-tokens", "96"]) == 0
    assert "1 unchanged" in capsys.readouterr().out
    rechunked = stored()
    assert {c.split for c in rechunked} == {split_name(96)} and len(rechunked) > len(chunks)
    texts = top_texts("How much did Parrish pay the farmer for the ridge?")
    assert len(texts) == len(set(texts)) and any("sixty pounds" in t for t in texts)
