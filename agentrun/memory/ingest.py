"""Documents into the memory store, and back out: ingest, search, list, remove.

A file is read as a stream of paragraph-aligned blocks, cut by the shared splitter into chunks
of at most `chunk_tokens` of the embedder's own tokens (so no chunk is truncated when embedded),
and stored as `DocumentChunk` records under `(*namespace, "chunks")` with stable keys (document
id, split, index): `agentrun.graphs.long_doc.StoredDocument(doc_id, split)` loads them. The
document id is the hash of the text, and a `DocumentInfo` record written last marks a document
complete, so ingesting again adds nothing, and an interrupted ingest, run again, overwrites the
same keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from langgraph.store.base import BaseStore, PutOp, Result
from pydantic import BaseModel, ConfigDict, Field

from agentrun.errors import InputFileError, UsageError
from agentrun.memory.embedders import Embedder
from agentrun.memory.records import INGEST_CHUNK_TOKENS, DocumentChunk, chunk_key, split_name
from agentrun.memory.sources import SourceFile, collect, open_source, text_blocks
from agentrun.tools.text import split_text

#: Chunk size of `agentrun memory ingest`, in embedder tokens: the size that ranked the
#: answering paragraph first most often on held-out question sets (see tests/memory).
DEFAULT_CHUNK_TOKENS = INGEST_CHUNK_TOKENS
DEFAULT_OVERLAP_TOKENS = 0
DEFAULT_MAX_FILE_MB = 100.0
#: Chunks embedded and written per store batch.
WRITE_BATCH = 64

Status = Literal["ingested", "unchanged", "skipped", "failed"]


class DocumentInfo(BaseModel):
    """What `agentrun memory ls` lists: one ingested document, written after all its chunks."""

    model_config = ConfigDict(extra="forbid")

    kind: str = "document"
    doc_id: str
    source: str
    split: str
    chunks: int = Field(ge=0)
    tokens: int = Field(ge=0)
    chars: int = Field(ge=0)
    encoding: str
    ingested_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class IngestOutcome:
    path: str
    status: Status
    message: str = ""
    doc_id: str = ""
    chunks: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class SearchHit:
    score: float
    chunk: DocumentChunk


def chunks_ns(namespace: tuple[str, ...]) -> tuple[str, ...]:
    return (*namespace, "chunks")


def documents_ns(namespace: tuple[str, ...]) -> tuple[str, ...]:
    return (*namespace, "documents")


ProgressHandler = Callable[[str, int], None]


@dataclass
class Ingester:
    """Ingests files into `store` under `namespace`; `progress(path, bytes_done)` as it goes."""

    store: BaseStore
    embedder: Embedder
    namespace: tuple[str, ...] = ("default",)
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS
    max_file_mb: float = DEFAULT_MAX_FILE_MB
    progress: ProgressHandler | None = None

    def __post_init__(self) -> None:
        if not 0 < self.chunk_tokens <= self.embedder.max_tokens:
            raise UsageError(
                f"chunk size {self.chunk_tokens} must be between 1 and {self.embedder.max_tokens}"
                f", the longest input {self.embedder.name} embeds without truncating"
            )
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise UsageError(f"overlap {self.overlap_tokens} must be below the chunk size")
        if self.max_file_mb <= 0:
            raise UsageError(f"--max-file-mb must be positive, got {self.max_file_mb:g}")

    @property
    def split(self) -> str:
        return split_name(self.chunk_tokens)

    async def ingest(self, paths: Sequence[str | Path]) -> list[IngestOutcome]:
        """One outcome per file; a bad file is reported and the others are still ingested."""
        files, skipped, missing = collect(paths)
        outcomes = [IngestOutcome(e.path, "failed", _reason(e)) for e in missing]
        outcomes += [IngestOutcome(str(s.path), "skipped", s.reason) for s in skipped]
        for path in files:
            try:
                outcomes.append(await self.ingest_file(path))
            except InputFileError as exc:
                outcomes.append(IngestOutcome(exc.path, "failed", _reason(exc)))
        return outcomes

    async def ingest_file(self, path: Path) -> IngestOutcome:
        source = open_source(path, self.max_file_mb)
        name = _absolute(path)
        known = await self.store.aget(documents_ns(self.namespace), source.doc_id)
        if known is not None and known.value.get("split") == self.split:
            info = DocumentInfo.model_validate(known.value)
            note = "" if info.source == name else f"same text as {info.source}"
            self._report(str(path), source.size)
            return IngestOutcome(
                str(path), "unchanged", note, info.doc_id, info.chunks, info.tokens
            )
        count, tokens = await self._write_chunks(source, name)
        info = DocumentInfo(
            doc_id=source.doc_id, source=name, split=self.split, chunks=count, tokens=tokens,
            chars=source.chars, encoding=source.encoding,
        )  # fmt: skip
        await self.store.aput(
            documents_ns(self.namespace), source.doc_id, info.model_dump(mode="json"), index=False
        )
        return IngestOutcome(str(path), "ingested", "", source.doc_id, count, tokens)

    async def _write_chunks(self, source: SourceFile, name: str) -> tuple[int, int]:
        count = tokens = 0
        pending: list[PutOp] = []
        chars_done = 0
        # One batch is written while the next is split and embedded (the store embeds in a
        # worker thread), so the model rarely waits for the database.
        writing: asyncio.Task[list[Result]] | None = None
        for offset, block in text_blocks(source):
            pieces = split_text(
                block, self.chunk_tokens, self.embedder.count_tokens,
                overlap_tokens=self.overlap_tokens,
            )  # fmt: skip
            for piece in pieces:
                chunk = DocumentChunk(
                    text=piece.text, source=name, doc_id=source.doc_id, split=self.split,
                    index=count, start=offset + piece.start, end=offset + piece.end,
                    tokens=piece.tokens,
                )  # fmt: skip
                key = chunk_key(source.doc_id, self.split, count)
                pending.append(PutOp(chunks_ns(self.namespace), key, chunk.to_value(), ["text"]))
                count += 1
                tokens += piece.tokens
                if len(pending) >= WRITE_BATCH:
                    if writing is not None:
                        await writing
                    writing = asyncio.create_task(self.store.abatch(pending))
                    pending = []
                    self._report(str(source.path), _bytes_done(source, offset + piece.end))
            chars_done = offset + len(block)
        if writing is not None:
            await writing
        if pending:
            await self.store.abatch(pending)
        self._report(str(source.path), _bytes_done(source, chars_done))
        return count, tokens

    def _report(self, path: str, done: int) -> None:
        if self.progress is not None:
            self.progress(path, done)


def _absolute(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def _reason(error: InputFileError) -> str:
    return error.message.removeprefix(f"{error.path}: ")


def _bytes_done(source: SourceFile, chars: int) -> int:
    return source.size if chars >= source.chars else int(source.size * chars / source.chars)


async def search(
    store: BaseStore, query: str, *, namespace: tuple[str, ...] = ("default",), limit: int = 5
) -> list[SearchHit]:
    """The chunks closest in meaning to `query`, best first (unindexed chunks never appear)."""
    if not query.strip():
        raise UsageError("the search query is empty; pass some words to search for")
    if limit <= 0:
        raise UsageError(f"--limit must be positive, got {limit}")
    items = await store.asearch(chunks_ns(namespace), query=query, limit=limit)
    return [
        SearchHit(item.score, DocumentChunk.from_value(item.value))
        for item in items
        if item.score is not None
    ]


async def documents(
    store: BaseStore, namespace: tuple[str, ...] = ("default",)
) -> list[DocumentInfo]:
    items = await store.asearch(documents_ns(namespace), limit=1_000_000)
    infos = [DocumentInfo.model_validate(item.value) for item in items]
    return sorted(infos, key=lambda info: (info.source, info.ingested_at))


async def remove(
    store: BaseStore, targets: Sequence[str], namespace: tuple[str, ...] = ("default",)
) -> list[tuple[DocumentInfo, int]]:
    """Remove documents named by id (or a unique id prefix) or source path, with every chunk
    of theirs (all splits). Returns each removed document and its chunk count."""
    known = await documents(store, namespace)
    chosen: dict[str, DocumentInfo] = {}
    for target in targets:
        by_source = _absolute(target)
        found = [d for d in known if d.doc_id.startswith(target) or d.source == by_source]
        if not found:
            raise UsageError(
                f"no document {target!r} in namespace {'/'.join(namespace)}; "
                "`agentrun memory ls` lists ids and sources"
            )
        if len({d.doc_id for d in found}) > 1 and not all(d.source == by_source for d in found):
            ids = ", ".join(d.doc_id for d in found)
            raise UsageError(f"{target!r} matches several documents ({ids}); give more of the id")
        chosen.update((d.doc_id, d) for d in found)
    removed: list[tuple[DocumentInfo, int]] = []
    for info in chosen.values():
        chunks = await store.asearch(
            chunks_ns(namespace), filter={"doc_id": info.doc_id}, limit=1_000_000
        )
        ops = [PutOp(chunks_ns(namespace), item.key, None) for item in chunks]
        ops.append(PutOp(documents_ns(namespace), info.doc_id, None))
        await store.abatch(ops)
        removed.append((info, len(chunks)))
    return removed
