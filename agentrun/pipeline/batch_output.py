"""A batch's output: one JSON line per finished item, written the moment it finishes.

The file is the batch's memory: a re-run reads it back and skips every item it holds as done.
When a batch starts, the file is rewritten with its done lines only (atomically), so an item
that failed, or waits for an answer, is tried again and appears once when it is done: at any
moment each item is in the file at most once. A line cut short by a crash is dropped. The file is
readable by its owner only.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from agentrun.settings import open_private, write_private

Status = Literal["done", "failed", "waiting"]


@dataclass
class ItemOutcome:
    """What became of one item: its outputs (done), its error (failed), or the question it waits
    on (waiting), with its usage over every attempt at it."""

    key: str
    line: int
    thread_id: str
    status: Status
    outputs: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: The exit code the error would have on its own (1 run failed, 2 usage, 3 configuration).
    exit_code: int = 0
    seconds: float = 0.0
    #: Where it ran: host and process id.
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemOutcome:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def tokens(self) -> int:
        return int(self.usage.get("prompt_tokens", 0)) + int(self.usage.get("completion_tokens", 0))

    @property
    def cost_usd(self) -> float:
        return float(self.usage.get("cost_usd", 0.0))


class BatchOutput:
    """The output file of a batch (JSON Lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None
        self._synced = time.monotonic()

    def read(self) -> list[ItemOutcome]:
        """Every complete line, in the order written."""
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                data = json.loads(line)
                found.append(ItemOutcome.from_dict(data))
            except (ValueError, TypeError):
                continue  # cut short by a crash, or not ours
        return found

    def done(self) -> dict[str, ItemOutcome]:
        """The items the file holds as done, by key."""
        return {outcome.key: outcome for outcome in self.read() if outcome.status == "done"}

    def open(self, keep: Iterable[ItemOutcome]) -> None:
        """Start writing: the file holds `keep` (the done items) and then each new outcome."""
        write_private(self.path, "".join(outcome.to_json() + "\n" for outcome in keep))
        self._handle = open_private(self.path, "a")

    def write(self, outcome: ItemOutcome) -> None:
        """Append one outcome; it is on disk (in the OS) when this returns, so a killed driver
        loses none. The file is synced to the device at most once a second."""
        assert self._handle is not None, "open() the output first"
        self._handle.write(outcome.to_json() + "\n")
        self._handle.flush()
        if time.monotonic() - self._synced > 1.0:
            os.fsync(self._handle.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None


@dataclass
class BatchSummary:
    """Totals of a batch run: items by outcome, throughput, tokens and cost of this run's items
    (items skipped as already done add nothing)."""

    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    waiting: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    output: str | None = None
    #: Every outcome of this run, in the order of the inputs.
    outcomes: list[ItemOutcome] = field(default_factory=list)

    def add(self, outcome: ItemOutcome) -> None:
        if outcome.status == "done":
            self.done += 1
        elif outcome.status == "failed":
            self.failed += 1
        else:
            self.waiting += 1
        self.prompt_tokens += int(outcome.usage.get("prompt_tokens", 0))
        self.completion_tokens += int(outcome.usage.get("completion_tokens", 0))
        self.cost_usd += outcome.cost_usd

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.waiting

    @property
    def items_per_s(self) -> float:
        return self.finished / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.waiting == 0


__all__ = ["BatchOutput", "BatchSummary", "ItemOutcome", "Status"]
