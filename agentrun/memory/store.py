"""The shared memory store: LangGraph's `BaseStore` contract over chromadb.

Three chromadb collections hold one store:

- `<name>-items`: one record per item, its value as JSON in metadata, its namespace labels
  (`_ns.0`, `_ns.1`, ...) and top-level scalar fields (`v:<field>`) as metadata so namespace
  prefixes and filters run inside chromadb. Its vectors are tiny placeholders (chromadb needs
  one per record).
- `<name>-vectors`: one record per indexed text (field path) of an item, with the embedder's
  vector and the same namespace and field metadata; its collection metadata names the embedder
  that built it, and a store opened with another embedder is refused.
- `<name>-namespaces`: one record per namespace that holds items, for `list_namespaces`.

Embedded (`ChromaStore.persistent`, the default, under `<data dir>/memory/`) the store holds an
inter-process lock while open, and keeps its folder owner-only. chromadb creates its files
itself (its database, and index segments during writes) with the umask's modes, and the umask
is the whole process's, so it cannot be narrowed for chromadb alone without affecting every
other thread: instead the folder is made 0700 before chromadb opens it (nothing inside can be
reached by others meanwhile) and every file in it is set to 0600 when the store opens and when
it closes; through a `chroma run` server (`ChromaStore.http`) any number of
processes share it. TTLs are not supported (`supports_ttl = False`, as the contract allows).

Search is one HNSW query for a few more neighbours than asked (20 for 10), distances only (a
vector's id names its item and namespace; only field filters need its metadata), then one read
of the chosen items. The vector collection of a new store is built with `VECTOR_INDEX`: cosine
space (the embedders' vectors are unit length), `max_neighbors` 32, `ef_construction` 200 and
`ef_search` 200. chromadb's defaults (16, 100, 100) kept recall@10 against an exact scan at
0.98 for 50,000 vectors of real MiniLM embeddings and their blends, but 0.84 at 200,000
(`ef_search` 200 alone: 0.90); these settings gave 0.99 at 200,000 and 0.985 at 1M, with a
search p50 of 2-3 ms up to 100,000 vectors and 14 ms at 1M (an exact numpy scan: 1.2 ms at
50,000, 158 ms at 1M), for inserts about 1.7x slower, still ~1% of embedding the text
(`benchmarks/memory_search.py`). The batch and sync thresholds are chromadb's: a 64-vector
upsert cost the same at 10,000 and 100,000 vectors. Existing stores keep the settings they were
built with (chromadb fixes them at creation; in 1.5.9 a changed `ef_search` does not reach an
index already loaded).

Writes: chromadb's SQLite file is put in write-ahead-log mode (a write takes 7-9 ms instead of
~25 ms in its default rollback-journal mode), and each namespace's record is written once per
process while the store is locked.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    get_text_at_path,
    tokenize_path,
    validate_op_namespace,
)

from agentrun.errors import ConfigError, MemoryStoreError
from agentrun.memory import filters
from agentrun.memory.embedders import Embedder
from agentrun.memory.lock import StoreLock
from agentrun.settings import narrow_tree, private_dir

DEFAULT_COLLECTION = "agentrun"
DEFAULT_INDEX_FIELDS = ("text",)
#: Searches wanting at most this many results first try the unfiltered nearest neighbours.
PROBE_MAX = 1000
#: HNSW settings of a new store's vector collection (why: the module docstring).
VECTOR_INDEX: dict[str, Any] = {
    "space": "cosine",
    "max_neighbors": 32,
    "ef_construction": 200,
    "ef_search": 200,
}

_NS = "_ns"
_DEPTH = "_depth"
_KEY = "_key"
_VALUE = "_value"
_CREATED = "_created"
_UPDATED = "_updated"
_INDEXED = "_indexed"
_ITEM = "_item"


def _item_id(namespace: tuple[str, ...], key: str) -> str:
    return json.dumps([*namespace, key], ensure_ascii=False, separators=(",", ":"))


_JSON = json.JSONDecoder()


def _item_of_vector(vector_id: str) -> tuple[str, tuple[str, ...]]:
    """The item id and namespace a vector record belongs to, read from its id
    (`<item id>#<field path>`, the item id a JSON list), so a search needs no metadata."""
    labels, end = _JSON.raw_decode(vector_id)
    return vector_id[:end], tuple(labels[:-1])


def _namespace_metadata(namespace: tuple[str, ...]) -> dict[str, str | int]:
    meta: dict[str, str | int] = {_NS: ".".join(namespace), _DEPTH: len(namespace)}
    meta.update({f"{_NS}.{i}": label for i, label in enumerate(namespace)})
    return meta


def _prefix_clauses(prefix: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{f"{_NS}.{i}": {"$eq": label}} for i, label in enumerate(prefix)]


def _where(clauses: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    if not clauses:
        return None
    return dict(clauses[0]) if len(clauses) == 1 else {"$and": list(clauses)}


def _placeholder(item_id: str) -> list[float]:
    """A distinct 2-d vector per record (identical vectors make HNSW inserts slow)."""
    digest = hashlib.blake2b(item_id.encode(), digest_size=4).digest()
    return [digest[0] / 255 + digest[1] / 65025 + 0.001, digest[2] / 255 + digest[3] / 65025]


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _item(meta: Mapping[str, Any], score: float | None = None, search: bool = False) -> Item:
    common: dict[str, Any] = {
        "value": json.loads(meta[_VALUE]),
        "key": str(meta[_KEY]),
        "namespace": tuple(str(meta[_NS]).split(".")),
        "created_at": _when(float(meta[_CREATED])),
        "updated_at": _when(float(meta[_UPDATED])),
    }
    return SearchItem(**common, score=score) if search else Item(**common)


class ChromaStore(BaseStore):
    """A `BaseStore` over a chromadb client; close it (or use `with`) to release the lock."""

    supports_ttl = False

    def __init__(
        self,
        client: Any,
        embedder: Embedder,
        *,
        collection: str = DEFAULT_COLLECTION,
        index_fields: Sequence[str] = DEFAULT_INDEX_FIELDS,
        location: str = "chromadb",
        lock: StoreLock | None = None,
        folder: Path | None = None,
    ) -> None:
        self.client = client
        self.folder = folder
        self.embedder = embedder
        self.location = location
        self.index_fields = [(path, tokenize_path(path)) for path in index_fields]
        self._lock = lock
        self._mutex = threading.RLock()
        # Namespaces known to have their record. Only a locked (embedded) store can trust this:
        # through a server, another process may delete a record this one saw.
        self._recorded_namespaces = lock.recorded_namespaces if lock is not None else None
        self._closed = False
        try:
            self.items = self._collection(f"{collection}-items", {"agentrun": "items"})
            self.namespaces = self._collection(f"{collection}-namespaces", {"agentrun": "ns"})
            built_by = {"embedder": embedder.name, "dimensions": embedder.dimensions}
            self.vectors = self._collection(
                f"{collection}-vectors", built_by, {"hnsw": dict(VECTOR_INDEX)}
            )
            self._check_embedder(built_by)
            self._batch_size = int(client.get_max_batch_size())
        except BaseException:
            self.close()
            raise

    # --- opening and closing ------------------------------------------------------------------

    @classmethod
    def persistent(
        cls,
        path: str | Path,
        embedder: Embedder,
        *,
        lock_timeout_s: float | None = None,
        collection: str = DEFAULT_COLLECTION,
    ) -> ChromaStore:
        """An embedded store in `path`, locked against other processes until closed."""
        import chromadb
        from chromadb.config import Settings

        folder = private_dir(Path(path).expanduser())
        lock = StoreLock(folder, lock_timeout_s)
        lock.acquire()
        try:
            if lock.alone:
                _write_ahead_log(folder / "chroma.sqlite3")
            client = chromadb.PersistentClient(
                path=str(folder), settings=Settings(anonymized_telemetry=False)
            )
            narrow_tree(folder)
        except Exception as exc:
            lock.release()
            raise MemoryStoreError(
                f"cannot open the memory store at {folder}: {exc}; check the directory is "
                "writable and was made by chromadb"
            ) from exc
        return cls(
            client, embedder, collection=collection, location=str(folder), lock=lock, folder=folder
        )

    @classmethod
    def http(
        cls, url: str, embedder: Embedder, *, collection: str = DEFAULT_COLLECTION
    ) -> ChromaStore:
        """A store on a `chroma run` server, e.g. `http://127.0.0.1:8000`."""
        import chromadb
        from chromadb.config import Settings

        parsed = urlparse(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"chroma url {url!r} is not http(s)://host:port")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname, port=port, ssl=parsed.scheme == "https",
                settings=Settings(anonymized_telemetry=False),
            )  # fmt: skip
            client.heartbeat()
        except Exception as exc:
            raise MemoryStoreError(
                f"no chroma server answered at {url} ({type(exc).__name__}); start one with "
                "`chroma run --path DIR --port PORT` or unset AGENTRUN_CHROMA_URL"
            ) from exc
        return cls(client, embedder, collection=collection, location=url)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self.client, "close", None)
            if callable(close):
                close()
        finally:
            try:
                if self.folder is not None:
                    narrow_tree(self.folder)  # the index files chromadb wrote while open
            finally:
                if self._lock is not None:
                    self._lock.release()

    def __enter__(self) -> ChromaStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _collection(
        self, name: str, metadata: dict[str, Any], configuration: dict[str, Any] | None = None
    ) -> Any:
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            pass
        try:
            return self.client.create_collection(
                name, metadata=metadata, configuration=configuration, embedding_function=None
            )
        except Exception:  # created meanwhile by another client of the same server
            return self.client.get_collection(name, embedding_function=None)

    def _check_embedder(self, expected: dict[str, Any]) -> None:
        meta = self.vectors.metadata or {}
        found = {"embedder": meta.get("embedder"), "dimensions": meta.get("dimensions")}
        if found != expected:
            raise MemoryStoreError(
                f"the memory store at {self.location} was built with embedder "
                f"{found['embedder']!r} ({found['dimensions']} dimensions), not "
                f"{expected['embedder']!r} ({expected['dimensions']} dimensions); open it with "
                "the embedder that built it, or use another data directory or collection"
            )

    # --- the contract --------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = self._validated(ops)
        texts = self._texts_to_embed(ops)
        vectors = dict(zip(texts, self.embedder.embed(texts), strict=True)) if texts else {}
        return self._retried(ops, vectors)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = self._validated(ops)
        texts = self._texts_to_embed(ops)
        embedded = await self.embedder.aembed(texts) if texts else []
        vectors = dict(zip(texts, embedded, strict=True))
        return await asyncio.to_thread(self._retried, ops, vectors)

    def _retried(self, ops: list[Op], vectors: dict[str, list[float]]) -> list[Result]:
        """`_execute`, retried through a server's short outage (`agentrun.memory.outages`).
        A batch cut short is run again whole: its writes are upserts and deletes by id."""
        if self.folder is not None:  # embedded: no server to lose
            return self._execute(ops, vectors)
        import httpx

        from agentrun.memory.outages import retry

        where = f"the chroma server at {self.location}"
        return retry(lambda: self._execute(ops, vectors), where, (httpx.TransportError,))

    def _validated(self, ops: Iterable[Op]) -> list[Op]:
        if self._closed:
            raise MemoryStoreError(f"the memory store at {self.location} is closed")
        ops = list(ops)
        for op in ops:
            validate_op_namespace(op)
        return ops

    def _paths(self, op: PutOp) -> list[tuple[str, list[str]]]:
        """(path name, texts) for each field of the value that gets a vector."""
        if op.value is None or op.index is False:
            return []
        paths = self.index_fields if op.index is None else [(p, tokenize_path(p)) for p in op.index]
        found: list[tuple[str, list[str]]] = []
        for path, tokens in paths:
            texts = get_text_at_path(op.value, tokens)
            if len(texts) == 1:
                found.append((path, texts))
            elif texts:
                found.extend((f"{path}.{i}", [text]) for i, text in enumerate(texts))
        return found

    def _texts_to_embed(self, ops: list[Op]) -> list[str]:
        texts: dict[str, None] = {}
        for put in _last_puts(ops).values():
            for _, found in self._paths(put):
                texts.update(dict.fromkeys(found))
        for op in ops:
            if isinstance(op, SearchOp) and op.query:
                texts[op.query] = None
        return list(texts)

    def _execute(self, ops: list[Op], vectors: dict[str, list[float]]) -> list[Result]:
        with self._mutex:
            results: list[Result] = []
            for op in ops:
                if isinstance(op, GetOp):
                    results.append(self._get(op))
                elif isinstance(op, SearchOp):
                    results.append(self._search(op, vectors))
                elif isinstance(op, ListNamespacesOp):
                    results.append(self._list_namespaces(op))
                elif isinstance(op, PutOp):
                    results.append(None)
                else:
                    raise ValueError(f"unknown store operation {type(op).__name__}")
            puts = _last_puts(ops)
            if puts:
                self._write(list(puts.values()), vectors)
            return results

    # --- reads ---------------------------------------------------------------------------------

    def _get(self, op: GetOp) -> Item | None:
        found = self.items.get(ids=[_item_id(op.namespace, op.key)], include=["metadatas"])
        metas = found["metadatas"] or []
        return _item(metas[0]) if metas else None

    def _items_by_id(self, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        out: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(ids), self._batch_size):
            found = self.items.get(ids=list(ids[start : start + self._batch_size]))
            out.update(zip(found["ids"], found["metadatas"] or [], strict=True))
        return out

    def _scan(
        self, clauses: list[dict[str, Any]], residual: dict[str, Any], limit: int, offset: int
    ) -> list[Mapping[str, Any]]:
        """Item metadata matching the clauses and the residual filter, paged."""
        if limit <= 0:
            return []
        where = _where(clauses)
        if not residual:
            found = self.items.get(where=where, limit=limit, offset=offset, include=["metadatas"])
            return list(found["metadatas"] or [])
        found = self.items.get(where=where, include=["metadatas"])
        kept = [
            m for m in found["metadatas"] or [] if filters.matches(json.loads(m[_VALUE]), residual)
        ]
        return kept[offset : offset + limit]

    def _search(self, op: SearchOp, vectors: dict[str, list[float]]) -> list[SearchItem]:
        pushed, residual = filters.split_filter(op.filter)
        clauses = _prefix_clauses(op.namespace_prefix) + pushed
        if not op.query:
            metas = self._scan(clauses, residual, op.limit, op.offset)
            return [_item(m, search=True) for m in metas]  # type: ignore[misc]
        needed = op.offset + op.limit
        ranked = self._ranked(vectors[op.query], op.namespace_prefix, pushed, residual, needed)
        kept = ranked[op.offset : op.offset + op.limit]
        if len(kept) < op.limit:  # as LangGraph's stores do: fill up with unindexed items
            unindexed = [*clauses, {_INDEXED: {"$eq": False}}]
            fill = self._scan(unindexed, residual, op.limit - len(kept), 0)
            kept.extend((None, meta) for meta in fill)
        return [_item(meta, score, search=True) for score, meta in kept]  # type: ignore[misc]

    def _ranked(
        self,
        query: list[float],
        prefix: tuple[str, ...],
        pushed: list[dict[str, Any]],
        residual: dict[str, Any],
        needed: int,
    ) -> list[tuple[float | None, Mapping[str, Any]]]:
        """Items by best cosine similarity of any of their vectors, at least `needed` of them
        (or all there are).

        A metadata filter makes chromadb test every record, so the nearest neighbours of the
        whole collection are asked first and filtered here: a few more than needed when only
        the namespace decides (most searches, where nearly all pass), many more when a value
        filter must pass too. When too few pass (a small namespace in a big store), chromadb is
        asked again with the filter, for more and more neighbours until enough distinct items
        pass. Fewer neighbours than asked means the collection has no more."""
        probe = max(10 * needed, 200) if residual or pushed else needed + max(needed, 10)
        if needed <= PROBE_MAX:
            # Field filters are judged on the vectors' metadata; namespaces on their ids.
            include = ["metadatas", "distances"] if pushed else ["distances"]
            found = self.vectors.query(query_embeddings=[query], n_results=probe, include=include)
            ranked = self._resolve(found, residual, needed, prefix, pushed)
            if len(ranked) >= needed or len(found["ids"][0]) < probe:
                return ranked
        clauses = _prefix_clauses(prefix) + pushed
        asked = max(needed, 1)
        while True:
            found = self.vectors.query(
                query_embeddings=[query], n_results=asked, where=_where(clauses),
                include=["distances"],
            )  # fmt: skip
            ranked = self._resolve(found, residual, needed)
            if len(ranked) >= needed or len(found["ids"][0]) < asked:
                return ranked
            asked *= 4

    def _resolve(
        self,
        found: Mapping[str, Any],
        residual: dict[str, Any],
        needed: int,
        prefix: tuple[str, ...] = (),
        pushed: Sequence[dict[str, Any]] = (),
    ) -> list[tuple[float | None, Mapping[str, Any]]]:
        """Distinct items of a vector query, best score first, that pass the filters: all of
        them with a residual filter (judged on values), else only the first `needed`, so a
        search reads a few item records rather than every neighbour's."""
        best: dict[str, float] = {}
        ids, distances = found["ids"][0], found["distances"][0]
        metas = found["metadatas"][0] if pushed else [{}] * len(ids)
        for vector_id, meta, distance in zip(ids, metas, distances, strict=True):
            item_id, labels = _item_of_vector(vector_id)
            if labels[: len(prefix)] == prefix and filters.clauses_match(meta, pushed):
                best.setdefault(item_id, 1.0 - float(distance))
        candidates = list(best)
        if residual:
            metas = self._items_by_id(candidates)
            return [
                (best[i], metas[i])
                for i in candidates
                if i in metas and filters.matches(json.loads(metas[i][_VALUE]), residual)
            ]
        ranked: list[tuple[float | None, Mapping[str, Any]]] = []
        while candidates and len(ranked) < needed:
            part, candidates = (
                candidates[: needed - len(ranked)],
                candidates[needed - len(ranked) :],
            )
            metas = self._items_by_id(part)  # an item deleted meanwhile is skipped
            ranked += [(best[i], metas[i]) for i in part if i in metas]
        return ranked

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found = self.namespaces.get(include=[])
        known = [tuple(ns_id.split(".")) for ns_id in found["ids"]]
        return filters.list_namespaces(
            known, op.match_conditions, op.max_depth, op.limit, op.offset
        )

    # --- writes --------------------------------------------------------------------------------

    def _write(self, puts: list[PutOp], vectors: dict[str, list[float]]) -> None:
        ids = [_item_id(op.namespace, op.key) for op in puts]
        existing = self._items_by_id(ids)
        stale = [i for i in ids if i in existing and existing[i].get(_INDEXED)]
        self._chunked(lambda part: self.vectors.delete(where={_ITEM: {"$in": part}}), stale)
        deleted = [(op, i) for op, i in zip(puts, ids, strict=True) if op.value is None]
        self._chunked(
            lambda part: self.items.delete(ids=part), [i for _, i in deleted if i in existing]
        )
        now = datetime.now(UTC).timestamp()
        item_rows: list[tuple[str, list[float], dict[str, Any]]] = []
        vector_rows: list[tuple[str, list[float], dict[str, Any]]] = []
        for op, item_id in zip(puts, ids, strict=True):
            if op.value is None:
                continue
            shared = {**_namespace_metadata(op.namespace), **filters.field_metadata(op.value)}
            paths = self._paths(op)
            created = existing[item_id][_CREATED] if item_id in existing else now
            item_rows.append((item_id, _placeholder(item_id), {
                **shared, _KEY: op.key, _VALUE: _json(op),
                _CREATED: created, _UPDATED: now, _INDEXED: bool(paths),
            }))  # fmt: skip
            for path, (text,) in paths:
                vector_rows.append((f"{item_id}#{path}", vectors[text], {**shared, _ITEM: item_id}))
        self._upsert(self.items, item_rows)
        self._upsert(self.vectors, vector_rows)
        written = {op.namespace for op in puts if op.value is not None}
        known = self._recorded_namespaces
        new = [ns for ns in written if known is None or ".".join(ns) not in known]
        self._upsert(
            self.namespaces,
            [(".".join(ns), _placeholder(".".join(ns)), _namespace_metadata(ns)) for ns in new],
        )
        if known is not None:
            known.update(".".join(ns) for ns in new)
        emptied = {op.namespace for op, _ in deleted} - written
        for ns in emptied:
            if not self.items.get(where={_NS: {"$eq": ".".join(ns)}}, limit=1, include=[])["ids"]:
                self.namespaces.delete(ids=[".".join(ns)])
                if known is not None:
                    known.discard(".".join(ns))

    def _chunked(self, action: Any, ids: list[str]) -> None:
        for start in range(0, len(ids), self._batch_size):
            action(ids[start : start + self._batch_size])

    def _upsert(self, collection: Any, rows: list[tuple[str, list[float], dict[str, Any]]]) -> None:
        for start in range(0, len(rows), self._batch_size):
            part = rows[start : start + self._batch_size]
            collection.upsert(
                ids=[r[0] for r in part],
                embeddings=[r[1] for r in part],
                metadatas=[r[2] for r in part],
            )


#: Byte 18 of a SQLite file's header: 1 for the rollback journal, 2 for the write-ahead log.
_SQLITE_WRITE_VERSION = 18


def _write_ahead_log(database: Path) -> None:
    """Put chromadb's SQLite file in write-ahead-log mode (it stays so) before chromadb opens it.

    chromadb leaves SQLite in its default rollback-journal mode, where every write creates,
    syncs and deletes a journal file: ~25 ms per write, most of a cached run's store time. In WAL
    mode a write is one append and one sync (~7 ms), equally durable. A new store's file is
    made here, empty, for chromadb to fill. Only called while no chromadb client of this process
    has the file open: this process's SQLite (Python's) cannot see the locks of chromadb's own
    SQLite, so it must never hold a connection beside it.
    """
    import sqlite3

    try:
        with database.open("rb") as file:
            header = file.read(_SQLITE_WRITE_VERSION + 1)
        if len(header) > _SQLITE_WRITE_VERSION and header[_SQLITE_WRITE_VERSION] == 2:
            return  # already in WAL mode
    except FileNotFoundError:
        pass
    with contextlib.suppress(sqlite3.Error):
        connection = sqlite3.connect(database, timeout=0.1)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
        finally:
            connection.close()


def _json(op: PutOp) -> str:
    try:
        return json.dumps(op.value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise MemoryStoreError(
            f"the value of {'/'.join(op.namespace)}/{op.key} cannot be stored: {exc}; store "
            "JSON values only (records: use `record.to_value()`)"
        ) from exc


def _last_puts(ops: Sequence[Op]) -> dict[tuple[tuple[str, ...], str], PutOp]:
    """The puts of a batch, the last one winning for each item (as LangGraph's stores do)."""
    return {(op.namespace, op.key): op for op in ops if isinstance(op, PutOp)}
