"""Documents into the memory store, and back out: ingest, search, list, remove.

A file is read as a stream of paragraph-aligned blocks, cut by the shared splitter into chunks
of at most `chunk_tokens` of the embedder's own tokens (so no chunk is truncated when embedded),
and stored as `DocumentChunk` records in the namespace's `chunks` (`namespaces.chunks_ns`, the
same place workflows read) with stable keys (document id, split, index):
`agentrun.memory.documents.StoredDocument(doc_id, split)` names them for `load_text` and the
workflows. The document id is the hash of the text (`document_id` there); the document itself
is its source path, whose `DocumentInfo` record (keyed by the path) is written after all its
chunks.

So ingesting an unchanged file adds nothing, and an interrupted ingest, run again, overwrites
the same keys. An edited file (or one chunked anew) gets its new chunks written first, then its
record moved to them, and only then its previous version's chunks deleted: a failure midway
leaves the old version complete, and the next run tidies up. Chunks that another path with the
same text still uses are kept.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from langgraph.store.base import BaseStore, PutOp, Result
from pydantic import BaseModel, ConfigDict, Field

from agentrun.errors import InputFileError, UsageError
from agentrun.memory.embedders import Embedder
from agentrun.memory.namespaces import DOCUMENTS, chunks_ns, documents_ns, labels_of, shown
from agentrun.memory.records import (
    INGEST_CHUNK_TOKENS,
    INGEST_SPLIT_PREFIX,
    DocumentChunk,
    chunk_key,
    split_name,
)
from agentrun.memory.sources import SourceFile, collect, open_source, text_blocks
from agentrun.text.splitter import split_text

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


def document_key(source: str) -> str:
    """Store key of a document's `DocumentInfo`: its absolute source path identifies it."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


Version = tuple[str, str]  # (doc id, split): which chunks a document record points to
LIMIT = 1_000_000


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
        records = await _document_records(self.store, self.namespace)
        previous = [(key, info) for key, info in records if info.source == name]
        version = (source.doc_id, self.split)
        current = next((info for _, info in previous if _version(info) == version), None)
        if current is not None:
            await self._drop_previous(name, version, previous, records)
            self._report(str(path), source.size)
            return IngestOutcome(
                str(path), "unchanged", "", current.doc_id, current.chunks, current.tokens
            )
        twin = next((i for _, i in records if _version(i) == version), None)
        if twin is None:
            count, tokens = await self._write_chunks(source, name)
            note = ""
        else:  # the same text, chunked the same way, from another path: share its chunks
            count, tokens = twin.chunks, twin.tokens
            note = f"same text as {twin.source}"
            self._report(str(path), source.size)
        info = DocumentInfo(
            doc_id=source.doc_id, source=name, split=self.split, chunks=count, tokens=tokens,
            chars=source.chars, encoding=source.encoding,
        )  # fmt: skip
        await self.store.aput(
            documents_ns(self.namespace), document_key(name), info.model_dump(mode="json"),
            index=False,
        )  # fmt: skip
        replaced = await self._drop_previous(name, version, previous, records)
        if replaced:
            old = ", ".join(f"doc {d} {s}" for d, s in replaced)
            note = "; ".join(filter(None, [note, f"replaces {old}"]))
        return IngestOutcome(str(path), "ingested", note, source.doc_id, count, tokens)

    async def _drop_previous(
        self,
        name: str,
        version: Version,
        previous: list[tuple[str, DocumentInfo]],
        records: list[tuple[str, DocumentInfo]],
    ) -> list[Version]:
        """Delete what `name` no longer uses: other records of it, and the chunks of its
        earlier versions (also those an interrupted ingest left), unless another document uses
        them. Returns the versions replaced."""
        ns = chunks_ns(self.namespace)
        ops = [
            PutOp(documents_ns(self.namespace), key, None)
            for key, _ in previous
            if key != document_key(name)
        ]
        in_use = {_version(i) for _, i in records if i.source != name} | {version}
        replaced = [v for v in dict.fromkeys(_version(i) for _, i in previous) if v != version]
        stale: dict[str, None] = {}
        for doc_id, split in replaced:
            if (doc_id, split) not in in_use:
                found = await self.store.asearch(
                    ns, filter={"doc_id": doc_id, "split": split}, limit=LIMIT
                )
                stale.update(dict.fromkeys(item.key for item in found))
        for item in await self.store.asearch(ns, filter={"source": name}, limit=LIMIT):
            chunk_version = (str(item.value.get("doc_id")), str(item.value.get("split")))
            if chunk_version[1].startswith(INGEST_SPLIT_PREFIX) and chunk_version not in in_use:
                stale[item.key] = None
        ops += [PutOp(ns, key, None) for key in stale]
        if ops:
            await self.store.abatch(ops)
        return replaced

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


def _version(info: DocumentInfo) -> Version:
    return info.doc_id, info.split


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


async def _document_records(
    store: BaseStore, namespace: tuple[str, ...]
) -> list[tuple[str, DocumentInfo]]:
    """(store key, record) of every document in the namespace."""
    items = await store.asearch(documents_ns(namespace), limit=LIMIT)
    return [(item.key, DocumentInfo.model_validate(item.value)) for item in items]


async def document_namespaces(
    store: BaseStore,
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The namespaces that hold ingested documents, and those that hold documents in the layout
    of versions before records were kept under a reserved label (found by nothing now)."""
    spaces = await store.alist_namespaces(suffix=(DOCUMENTS,), limit=LIMIT)
    current, older = set(), set()
    for namespace in spaces:
        labels = labels_of(namespace)
        if labels is None:
            older.add(tuple(namespace[:-1]))
        elif documents_ns(labels) == tuple(namespace):
            current.add(labels)
    return sorted(current), sorted(older)


async def documents(
    store: BaseStore, namespace: tuple[str, ...] = ("default",)
) -> list[DocumentInfo]:
    infos = [info for _, info in await _document_records(store, namespace)]
    return sorted(infos, key=lambda info: (info.source, info.ingested_at))


async def remove(
    store: BaseStore, targets: Sequence[str], namespace: tuple[str, ...] = ("default",)
) -> list[tuple[DocumentInfo, int]]:
    """Remove documents named by id (or a unique id prefix) or source path, with every chunk
    of theirs (all splits) that no remaining document uses. Returns each removed document and
    its chunk count."""
    known = await _document_records(store, namespace)
    chosen: dict[str, DocumentInfo] = {}
    for target in targets:
        by_source = _absolute(target)
        found = [(k, d) for k, d in known if d.doc_id.startswith(target) or d.source == by_source]
        if not found:
            raise UsageError(
                f"no document {target!r} in namespace {shown(namespace)}; "
                "`agentrun memory ls` lists ids and sources"
            )
        ids = sorted({d.doc_id for _, d in found})
        if len(ids) > 1 and not all(d.source == by_source for _, d in found):
            raise UsageError(
                f"{target!r} matches several documents ({', '.join(ids)}); give more of the id"
            )
        chosen.update(found)
    kept = [info for key, info in known if key not in chosen]
    removed: list[tuple[DocumentInfo, int]] = []
    for key, info in chosen.items():
        chunks = await store.asearch(
            chunks_ns(namespace), filter={"doc_id": info.doc_id}, limit=LIMIT
        )
        if any(other.doc_id == info.doc_id for other in kept):  # the same text elsewhere
            used = {other.split for other in kept if other.doc_id == info.doc_id}
            chunks = [item for item in chunks if item.value.get("split") not in used]
        ops = [PutOp(chunks_ns(namespace), item.key, None) for item in chunks]
        ops.append(PutOp(documents_ns(namespace), key, None))
        await store.abatch(ops)
        removed.append((info, len(chunks)))
    return removed
