"""Pieces every long-document workflow shares: documents in the store, answers, and votes.

A document is split once per (model, chunk size) and its chunks are kept in the memory store in
the namespace's `chunks` (`agentrun.memory.namespaces.chunks_ns`), keyed by document id, split
and index, so later runs and other workflows reuse them. Graph state carries only the document
id and the chunk count. Document ids and stored documents are the memory store's
(`agentrun.memory.documents`); they are named here too, for the workflows.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

from langgraph.store.base import BaseStore
from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.gateway import Gateway
from agentrun.errors import UsageError
from agentrun.memory.documents import StoredDocument, document_id, load_text
from agentrun.memory.namespaces import chunks_ns
from agentrun.memory.records import DocumentChunk, chunk_key
from agentrun.text.splitter import split_text


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
) -> PreparedDocument:
    """Split the document for `model` and store its chunks (once: re-runs find them).

    Chunk 0 is written last and marks the split complete: a run killed while writing leaves
    no chunk 0, so the next run writes every chunk again (same keys) instead of taking the
    chunks it finds for the whole document."""
    text = document if isinstance(document, str) else await load_text(store, namespace, document)
    if not text.strip():
        raise UsageError(f"{source}: the document is empty; pass a text with content")
    doc_id = document_id(text)
    split = f"{model_slug(model)}-{chunk_tokens}"
    first = await store.aget(chunks_ns(namespace), chunk_key(doc_id, split, 0))
    if first is not None:
        existing = await store.asearch(
            chunks_ns(namespace), filter={"doc_id": doc_id, "split": split}, limit=1_000_000
        )
        tokens = sum(int(item.value["tokens"]) for item in existing)
        return PreparedDocument(doc_id, split, len(existing), tokens, source)
    chunks = split_text(text, chunk_tokens, gateway.text_counter(model))
    for chunk in [*chunks[1:], *chunks[:1]]:
        record = DocumentChunk(
            text=chunk.text, source=source, doc_id=doc_id, split=split,
            index=chunk.index, start=chunk.start, end=chunk.end, tokens=chunk.tokens,
        )  # fmt: skip
        await store.aput(
            chunks_ns(namespace),
            chunk_key(doc_id, split, chunk.index),
            record.to_value(),
            index=["text"] if index else False,
        )
    return PreparedDocument(doc_id, split, len(chunks), sum(c.tokens for c in chunks), source)


async def load_chunk(
    store: BaseStore,
    namespace: tuple[str, ...],
    doc: PreparedDocument | dict[str, object],
    index: int,
) -> DocumentChunk:
    doc_id = doc.doc_id if isinstance(doc, PreparedDocument) else str(doc["doc_id"])
    split = doc.split if isinstance(doc, PreparedDocument) else str(doc["split"])
    item = await store.aget(chunks_ns(namespace), chunk_key(doc_id, split, index))
    if item is None:
        raise UsageError(
            f"chunk {index} of document {doc_id} is missing from the store; "
            "a resumed run needs the persistent store it started with"
        )
    return DocumentChunk.from_value(item.value)


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
