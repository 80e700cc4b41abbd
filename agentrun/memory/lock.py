"""One process at a time for an embedded store: an inter-process lock with a timeout.

An embedded chromadb store keeps its vector index in the memory of the process that opened it,
so two processes writing the same directory would overwrite each other's index files. Readers
take the lock too: a `PersistentClient` opened beside a writer (chromadb 1.5) missed most of
the records the writer had already added, and opening one writes to `chroma.sqlite3` even when
it only reads. So a store takes this lock when it opens, to read or write, and keeps it until
it closes; another process waits up to the timeout and then gets a `MemoryStoreError` that
names the holder and the ways out (a `chroma run` server serves any number of processes). The
lock is the operating system's (`filelock`), so a killed holder releases it at once.

Stores opened twice in one process share one lock (a second file lock on the same file would
wait for the first forever).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentrun.errors import MemoryStoreError
from agentrun.settings import PRIVATE_FILE, private_dir, write_private

LOCK_FILE = "store.lock"
HOLDER_FILE = "store.lock.holder"
DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_ENV = "AGENTRUN_STORE_LOCK_TIMEOUT"


@dataclass
class _Held:
    lock: Any
    count: int
    #: What this process may cache about the store while it holds the lock (no other process
    #: can change the store then); dropped with the lock.
    namespaces: set[str] = field(default_factory=set)


_held: dict[Path, _Held] = {}
_registry_lock = threading.Lock()


def default_timeout_s() -> float:
    value = os.environ.get(TIMEOUT_ENV)
    if not value:
        return DEFAULT_TIMEOUT_S
    try:
        return max(0.0, float(value))
    except ValueError:
        raise MemoryStoreError(
            f"{TIMEOUT_ENV}={value!r} is not a number of seconds; set it to e.g. 30"
        ) from None


def _holder(folder: Path) -> str:
    try:
        info = json.loads((folder / HOLDER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "another process"
    command = " ".join(str(part) for part in info.get("argv", []))[:120]
    return f"process {info.get('pid')} ({command})" if command else f"process {info.get('pid')}"


class StoreLock:
    """Exclusive lock on a store directory: `acquire()` once, `release()` once."""

    def __init__(self, folder: Path, timeout_s: float | None = None) -> None:
        self.folder = folder.resolve()
        self.timeout_s = default_timeout_s() if timeout_s is None else timeout_s
        self._acquired = False
        #: Whether no other store of this process had the directory open when this one took it.
        self.alone = False

    def acquire(self) -> None:
        from filelock import FileLock, Timeout

        with _registry_lock:
            held = _held.get(self.folder)
            if held is not None:
                held.count += 1
                self._acquired = True
                return
            private_dir(self.folder)
            lock = FileLock(str(self.folder / LOCK_FILE), mode=PRIVATE_FILE, thread_local=False)
            started = time.monotonic()
            try:
                lock.acquire(timeout=self.timeout_s, poll_interval=0.05)
            except Timeout:
                waited = time.monotonic() - started
                raise MemoryStoreError(
                    f"the memory store at {self.folder} is in use by {_holder(self.folder)}; "
                    f"waited {waited:.0f} s. Wait for it to finish, raise {TIMEOUT_ENV}, or "
                    f"share the store through a chroma server (`chroma run --path {self.folder}`"
                    ", then set AGENTRUN_CHROMA_URL)"
                ) from None
            info = {"pid": os.getpid(), "argv": sys.argv, "since": time.time()}
            write_private(self.folder / HOLDER_FILE, json.dumps(info))
            _held[self.folder] = _Held(lock, 1)
            self._acquired = True
            self.alone = True

    @property
    def recorded_namespaces(self) -> set[str]:
        """Namespaces known to have their record in the store, shared by the stores of this
        process that hold the lock (valid only while it is held)."""
        with _registry_lock:
            held = _held.get(self.folder)
            return held.namespaces if held is not None else set()

    def release(self) -> None:
        if not self._acquired:
            return
        self._acquired = False
        with _registry_lock:
            held = _held[self.folder]
            held.count -= 1
            if held.count == 0:
                del _held[self.folder]
                held.lock.release()
