"""A store confined to one namespace prefix, for handing to a workflow.

Workflows keep addressing full namespaces (`(*prefix, "chunks")`); the scoped store checks
that every operation stays under its prefix (e.g. `("pipeline", "user")`) and raises a
`MemoryStoreError` naming both otherwise, so one pipeline cannot read or overwrite another's
memory by mistake.
"""

from __future__ import annotations

from collections.abc import Iterable

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


class ScopedStore(BaseStore):
    """`store` seen through `prefix`: operations outside it raise `MemoryStoreError`."""

    def __init__(self, store: BaseStore, prefix: tuple[str, ...]) -> None:
        if not prefix:
            raise MemoryStoreError("a scoped store needs a non-empty namespace prefix")
        self.store = store
        self.prefix = tuple(prefix)
        self.supports_ttl = store.supports_ttl
        self.ttl_config = store.ttl_config

    def _inside(self, namespace: tuple[str, ...], what: str) -> None:
        if tuple(namespace[: len(self.prefix)]) != self.prefix:
            shown = "/".join(namespace) or "(the whole store)"
            raise MemoryStoreError(
                f"{what} namespace {shown} is outside this workflow's scope "
                f"{'/'.join(self.prefix)}; use namespaces that start with {self.prefix!r}"
            )

    def _scoped(self, op: Op) -> Op:
        if isinstance(op, GetOp):
            self._inside(op.namespace, "reading")
        elif isinstance(op, PutOp):
            self._inside(op.namespace, "deleting" if op.value is None else "writing")
        elif isinstance(op, SearchOp):
            self._inside(op.namespace_prefix, "searching")
        elif isinstance(op, ListNamespacesOp):
            conditions = tuple(op.match_conditions or ())
            for condition in conditions:
                if condition.match_type == "prefix":
                    self._inside(tuple(condition.path), "listing")
            scope = MatchCondition(match_type="prefix", path=self.prefix)
            return op._replace(match_conditions=(scope, *conditions))
        return op

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self.store.batch([self._scoped(op) for op in ops])

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self.store.abatch([self._scoped(op) for op in ops])


def scoped(store: BaseStore, prefix: tuple[str, ...]) -> ScopedStore:
    """The store a workflow under `prefix` (e.g. `("pipeline", "user")`) receives."""
    return ScopedStore(store, prefix)


def searches_by_meaning(store: BaseStore) -> bool:
    """Whether `store` embeds indexed fields, so `search(query=...)` ranks by meaning (the
    chromadb store always does; LangGraph's `InMemoryStore` only with an `index`)."""
    while isinstance(store, ScopedStore):
        store = store.store
    return getattr(store, "embedder", None) is not None or bool(
        getattr(store, "index_config", None)
    )
