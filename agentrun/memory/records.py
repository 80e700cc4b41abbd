"""Typed records that workflows keep in the shared memory store.

Each record turns into a store value with `to_value()` and back with `from_value()`; the `text`
field is the one indexed for semantic search.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    text: str

    def to_value(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> Self:
        return cls.model_validate(value)


class DocumentChunk(Record):
    """A piece of a source document, with its character offsets and token count."""

    kind: str = "chunk"
    source: str
    doc_id: str
    split: str = Field(
        description="The chunking that made it, e.g. 'ingest-256' or 'smollm2-2048'."
    )
    index: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    tokens: int = Field(ge=0)


class Experience(Record):
    """An episodic memory: what was done where, and what came of it."""

    kind: str = "experience"
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    place: str
    state: str = ""
    action: str
    outcome: str


class Summary(Record):
    """A summary of a span of other records (level 0 summarizes chunks, level 1 summaries...)."""

    kind: str = "summary"
    level: int = Field(ge=0)
    span_start: int = Field(ge=0)
    span_end: int = Field(ge=0)
    parent_id: str | None = None


def chunk_key(doc_id: str, split: str, index: int) -> str:
    """Store key of a chunk: stable, so re-ingesting or re-splitting never duplicates."""
    return f"{doc_id}-{split}-{index:06d}"


#: Chunk size of `agentrun memory ingest` (MiniLM tokens). Sizes 128 to 224 rank the answering
#: chunk first equally often on the question sets of tests/memory (33 of 36); 150 ranks the
#: misses highest (MRR@5) and ties for best on the two sets that were not used to tune it.
INGEST_CHUNK_TOKENS = 150
#: Splits made by `agentrun memory ingest` (workflows name theirs after their model).
INGEST_SPLIT_PREFIX = "ingest-"


def split_name(chunk_tokens: int) -> str:
    """The split name of ingested chunks of a given size."""
    return f"{INGEST_SPLIT_PREFIX}{chunk_tokens}"
