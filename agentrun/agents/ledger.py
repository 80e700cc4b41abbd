"""The usage ledger: one record per gateway call, aggregated per node, run and model.

A call that raised is recorded too (`error` names the exception type), with the attempts,
retries and time it spent and no tokens, so failures show in the totals without inflating the
counts of answered calls.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any

#: Labels a workflow sets around its model calls so the ledger can aggregate per node and run.
current_node: ContextVar[str | None] = ContextVar("agentrun_node", default=None)
current_run: ContextVar[str | None] = ContextVar("agentrun_run", default=None)
_collector: ContextVar[list[CallRecord] | None] = ContextVar("agentrun_collector", default=None)
_failures: ContextVar[list[CallRecord] | None] = ContextVar("agentrun_failures", default=None)


@contextmanager
def _collecting(sink: ContextVar[list[CallRecord] | None]) -> Iterator[list[CallRecord]]:
    calls: list[CallRecord] = []
    token = sink.set(calls)
    try:
        yield calls
    finally:
        # a stream dropped unfinished is closed later from another context, which never saw
        # the set; the dropped consumer's list is then simply no longer read
        with suppress(ValueError):
            sink.reset(token)


def collect() -> AbstractContextManager[list[CallRecord]]:
    """Records of the calls made inside the block by this task only (not by concurrent ones)."""
    return _collecting(_collector)


def collect_failures() -> AbstractContextManager[list[CallRecord]]:
    """Records of the calls that failed inside the block. Only the innermost such block sees a
    failure, so a workflow run inside another one keeps its own failures."""
    return _collecting(_failures)


@dataclass(frozen=True)
class CallRecord:
    model: str
    requested_model: str
    node: str | None
    run_id: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    retries: int
    cache_hit: bool
    fallbacks: int = 0
    #: Requests sent to models (retries and fallbacks included; 0 for a cache hit).
    attempts: int = 1
    #: The exception type of a call that failed; None for an answered call or a cache hit.
    error: str | None = None
    #: Tool calls the reply asked for.
    tool_calls: int = 0

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class Usage:
    """Totals over a set of calls.

    `calls` counts answered calls and cache hits, `model_calls` the answered ones, and
    `failed_calls` those that raised. Cache hits add no tokens or cost; failed calls add their
    attempts, retries and latency (and tokens only where known). `tool_calls` counts the calls
    the replies asked for, cache hits included.
    """

    calls: int = 0
    model_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    retries: int = 0
    fallbacks: int = 0
    failed_calls: int = 0
    attempts: int = 0
    tool_calls: int = 0
    #: The same totals per node of the graph (`worker[3]` counts under `worker`).
    by_node: dict[str, Usage] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, record: CallRecord) -> None:
        self._add_flat(record)
        if record.node:
            self.by_node.setdefault(node_group(record.node), Usage())._add_flat(record)

    def _add_flat(self, record: CallRecord) -> None:
        self.latency_s += record.latency_s
        self.attempts += record.attempts
        self.tool_calls += record.tool_calls
        if record.cache_hit:
            self.calls += 1
            self.cache_hits += 1
            return
        if record.failed:
            self.failed_calls += 1
        else:
            self.calls += 1
            self.model_calls += 1
        self.prompt_tokens += record.prompt_tokens
        self.completion_tokens += record.completion_tokens
        self.cost_usd += record.cost_usd
        self.retries += record.retries
        self.fallbacks += record.fallbacks

    def __add__(self, other: Usage) -> Usage:
        summed = Usage(**{name: getattr(self, name) + getattr(other, name) for name in _TOTALS})
        for source in (self.by_node, other.by_node):
            for node, usage in source.items():
                summed.by_node[node] = summed.by_node.get(node, Usage()) + usage
        return summed

    def flat(self) -> Usage:
        """The totals alone, without the per-node breakdown."""
        return Usage(**{name: getattr(self, name) for name in _TOTALS})

    def under(self, prefix: str) -> Usage:
        """These totals with every node named `prefix/node` (a workflow inside a pipeline)."""
        usage = self.flat()
        usage.by_node = {f"{prefix}/{node}": value for node, value in self.by_node.items()}
        return usage

    def to_dict(self) -> dict[str, Any]:
        totals = {name: getattr(self, name) for name in _TOTALS}
        by_node = {node: usage.to_dict() for node, usage in sorted(self.by_node.items())}
        return {**totals, "total_tokens": self.total_tokens, "by_node": by_node}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        usage = cls(**{k: v for k, v in data.items() if k in _TOTALS})
        usage.by_node = {
            node: cls.from_dict(value) for node, value in (data.get("by_node") or {}).items()
        }
        return usage


#: The counters of `Usage` (everything but `by_node`).
_TOTALS = tuple(f.name for f in fields(Usage) if f.name != "by_node")


def node_group(label: str) -> str:
    """The graph node a call label belongs to: `worker[3]` and `worker[4]` are `worker`."""
    return label.split("[", 1)[0] or label


def total(records: Iterable[CallRecord]) -> Usage:
    usage = Usage()
    for record in records:
        usage.add(record)
    return usage


@dataclass
class Ledger:
    """Thread-safe list of call records; read it from Python at any time."""

    _records: list[CallRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cost_usd: float = 0.0

    def record(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._cost_usd += record.cost_usd
        collecting = _collector.get()
        if collecting is not None:
            collecting.append(record)
        failures = _failures.get()
        if failures is not None and record.failed:
            failures.append(record)

    @property
    def cost_usd(self) -> float:
        """What every recorded call cost (kept as calls are recorded, so it is cheap to read)."""
        with self._lock:
            return self._cost_usd

    @property
    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def total(self, *, run_id: str | None = None) -> Usage:
        return total(r for r in self.records if run_id is None or r.run_id == run_id)

    def by_node(self, *, run_id: str | None = None) -> dict[str, Usage]:
        return self._group("node", run_id)

    def by_run(self) -> dict[str, Usage]:
        return self._group("run_id", None)

    def by_model(self) -> dict[str, Usage]:
        return self._group("model", None)

    def _group(self, key: str, run_id: str | None) -> dict[str, Usage]:
        groups: dict[str, Usage] = {}
        for record in self.records:
            if run_id is not None and record.run_id != run_id:
                continue
            name = getattr(record, key) or "-"
            groups.setdefault(name, Usage()).add(record)
        return groups

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._cost_usd = 0.0
