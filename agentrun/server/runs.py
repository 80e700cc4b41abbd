"""Runs the server executes: started and resumed in the background, a bounded number at once,
each with its event log, and found again after a restart.

A run is a pipeline run like any other (`agentrun.pipeline`): checkpointed, with its record
under `<data dir>/runs/<id>/`. Beside the record the server keeps `server.json` (which client
owns the run, what it runs) and `events.jsonl`, every event of the run as a JSON line, appended
and flushed as it happens, across resumes. A client that comes late, or after a restart, reads
the log from the start (or from where it stopped: an event's id is its end offset in the log)
and then follows it live. When a server starts, runs its predecessor left running are marked
`interrupted`: each can be resumed from its last checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agentrun.errors import AgentrunError, AnswerError, UsageError
from agentrun.graphs.base import NO_ANSWER
from agentrun.graphs.events import Event, PendingQuestion, event_json
from agentrun.graphs.human import checked_answer
from agentrun.graphs.runtime import new_thread_id
from agentrun.logs import get_logger
from agentrun.pipeline import Pipeline, RunRecord
from agentrun.server.auth import Caller
from agentrun.server.catalog import NotFoundError
from agentrun.server.models import RunRequest, RunState
from agentrun.settings import open_private, write_private

log = get_logger("server")

OWNER_FILE = "server.json"
EVENTS_FILE = "events.jsonl"
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: How long a follower waits for news before it checks again (and the stream sends a ping).
FOLLOW_POLL_S = 10.0


class BusyError(AgentrunError):
    """As many runs as allowed execute already; retry after `retry_after_s`."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(f"{limit} runs are executing, the server's limit; retry in "
                         f"{retry_after_s} s")  # fmt: skip
        self.retry_after_s = retry_after_s


class ConflictError(UsageError):
    """The run is not in a state that allows this (running already, finished, ...)."""


class RunManager:
    """Starts, resumes, cancels and reports runs; holds the memory store runs share."""

    def __init__(self, root: Path, max_runs: int, retry_after_s: int) -> None:
        self.root = root
        self.max_runs = max_runs
        self.retry_after_s = retry_after_s
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._news: dict[str, asyncio.Event] = {}
        self._store: Any = None
        self._store_lock = threading.Lock()
        self._store_exit: contextlib.ExitStack | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Mark runs a stopped server left executing as interrupted (resumable); their ids."""
        recovered = []
        for folder in self._folders():
            owner = _read_json(folder / OWNER_FILE)
            meta = _read_json(folder / "meta.json")
            if owner is None:
                continue
            if meta is not None and meta.get("status") in ("created", "running"):
                record = RunRecord.open(self.root, folder.name)
                record.update(status="interrupted", error="the server stopped during the run; "
                              "resume it", finished=time.time())  # fmt: skip
                recovered.append(folder.name)
            elif meta is None and owner.get("status") in ("created", "running"):
                self._owner_update(folder.name, status="failed",
                                   error="the server stopped before the run started")  # fmt: skip
        return recovered

    async def aclose(self) -> None:
        """Stop every executing run (each is left interrupted, resumable) and the store."""
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        if self._store_exit is not None:
            self._store_exit.close()

    def store(self) -> Any:
        """The memory store every run of this server shares (opened once, by whichever thread
        asks first: the server opens it as it starts)."""
        with self._store_lock:
            if self._store is None:
                from agentrun.memory import default_store

                stack = contextlib.ExitStack()
                self._store = stack.enter_context(default_store(self.root))
                self._store_exit = stack
        return self._store

    # --- starting and resuming -----------------------------------------------------------------

    def start(self, pipeline: Pipeline, request: RunRequest, caller: Caller) -> RunState:
        """Check the inputs, then run in the background; the run's state as it starts."""
        values = pipeline.coerce_inputs(request.inputs)
        self._check_capacity()
        run_id = new_thread_id()
        kind = "workflow" if request.workflow is not None else "pipeline"
        name = request.workflow or request.pipeline or ""
        owner = {"client": caller.name, "kind": kind, "name": name, "created": time.time(),
                 "status": "created"}  # fmt: skip
        write_private(self.folder(run_id) / OWNER_FILE, json.dumps(owner))
        events = pipeline.astream(
            values, thread_id=run_id, data_dir=self.root, store=self._store_for(pipeline),
            cache=request.cache, stream_text=request.stream_text,
            max_input_tokens=request.max_input_tokens, max_cost_usd=request.max_cost_usd,
        )  # fmt: skip
        self._launch(run_id, events)
        return self.state(run_id, caller)

    def resume(self, run_id: str, caller: Caller, answer: Any = NO_ANSWER) -> RunState:
        """Continue a waiting, failed or interrupted run (checking the answer first)."""
        state = self.state(run_id, caller)
        if state.active:
            raise ConflictError(f"run {run_id} is executing; wait for it, or cancel it")
        if state.status == "done":
            raise ConflictError(f"run {run_id} is done; start a new run")
        if state.status == "waiting":
            asked = state.question.question if state.question is not None else "?"
            if answer is NO_ANSWER:
                raise AnswerError(f"run {run_id} waits for an answer to: {asked}")
            if state.question is not None:
                checked_answer(state.question, answer)  # refused here: the run still waits
        elif answer is not NO_ANSWER:
            raise AnswerError(f"run {run_id} is not waiting for an answer; resume it without one")
        record = self._record(run_id)
        if record is None:
            raise ConflictError(f"run {run_id} never started ({state.error}); start a new run")
        self._check_capacity()
        pipeline = Pipeline.from_record(record)
        after = self.log_size(run_id)
        events = pipeline.astream_resume(
            run_id, answer=answer, data_dir=self.root, store=self._store_for(pipeline)
        )
        self._launch(run_id, events)
        resumed = self.state(run_id, caller)
        resumed.events_after = after
        return resumed

    def cancel(self, run_id: str, caller: Caller) -> RunState:
        """Stop an executing run; it is left interrupted, and can be resumed."""
        self.state(run_id, caller)
        task = self.tasks.get(run_id)
        if task is None:
            raise ConflictError(f"run {run_id} is not executing")
        task.cancel()
        return self.state(run_id, caller)

    def _check_capacity(self) -> None:
        if len(self.tasks) >= self.max_runs:
            raise BusyError(self.max_runs, self.retry_after_s)

    def _store_for(self, pipeline: Pipeline) -> Any:
        """The shared store for pipelines on the embedded store; others make their own."""
        return self.store() if pipeline.spec.memory.backend == "chroma" else None

    def _launch(self, run_id: str, events: AsyncIterator[Event]) -> None:
        self.tasks[run_id] = asyncio.create_task(self._execute(run_id, events))
        self._notify(run_id)

    async def _execute(self, run_id: str, events: AsyncIterator[Event]) -> None:
        """Drive the run, appending each event to its log."""
        path = self.folder(run_id) / EVENTS_FILE
        try:
            with open_private(path, "a") as handle:
                async for event in events:
                    handle.write(event_json(event) + "\n")
                    handle.flush()
                    self._notify(run_id)
        except asyncio.CancelledError:
            log.info("run_cancelled", run=run_id)
        except Exception as exc:
            log.warning("run_failed", run=run_id, error=type(exc).__name__)
            if self._record(run_id) is None:  # refused before its record existed
                self._owner_update(run_id, status="failed", error=str(exc))
        finally:
            self.tasks.pop(run_id, None)
            self._notify(run_id)

    # --- state -----------------------------------------------------------------------------

    def folder(self, run_id: str) -> Path:
        if not RUN_ID.match(run_id):
            raise NotFoundError(f"no run {run_id!r}")
        return self.root / "runs" / run_id

    def _folders(self) -> list[Path]:
        runs = self.root / "runs"
        return [folder for folder in runs.iterdir() if folder.is_dir()] if runs.is_dir() else []

    def _record(self, run_id: str) -> RunRecord | None:
        try:
            return RunRecord.open(self.root, run_id)
        except UsageError:
            return None

    def _owner_update(self, run_id: str, **values: Any) -> None:
        path = self.folder(run_id) / OWNER_FILE
        owner = _read_json(path) or {}
        write_private(path, json.dumps({**owner, **values}))

    def owned(self, run_id: str, caller: Caller) -> dict[str, Any]:
        """The run's owner file, if `caller` owns the run (else, as for no run, NotFound)."""
        owner = _read_json(self.folder(run_id) / OWNER_FILE)
        if owner is None or owner.get("client") != caller.name:
            raise NotFoundError(f"no run {run_id!r}")
        return owner

    def state(self, run_id: str, caller: Caller) -> RunState:
        owner = self.owned(run_id, caller)
        meta = _read_json(self.folder(run_id) / "meta.json") or {}
        result = _read_json(self.folder(run_id) / "result.json") or {}
        question = meta.get("question")
        status = meta.get("status") or owner.get("status", "created")
        return RunState(
            id=run_id, kind=owner["kind"], name=owner["name"], status=status,
            created=owner["created"], started=meta.get("started"), finished=meta.get("finished"),
            error=meta.get("error") or owner.get("error"),
            question=PendingQuestion.model_validate(question) if question and
            status == "waiting" else None,
            outputs=result.get("outputs") if status == "done" else None,
            usage=result.get("usage") or {}, cost_usd=float(meta.get("cost_usd") or 0.0),
            active=run_id in self.tasks,
        )  # fmt: skip

    def runs(self, caller: Caller) -> list[RunState]:
        """The caller's runs, newest first."""
        states = []
        for folder in self._folders():
            owner = _read_json(folder / OWNER_FILE)
            if owner is not None and owner.get("client") == caller.name:
                states.append(self.state(folder.name, caller))
        return sorted(states, key=lambda state: state.created, reverse=True)

    def pipeline_of(self, run_id: str) -> Pipeline:
        record = self._record(run_id)
        if record is None:
            raise ConflictError(f"run {run_id} never started")
        return Pipeline.from_record(record)

    # --- events ------------------------------------------------------------------------------

    def log_size(self, run_id: str) -> int:
        path = self.folder(run_id) / EVENTS_FILE
        return path.stat().st_size if path.exists() else 0

    def _notify(self, run_id: str) -> None:
        news = self._news.pop(run_id, None)
        if news is not None:
            news.set()

    async def follow(
        self, run_id: str, caller: Caller, after: int = 0
    ) -> AsyncIterator[tuple[int, str]]:
        """The run's events from byte `after` of its log, as (end offset, JSON line), live
        until the run stops executing."""
        self.owned(run_id, caller)
        path = self.folder(run_id) / EVENTS_FILE
        position = after
        while True:
            news = self._news.setdefault(run_id, asyncio.Event())  # before reading: no news lost
            executing = run_id in self.tasks
            for line, end in _lines(path, position):
                position = end
                yield end, line
            if not executing:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(news.wait(), FOLLOW_POLL_S)


def _lines(path: Path, start: int) -> list[tuple[str, int]]:
    """Complete lines of `path` from byte `start`, each with the offset just past it."""
    if not path.exists():
        return []
    with path.open("rb") as handle:
        handle.seek(start)
        data = handle.read()
    found = []
    position = start
    for raw in data.split(b"\n")[:-1]:  # the last piece is empty, or a line still being written
        position += len(raw) + 1
        if raw.strip():
            found.append((raw.decode("utf-8"), position))
    return found


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


__all__ = ["BusyError", "ConflictError", "RunManager"]
