"""Checkpointers of durable runs: SQLite under the data directory, or Postgres.

Every graph compiles with one of these, so each step (and each model call, run as a LangGraph
task) is recorded as it finishes and a killed run resumes where it stopped. Postgres suits
several machines sharing runs; it needs the optional extra `pip install "agentrun[postgres]"`.
`AGENTRUN_CHECKPOINT_URL=postgresql://...` makes `checkpointer()` choose it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agentrun.errors import ConfigError

CHECKPOINT_URL_ENV = "AGENTRUN_CHECKPOINT_URL"
SQLITE_FILE = "checkpoints.sqlite"
POSTGRES_HINT = 'pip install "agentrun[postgres]"'


@asynccontextmanager
async def sqlite_checkpointer(
    data_dir: str | os.PathLike[str] | None = None,
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """SQLite checkpoints in `<data dir>/checkpoints.sqlite` (one file for every run).

    The saver keeps SQLite's write-ahead log; commits there need no fsync (`synchronous=NORMAL`):
    a killed process loses nothing committed, only a power cut can cost the last steps (which a
    resumed run redoes). A step's fsync otherwise cost more than the step itself on a cached run.
    """
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from agentrun.settings import data_dir as resolve_data_dir

    path = private_database(resolve_data_dir(data_dir) / SQLITE_FILE)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()  # the write-ahead log first: NORMAL is only safe with it
        await saver.conn.execute("PRAGMA synchronous=NORMAL")
        yield saver


def private_database(path: Path) -> Path:
    """Create the SQLite file owner-only before SQLite opens it: SQLite gives its -wal, -shm
    and -journal files the modes of the database file, so they are owner-only too."""
    from agentrun.settings import narrow, open_private

    open_private(path, "ab").close()
    for suffix in ("-wal", "-shm", "-journal"):  # left by a version that made them wider
        narrow(path.with_name(path.name + suffix))
    return path


@asynccontextmanager
async def postgres_checkpointer(url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Checkpoints in a Postgres database (tables are created on first use), each operation
    retried through short outages on a new connection (`agentrun.memory.postgres`)."""
    try:
        from agentrun.memory.postgres import RetryingPostgresSaver, connect
    except ImportError as exc:
        raise ConfigError(
            f"Postgres checkpoints need langgraph-checkpoint-postgres: {POSTGRES_HINT}"
        ) from exc
    try:
        conn = await connect(url)
    except Exception as exc:
        raise ConfigError(
            f"cannot connect to the checkpoint database {_redacted(url)}: "
            f"{type(exc).__name__}: {exc}; check {CHECKPOINT_URL_ENV} and that the server runs"
        ) from exc
    saver = RetryingPostgresSaver(conn, url, _redacted(url))
    try:
        await saver.setup()
        yield saver
    finally:
        await saver.conn.close()


def _redacted(url: str) -> str:
    """The url without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


@asynccontextmanager
async def checkpointer(
    data_dir: str | os.PathLike[str] | None = None, url: str | None = None
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Postgres when `url` (or `AGENTRUN_CHECKPOINT_URL`) is a postgres:// url, else SQLite."""
    url = url or os.environ.get(CHECKPOINT_URL_ENV)
    if url and url.startswith(("postgres://", "postgresql://")):
        async with postgres_checkpointer(url) as saver:
            yield saver
    elif url:
        raise ConfigError(
            f"{CHECKPOINT_URL_ENV}={_redacted(url)} is not a postgres:// url; unset it to keep "
            "checkpoints in SQLite under the data directory"
        )
    else:
        async with sqlite_checkpointer(data_dir) as saver:
            yield saver
