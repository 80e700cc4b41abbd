"""Telling a full disk apart from other failures, so the error says so.

A full disk reaches agentrun in many shapes: `OSError` ENOSPC from a file it writes, SQLite's
"database or disk is full" from the checkpoints, and chromadb's own messages ("Error in
compaction") that name no cause at all. Each is recognised by its errno, by its words, or, for
a storage failure that says nothing, by how little room is left where the data directory is.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from agentrun.errors import AgentrunError, DiskFullError, MemoryStoreError

#: Error numbers of a write that found no room (a quota, or a file-size limit, too).
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
NO_SPACE_WORDS = ("no space left", "disk is full", "database or disk is full", "file too large")
#: Less room than this where the data directory lives counts as a full disk.
LOW_SPACE_BYTES = 1 << 20


def free_bytes(folder: Path) -> int | None:
    """Bytes free on the filesystem holding `folder` (or its nearest existing parent)."""
    current = folder.expanduser()
    while not current.exists() and current != current.parent:
        current = current.parent
    try:
        return shutil.disk_usage(current).free
    except OSError:
        return None


def _causes(exc: BaseException) -> list[BaseException]:
    found = [exc]
    while len(found) < 10:
        cause = found[-1].__cause__ or found[-1].__context__
        if cause is None or cause in found:
            break
        found.append(cause)
    return found


def says_no_space(exc: BaseException) -> bool:
    """Whether `exc` or what caused it reports a write that found no room."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in NO_SPACE_ERRNOS:
            return True
        if any(words in str(cause).lower() for words in NO_SPACE_WORDS):
            return True
    return False


def disk_full_error(
    exc: BaseException, folder: Path | None, thread_id: str | None = None
) -> DiskFullError | None:
    """A `DiskFullError` for `exc` when it comes from a full disk (under `folder`, when
    known), else None. A storage failure that names no cause counts when `folder`'s
    filesystem has less than `LOW_SPACE_BYTES` free; a model or usage error never does."""
    if isinstance(exc, DiskFullError):
        return exc
    free = free_bytes(folder) if folder is not None else None
    storage = not isinstance(exc, AgentrunError) or isinstance(exc, MemoryStoreError)
    low = storage and free is not None and free < LOW_SPACE_BYTES
    if not says_no_space(exc) and not low:
        return None
    where = f"the disk holding {folder}" if folder is not None else "the disk"
    room = f" ({free // 1024} KiB free)" if free is not None else ""
    then = "resume the run" if thread_id else "run the command again"
    said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    said = said if len(said) <= 160 else said[:157] + "..."
    return DiskFullError(
        f"no space left on {where}{room}: {said}; free some space, then {then}", thread_id
    )
