"""Tools a pipeline step can call by name, each with typed arguments.

A tool is an async function of its validated arguments and the workflow context; pipelines name
tools from this registry only, and an unknown name or argument is a spec error listing the
choices.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentrun.errors import InputFileError
from agentrun.graphs.runtime import WorkflowContext
from agentrun.memory.namespaces import Label, Namespace, readable_namespace, records_ns
from agentrun.tools.sandbox import FileRoots


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemorySearchArgs(_Args):
    query: str
    limit: int = Field(default=5, ge=1, le=100)
    collection: Label = Field(
        default="chunks", description="Collection of the namespace to search (chunks: documents)."
    )
    namespace: Namespace | None = Field(
        default=None,
        description="Read another namespace, one the spec lists in memory.read (default: the "
        "pipeline's own).",
    )


class MemoryPutArgs(_Args):
    key: str
    text: str
    collection: Label = "notes"
    metadata: dict[str, Any] = Field(default_factory=dict)


class FileReadArgs(_Args):
    path: str = Field(
        description="Relative to the pipeline file's folder (or another allowed folder), and "
        "inside one of them."
    )
    max_chars: int = Field(default=2_000_000, gt=0)


@dataclass(frozen=True)
class ToolCall:
    """What a tool sees besides its arguments."""

    context: WorkflowContext
    files: FileRoots
    #: Namespaces besides its own that the pipeline may read (`memory.read`).
    readable: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Tool:
    name: str
    args: type[BaseModel]
    run: Callable[[Any, ToolCall], Awaitable[Any]]
    description: str


async def memory_search(args: MemorySearchArgs, call: ToolCall) -> list[dict[str, Any]]:
    own = call.context.namespace
    labels = readable_namespace(args.namespace, own, call.readable) if args.namespace else own
    store = call.context.store
    hits = await store.asearch(
        records_ns(labels, args.collection), query=args.query, limit=args.limit
    )
    return [
        {
            "key": hit.key,
            "text": hit.value.get("text", ""),
            "source": hit.value.get("source", ""),
            "score": hit.score,
        }
        for hit in hits
    ]


async def memory_put(args: MemoryPutArgs, call: ToolCall) -> dict[str, str]:
    value = {"text": args.text, **args.metadata}
    await call.context.store.aput(call.context.ns(args.collection), args.key, value)
    return {"key": args.key}


async def file_read(args: FileReadArgs, call: ToolCall) -> str:
    from agentrun.text.files import read_text_file

    path = call.files.resolve(args.path)
    if not path.is_file():
        raise InputFileError(str(path), "no such file")
    return read_text_file(path)[: args.max_chars]


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("memory.search", MemorySearchArgs, memory_search, "Semantic search in the store."),
        Tool("memory.put", MemoryPutArgs, memory_put, "Keep a text in the store."),
        Tool(
            "file.read", FileReadArgs, file_read, "Read a text file (UTF-8 or declared encoding)."
        ),
    )
}
