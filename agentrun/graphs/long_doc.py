"""Pieces every long-document workflow shares: documents split into chunks, answers, and votes.

A document is split once per run for its model and chunk size. Chunks indexed for search go to
the memory store in the namespace's `chunks` (`agentrun.memory.namespaces.chunks_ns`), keyed by
document id, split and index, so later runs and other workflows find them; chunks a run only
reads in order are the run's own records (`agentrun.graphs.run_records`), which cost one file
append instead of a memory write and keep the memory for what later runs use. Either way graph
state carries only the document id and the chunk count. Document ids and stored documents are
the memory store's (`agentrun.memory.documents`); they are named here too, for the workflows.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Any

from langgraph.store.base import BaseStore, PutOp
from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.gateway import Gateway
from agentrun.errors import UsageError
from agentrun.graphs.run_records import RunRecords
from agentrun.memory.documents import StoredDocument, document_id, load_text
from agentrun.memory.namespaces import chunks_ns
from agentrun.memory.records import DocumentChunk, chunk_key
from agentrun.text.splitter import TextChunk, split_text


class Answer(BaseModel):
    """A short answer, or null to abstain when the text does not contain it."""

    model_config = ConfigDict(extra="ignore")

    answer: str | None = Field(description="A short answer, or null if it is not in the text.")


Document = str | StoredDocument


@dataclass(frozen=True)
class PreparedDocument:
    doc_id: str
    split: str
    chunk_count: int
    tokens: int
    source: str
    #: Whether the chunks are in the memory store (indexed) or the run's records.
    in_store: bool = True


def model_slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", model).strip("_").lower()


async def prepare_document(
    gateway: Gateway,
    store: BaseStore,
    namespace: tuple[str, ...],
    document: Document,
    *,
    model: str,
    chunk_tokens: int,
    source: str = "document",
    index: bool = False,
    records: RunRecords | None = None,
) -> PreparedDocument:
    """Split the document for `model` and keep its chunks: in the memory store when `index`
    (or no `records` are given; once: re-runs find them), else in the run's `records`.

    In the store, chunk 0 is written last and marks the split complete: a run killed while
    writing leaves no chunk 0, so the next run writes every chunk again (same keys) instead of
    taking the chunks it finds for the whole document."""
    text = document if isinstance(document, str) else await load_text(store, namespace, document)
    if not text.strip():
        raise UsageError(f"{source}: the document is empty; pass a text with content")
    doc_id = document_id(text)
    split = f"{model_slug(model)}-{chunk_tokens}"
    if records is not None and not index:
        chunks = split_text(text, chunk_tokens, gateway.text_counter(model))
        records.put_many(
            "chunk",
            (
                (chunk_key(doc_id, split, c.index), _record(c, source, doc_id, split))
                for c in chunks
            ),
        )
        tokens = sum(chunk.tokens for chunk in chunks)
        return PreparedDocument(doc_id, split, len(chunks), tokens, source, in_store=False)
    first = await store.aget(chunks_ns(namespace), chunk_key(doc_id, split, 0))
    if first is not None:
        existing = await store.asearch(
            chunks_ns(namespace), filter={"doc_id": doc_id, "split": split}, limit=1_000_000
        )
        tokens = sum(int(item.value["tokens"]) for item in existing)
        return PreparedDocument(doc_id, split, len(existing), tokens, source)
    chunks = split_text(text, chunk_tokens, gateway.text_counter(model))
    puts = [
        PutOp(
            chunks_ns(namespace),
            chunk_key(doc_id, split, chunk.index),
            _record(chunk, source, doc_id, split),
            index=["text"] if index else False,
        )
        for chunk in [*chunks[1:], *chunks[:1]]  # chunk 0 last: it marks the split complete
    ]
    await store.abatch(puts)  # one write for the whole document, not one per chunk
    return PreparedDocument(doc_id, split, len(chunks), sum(c.tokens for c in chunks), source)


def _record(chunk: TextChunk, source: str, doc_id: str, split: str) -> dict[str, Any]:
    return DocumentChunk(
        text=chunk.text, source=source, doc_id=doc_id, split=split,
        index=chunk.index, start=chunk.start, end=chunk.end, tokens=chunk.tokens,
    ).to_value()  # fmt: skip


async def load_chunk(
    store: BaseStore,
    namespace: tuple[str, ...],
    doc: PreparedDocument | dict[str, Any],
    index: int,
    records: RunRecords | None = None,
) -> DocumentChunk:
    """Chunk `index` of a prepared document, from wherever `prepare_document` kept it."""
    if isinstance(doc, dict):
        doc = PreparedDocument(**doc)
    key = chunk_key(doc.doc_id, doc.split, index)
    if not doc.in_store and records is not None:
        value = records.get("chunk", key)
    else:
        item = await store.aget(chunks_ns(namespace), key)
        value = None if item is None else item.value
    if value is None:
        kept = "the memory store" if doc.in_store else "the run's records"
        raise UsageError(
            f"chunk {index} of document {doc.doc_id} is missing from {kept}; a resumed run "
            "needs the data directory and store it started with"
        )
    return DocumentChunk.from_value(value)


# --- answers ---------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD-style normalization: lower case, no punctuation, articles or extra spaces."""
    lowered = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(lowered.split())


def vote(answers: list[str | None]) -> int:
    """Index of the majority answer (abstentions count only if nothing else was said)."""
    said = [normalize_answer(a) for a in answers if a]
    if not said:
        return 0
    winner, _ = Counter(said).most_common(1)[0]
    return next(i for i, a in enumerate(answers) if a and normalize_answer(a) == winner)


__all__ = [
    "Answer",
    "Document",
    "PreparedDocument",
    "StoredDocument",
    "document_id",
    "load_chunk",
    "load_text",
    "model_slug",
    "normalize_answer",
    "prepare_document",
    "vote",
]
