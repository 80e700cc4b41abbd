"""`agentrun memory ingest | search | ls | rm`: documents in the shared memory store."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from agentrun.cli._common import console, err_console, literal, state, visible
from agentrun.errors import EXIT_USAGE
from agentrun.memory.records import INGEST_CHUNK_TOKENS
from agentrun.settings import DEFAULT_NAMESPACE

if TYPE_CHECKING:
    from agentrun.memory.ingest import DocumentInfo, IngestOutcome

app = typer.Typer(help="Ingest documents into the memory store and search them.",
                  no_args_is_help=True)  # fmt: skip

NAMESPACE_HELP = (
    "Namespace, e.g. `default` or `team/project` (labels separated by /; the same labels as a "
    "pipeline's memory.namespace)."
)


def _shown(path: str) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or directories (text, Markdown, PDF)."),
    namespace: str = typer.Option(DEFAULT_NAMESPACE, "--namespace", "-n", help=NAMESPACE_HELP),
    max_file_mb: float = typer.Option(100.0, "--max-file-mb", help="Refuse larger files."),
    chunk_tokens: int | None = typer.Option(
        None,
        "--chunk-tokens",
        help=f"Chunk size in embedder tokens (default {INGEST_CHUNK_TOKENS}).",
    ),
) -> None:
    """Split files into chunks, embed them and store them; re-running adds nothing."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from agentrun.memory import default_store
    from agentrun.memory.ingest import DEFAULT_CHUNK_TOKENS, Ingester
    from agentrun.memory.namespaces import parse_namespace
    from agentrun.memory.sources import collect

    labels = parse_namespace(namespace)
    files, _, _ = collect(paths)
    total = sum(path.stat().st_size for path in files)
    done: dict[str, int] = {}
    progress = Progress(
        TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
        TimeRemainingColumn(), console=err_console(), transient=True,
    )  # fmt: skip
    task = progress.add_task("ingesting", total=total or 1)

    def advance(path: str, bytes_done: int) -> None:
        done[path] = bytes_done
        progress.update(task, completed=sum(done.values()), description=visible(Path(path).name))

    with default_store(state(ctx).data_dir) as store, progress:
        ingester = Ingester(
            store, store.embedder, labels, chunk_tokens=chunk_tokens or DEFAULT_CHUNK_TOKENS,
            max_file_mb=max_file_mb, progress=advance,
        )  # fmt: skip
        outcomes = asyncio.run(ingester.ingest(paths))
        location = store.location
    _report(outcomes, ingester.split, namespace, location)


def _report(outcomes: list[IngestOutcome], split: str, namespace: str, location: str) -> None:
    out, err = console(), err_console()
    for o in outcomes:
        path = _shown(o.path)
        note = f"; {o.message}" if o.message else ""
        if o.status == "ingested":
            out.print(literal(f"ingested  {path}: {o.chunks} chunks, {o.tokens} tokens "
                              f"(doc {o.doc_id}{note})"))  # fmt: skip
        elif o.status == "unchanged":
            out.print(literal(f"unchanged {path} (doc {o.doc_id}, already ingested{note})"))
        elif o.status == "skipped":
            out.print(literal(f"skipped   {path}: {o.message}"))
        else:
            err.print(literal(f"error: {path}: {o.message}"), style="bold red")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ingested", "unchanged",
              "skipped", "failed")}  # fmt: skip
    out.print(
        literal(
            ", ".join(f"{n} {s}" for s, n in counts.items())
            + f" (namespace {namespace}, split {split}, store {location})"
        )
    )
    if counts["failed"]:
        raise typer.Exit(EXIT_USAGE)


@app.command("search")
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for, in plain words."),
    namespace: str = typer.Option(DEFAULT_NAMESPACE, "--namespace", "-n", help=NAMESPACE_HELP),
    limit: int = typer.Option(5, "--limit", "-k", help="How many chunks to show."),
    full: bool = typer.Option(False, "--full", help="Print whole chunks, not the first lines."),
) -> None:
    """Chunks closest in meaning to the query, best first, with source and score."""
    from agentrun.memory import default_store
    from agentrun.memory.ingest import search as search_chunks
    from agentrun.memory.namespaces import parse_namespace

    labels = parse_namespace(namespace)
    with default_store(state(ctx).data_dir) as store:
        hits = asyncio.run(search_chunks(store, query, namespace=labels, limit=limit))
    out = console()
    if not hits:
        out.print(f"no indexed chunks in namespace {namespace}; ingest documents with "
                  "`agentrun memory ingest PATH`", markup=False)  # fmt: skip
        return
    for rank, hit in enumerate(hits, 1):
        chunk = hit.chunk
        out.print(
            literal(f"{rank}. score {hit.score:.3f}  {_shown(chunk.source)}  chars {chunk.start}-"
                    f"{chunk.end}  (doc {chunk.doc_id}, chunk {chunk.index})"),
            style="bold",
        )  # fmt: skip
        text = " ".join(chunk.text.split())
        out.print(literal(f"   {text if full or len(text) <= 300 else text[:300] + '…'}"))


@app.command("ls")
def ls(
    ctx: typer.Context,
    namespace: str = typer.Option(DEFAULT_NAMESPACE, "--namespace", "-n", help=NAMESPACE_HELP),
) -> None:
    """Documents in the namespace (and the other namespaces that hold documents)."""
    from rich.table import Table

    from agentrun.memory import default_store
    from agentrun.memory.ingest import document_namespaces, documents
    from agentrun.memory.namespaces import parse_namespace, shown

    labels = parse_namespace(namespace)

    async def read() -> tuple[list[DocumentInfo], list[tuple[str, ...]], list[tuple[str, ...]]]:
        docs = await documents(store, labels)
        current, older = await document_namespaces(store)
        return docs, current, older

    with default_store(state(ctx).data_dir) as store:
        docs, current, older = asyncio.run(read())
    out = console()
    others = [shown(space) for space in current if space != labels]
    if not docs:
        out.print(f"no documents in namespace {namespace}; add some with "
                  "`agentrun memory ingest PATH`", markup=False)  # fmt: skip
    else:
        table = Table("chunks", "tokens", "split", "ingested")
        table.add_column("doc id", no_wrap=True)
        table.add_column("source", overflow="fold")
        for info in docs:
            when = f"{info.ingested_at:%Y-%m-%d %H:%M}"
            row = (str(info.chunks), str(info.tokens), info.split, when, info.doc_id)
            table.add_row(*row, literal(_shown(info.source)))
        out.print(table)
    if others:
        out.print(literal(f"other namespaces with documents: {', '.join(others)}"))
    if older:
        out.print(literal(f"documents kept by an older agentrun, which nothing reads now, in: "
                          f"{', '.join(map(shown, older))}; ingest them again"))  # fmt: skip


@app.command("rm")
def rm(
    ctx: typer.Context,
    targets: list[str] = typer.Argument(..., help="Document ids (or id prefixes) or paths."),
    namespace: str = typer.Option(DEFAULT_NAMESPACE, "--namespace", "-n", help=NAMESPACE_HELP),
) -> None:
    """Remove documents and all their chunks from the namespace."""
    from agentrun.memory import default_store
    from agentrun.memory.ingest import remove
    from agentrun.memory.namespaces import parse_namespace

    labels = parse_namespace(namespace)
    with default_store(state(ctx).data_dir) as store:
        removed = asyncio.run(remove(store, targets, labels))
    for info, chunks in removed:
        console().print(
            literal(f"removed {_shown(info.source)} (doc {info.doc_id}, {chunks} chunks)")
        )
