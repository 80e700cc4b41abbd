"""Documents in the memory store: their ids, and a stored document read back as text.

A document's id is the hash of its text, so ingesting (`agentrun.memory.ingest`) and workflows
that store a text themselves name the same text the same way. A `StoredDocument` names a
document already in the store by its id and split; `load_text` reassembles its text from its
chunks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentrun.errors import UsageError
from agentrun.memory.namespaces import chunks_ns
from agentrun.memory.records import INGEST_CHUNK_TOKENS, DocumentChunk, split_name

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

#: Hex digits of a text's SHA-256 kept as its document id.
DOC_ID_CHARS = 16
#: Characters encoded at a time when hashing a text (a long document is not copied whole).
HASH_SLICE_CHARS = 1 << 16


def digest_id(sha256_hex: str) -> str:
    """The document id of a text whose SHA-256 (of its UTF-8) is `sha256_hex`."""
    return sha256_hex[:DOC_ID_CHARS]


def document_id(text: str) -> str:
    """The id of `text`: its UTF-8 hashed a slice at a time, without a copy of the whole."""
    digest = hashlib.sha256()
    for start in range(0, len(text), HASH_SLICE_CHARS):
        digest.update(text[start : start + HASH_SLICE_CHARS].encode("utf-8"))
    return digest_id(digest.hexdigest())


@dataclass(frozen=True)
class StoredDocument:
    """A document already in the store, named by its id (as `agentrun memory ingest` prints)."""

    doc_id: str
    split: str = split_name(INGEST_CHUNK_TOKENS)


async def load_text(store: BaseStore, namespace: tuple[str, ...], document: StoredDocument) -> str:
    """Reassemble a stored document's text from its chunks (in offset order)."""
    items = await store.asearch(
        chunks_ns(namespace),
        filter={"doc_id": document.doc_id, "split": document.split},
        limit=1_000_000,
    )
    if not items:
        raise UsageError(
            f"document {document.doc_id!r} (split {document.split!r}) is not in the store "
            f"under namespace {'/'.join(namespace)}; ingest it first or pass the text"
        )
    chunks = sorted((DocumentChunk.from_value(item.value) for item in items), key=lambda c: c.start)
    text = ""
    for chunk in chunks:
        if chunk.start >= len(text):
            text += " " * (chunk.start - len(text)) + chunk.text
        else:
            text = text[: chunk.start] + chunk.text
    return text
