"""A store confined to one namespace's records, for handing to a workflow.

Workflows address full store namespaces built by `agentrun.memory.namespaces` (`records_ns(
labels, "chunks")`); the scoped store checks that every operation stays inside the records of
its namespace (e.g. `acme/alice/_memory`), or, for reads only, inside those of the namespaces it
may also read, and raises a `MemoryStoreError` naming both otherwise. Since records sit under a
reserved label, one pipeline can neither read nor overwrite another's memory, an inner
namespace's (`[acme, alice]` from `[acme]`) included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from langgraph.store.base import (
    BaseStore,
    GetOp,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchOp,
)

from agentrun.errors import MemoryStoreError
from agentrun.memory.namespaces import records_prefix, shown


class ScopedStore(BaseStore):
    """`store` seen by the namespace `labels`: reads and writes stay inside its records, reads
    may also go to the records of the namespaces in `readable`; others raise
    `MemoryStoreError`."""

    def __init__(
        self, store: BaseStore, labels: Sequence[str], readable: Iterable[Sequence[str]] = ()
    ) -> None:
        if not labels:
            raise MemoryStoreError("a scoped store needs a namespace of at least one label")
        self.store = store
        self.labels = tuple(labels)
        self.prefix = records_prefix(self.labels)
        self.readable = (self.prefix, *(records_prefix(other) for other in readable))
        self.supports_ttl = store.supports_ttl
        self.ttl_config = store.ttl_config

    def _inside(
        self, namespace: tuple[str, ...], what: str, allowed: tuple[tuple[str, ...], ...]
    ) -> None:
        if not any(tuple(namespace[: len(prefix)]) == prefix for prefix in allowed):
            where = shown(namespace) or "(the whole store)"
            raise MemoryStoreError(
                f"{what} namespace {where} is outside this workflow's scope "
                f"{shown(self.labels)}; its records are under {shown(self.prefix)}"
            )

    def _scoped(self, op: Op) -> Op:
        own = (self.prefix,)
        if isinstance(op, GetOp):
            self._inside(op.namespace, "reading", self.readable)
        elif isinstance(op, PutOp):
            self._inside(op.namespace, "deleting" if op.value is None else "writing", own)
        elif isinstance(op, SearchOp):
            self._inside(op.namespace_prefix, "searching", self.readable)
        elif isinstance(op, ListNamespacesOp):
            conditions = tuple(op.match_conditions or ())
            for condition in conditions:
                if condition.match_type == "prefix":
                    self._inside(tuple(condition.path), "listing", own)
            scope = MatchCondition(match_type="prefix", path=self.prefix)
            return op._replace(match_conditions=(scope, *conditions))
        return op

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self.store.batch([self._scoped(op) for op in ops])

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self.store.abatch([self._scoped(op) for op in ops])


def scoped(
    store: BaseStore, labels: Sequence[str], readable: Iterable[Sequence[str]] = ()
) -> ScopedStore:
    """The store a workflow in the namespace `labels` (e.g. `("acme", "alice")`) receives."""
    return ScopedStore(store, labels, readable)


def searches_by_meaning(store: BaseStore) -> bool:
    """Whether `store` embeds indexed fields, so `search(query=...)` ranks by meaning (the
    chromadb store always does; LangGraph's `InMemoryStore` only with an `index`)."""
    while isinstance(store, ScopedStore):
        store = store.store
    return getattr(store, "embedder", None) is not None or bool(
        getattr(store, "index_config", None)
    )
