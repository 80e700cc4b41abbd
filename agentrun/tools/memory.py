"""The memory tools: semantic search in the run's namespace, and keeping a text there.

Both are sealed in the caller's namespace: the store they get is scoped to it, a collection is
one label, and `memory.search` reads another namespace only when the run lists it as readable
(a pipeline's `memory.read`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from agentrun.memory.namespaces import Label, Namespace, readable_namespace, records_ns
from agentrun.tools.context import ToolContext
from agentrun.tools.function import tool


@tool(name="memory.search")
async def memory_search(
    query: str,
    ctx: ToolContext,
    limit: Annotated[int, Field(ge=1, le=100)] = 5,
    collection: Label = "chunks",
    namespace: Namespace | None = None,
) -> list[dict[str, Any]]:
    """Semantic search in the store.

    Args:
        query: What to look for, in words.
        limit: How many records to return at most.
        collection: Collection of the namespace to search (chunks: documents).
        namespace: Read another namespace, one the run may read (default: its own).
    """
    own = ctx.namespace
    labels = readable_namespace(namespace, own, ctx.readable) if namespace else own
    store = ctx.require_store("memory.search")
    hits = await store.asearch(records_ns(labels, collection), query=query, limit=limit)
    return [
        {
            "key": hit.key,
            "text": hit.value.get("text", ""),
            "source": hit.value.get("source", ""),
            "score": hit.score,
        }
        for hit in hits
    ]


@tool(name="memory.put")
async def memory_put(
    key: str,
    text: str,
    ctx: ToolContext,
    collection: Label = "notes",
    metadata: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Keep a text in the store.

    Args:
        key: The record's key in its collection (a second put with the same key replaces it).
        text: The text to keep (it is indexed for memory.search).
        collection: Collection of the run's namespace to keep it in.
        metadata: Other fields to keep with the text.
    """
    value = {"text": text, **(metadata or {})}
    await ctx.require_store("memory.put").aput(ctx.ns(collection), key, value)
    return {"key": key}


__all__ = ["memory_put", "memory_search"]
