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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from agentrun.settings import open_private, runs_dir

RECORDS_FILE = "records.jsonl"


def records_path(data_dir: Path, thread_id: str) -> Path:
    """Where the run `thread_id` keeps its records (its folder among the data dir's runs)."""
    return runs_dir(data_dir) / quote(thread_id, safe="") / RECORDS_FILE


class RunRecords:
    """Append records of one run (`put`) and read them back by kind (`values`, `get`).

    Memory holds where each key's last record starts in the file, not the records: a run over a
    long document keeps its chunks and prompts on disk, read back one at a time. The first read
    or write of a resumed run scans the file once to find them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._offsets: dict[str, dict[str, int]] | None = None

    def put(self, kind: str, key: str, value: Any) -> None:
        self.put_many(kind, [(key, value)])

    def put_many(self, kind: str, items: Iterable[tuple[str, Any]]) -> None:
        """Append several records of one kind (each line made as it is written), flushed once;
        they are readable once this returns."""
        offsets = self._indexed()
        written: dict[str, int] = {}
        with self._lock:
            if self._file is None:
                self._file = open_private(self.path, "ab")
                if not _ends_a_line(self.path):
                    self._file.write(b"\n")  # after a line cut short, start a new one
            offset = self._file.tell()
            for key, value in items:
                record = {"kind": kind, "key": key, "value": value}
                line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
                self._file.write(line)
                written[key] = offset
                offset += len(line)
            self._file.flush()
            offsets.setdefault(kind, {}).update(written)

    def values(self, kind: str) -> list[Any]:
        """The values of every key of `kind`, in key order (the last write of each key)."""
        found = self._indexed().get(kind, {})
        return self._read_at([found[key] for key in sorted(found)])

    def get(self, kind: str, key: str) -> Any:
        """The last value written for `key` of `kind`, or None."""
        offset = self._indexed().get(kind, {}).get(key)
        return None if offset is None else self._read_at([offset])[0]

    def _indexed(self) -> dict[str, dict[str, int]]:
        with self._lock:
            if self._offsets is None:
                self._offsets = {}
                for offset, record in self._scan():
                    kind, key = str(record["kind"]), str(record["key"])
                    self._offsets.setdefault(kind, {})[key] = offset
            return self._offsets

    def _scan(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(offset, record) of every whole record in the file, in file order."""
        try:
            with self.path.open("rb") as lines:
                offset = 0
                for line in lines:
                    record = _parsed(line)
                    if record is not None:
                        yield offset, record
                    offset += len(line)
        except FileNotFoundError:
            return

    def _read_at(self, offsets: list[int]) -> list[Any]:
        """The values of the records starting at `offsets` (written and flushed before)."""
        if not offsets:
            return []
        with self.path.open("rb") as file:
            values = []
            for offset in offsets:
                file.seek(offset)
                record = _parsed(file.readline())
                values.append(None if record is None else record.get("value"))
            return values

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _parsed(line: bytes) -> dict[str, Any] | None:
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
