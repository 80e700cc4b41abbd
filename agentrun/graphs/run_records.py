"""A run's own records: the prompts it sent, the units its steps handed on, its failed calls.

These are not memory: no later run searches them, and writing each to the memory store cost a
chromadb write (tens of milliseconds) on every model call. They are appended, one JSON line
each, to one owner-only file per run, `<data dir>/runs/<thread id>/records.jsonl`. An append
reaches the operating system before the call that made it returns, so a killed process loses
none of them (only a power cut can; the file is not synced). A resumed run appends to the same
file. Records are keyed per kind: a step redone after a kill writes its record again, and the
last one written for a key is the one read back; a line cut short by a kill is skipped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from agentrun.settings import open_private, runs_dir

RECORDS_FILE = "records.jsonl"


def records_path(data_dir: Path, thread_id: str) -> Path:
    """Where the run `thread_id` keeps its records (its folder among the data dir's runs)."""
    return runs_dir(data_dir) / quote(thread_id, safe="") / RECORDS_FILE


class RunRecords:
    """Append records of one run (`put`) and read them back by kind (`values`, `get`). Reads
    come from memory after the first, which reads the file once (a resumed run's)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        self._latest: dict[str, dict[str, Any]] | None = None

    def put(self, kind: str, key: str, value: Any) -> None:
        self.put_many(kind, [(key, value)])

    def put_many(self, kind: str, items: Iterable[tuple[str, Any]]) -> None:
        """Append several records of one kind, flushed once."""
        latest = self._loaded()
        with self._lock:
            if self._file is None:
                self._file = open_private(self.path, "a")
                if not _ends_a_line(self.path):
                    self._file.write("\n")  # after a line cut short, start a new one
            for key, value in items:
                record = {"kind": kind, "key": key, "value": value}
                self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
                latest.setdefault(kind, {})[key] = value
            self._file.flush()

    def values(self, kind: str) -> list[Any]:
        """The values of every key of `kind`, in key order (the last write of each key)."""
        latest = self._loaded().get(kind, {})
        return [latest[key] for key in sorted(latest)]

    def get(self, kind: str, key: str) -> Any:
        """The last value written for `key` of `kind`, or None."""
        return self._loaded().get(kind, {}).get(key)

    def _loaded(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._latest is None:
                self._latest = {}
                for record in self._read():
                    self._latest.setdefault(str(record["kind"]), {})[str(record["key"])] = (
                        record.get("value")
                    )
            return self._latest

    def _read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open(encoding="utf-8") as lines:
                return [record for line in lines if (record := _parsed(line)) is not None]
        except FileNotFoundError:
            return []

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _parsed(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None  # the last line of a run killed while writing it
    ok = isinstance(record, dict) and "kind" in record and "key" in record
    return record if ok else None


def _ends_a_line(path: Path) -> bool:
    """Whether the file is empty or ends with a newline."""
    with path.open("rb") as file:
        if file.seek(0, 2) == 0:
            return True
        file.seek(-1, 2)
        return file.read(1) == b"\n"
