"""Kill soak: every workload killed at random points, resumed, and compared with a clean run.

Each workload (`benchmarks/workloads.py`) first runs once undisturbed through the CLI, against
the fake OpenAI server with its scripted replies: its outputs, requests, tool calls and memory
are the reference, and it counts how often each kill point occurs. Then runs are started and
killed again and again (SIGKILL, at most three times a run), each time at a kill point drawn at
random and at a random occurrence of it, and resumed with `agentrun resume` until they finish.

A kill point is one entry of `KILL_POINTS`: a hook installed in the child process that calls
`hit()` where the point occurs (`hit` kills at the chosen occurrence). The points:

- `model call`: a request is on the wire, its reply not yet read;
- `after reply`: a reply has arrived and is not yet in the checkpoint;
- `memory write`: part of a batch of store writes is done;
- `tool call`: a tool step's tool has run and its result is not yet recorded;
- `result file`: `result.json` is written to its temporary file, not yet renamed.

Figures: runs that finish with the reference's outputs; model and tool calls repeated beyond
those in flight at the kill (the child reports how many it had started and not yet recorded);
memory entries duplicated or lost against the reference (the per-attempt logs of prompts and
failed calls excepted); and checkpoint and store databases that fail an integrity check after a
kill. The same runs with SIGINT must stop with exit code 130 and the resume command, and with a
file-size limit (a full disk) with one clear error line; both then resume to the same result.

Every run and resume is a process forked from a server that has imported agentrun (the
`agentrun` command's code, without paying seconds of imports each time).

    .venv/bin/python benchmarks/kill_soak.py [--kills 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentrun.agents import _litellm
from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.agents.gateway import Gateway
from agentrun.cli import run as cli
from agentrun.memory.store import ChromaStore
from benchmarks.workloads import Workload, pick

_litellm.litellm()  # imported once in the fork server, as every child needs it

#: How many times one run may be killed before it is let finish.
KILLS_PER_RUN = 3
#: A child that takes longer is stuck: the soak fails it.
CHILD_TIMEOUT_S = 300


# --- in the child: hooks at the kill points ------------------------------------------------------


class Tracker:
    """Counts each point's occurrences; at the planned one, records the moment and kills."""

    def __init__(self, plan: dict[str, Any], report: Path) -> None:
        self.point: str | None = plan.get("point")
        self.at = int(plan.get("at") or 0)
        #: The share of a batch of memory writes done before dying there.
        self.keep = float(plan.get("keep", 0.5))
        self.signal = signal.Signals[plan.get("signal", "SIGKILL")]
        self.report = report
        self.counts: Counter[str] = Counter()
        self.calls_started = 0
        self.calls_recorded = 0
        self.tools_recorded = 0
        self.tools_started = 0
        self.fired = False

    def hit(self, point: str) -> bool:
        """Count an occurrence of `point`; True (after recording it) when it is the one to kill
        at. The caller then calls `die()`, possibly after finishing part of its work."""
        self.counts[point] += 1
        return not self.fired and point == self.point and self.counts[point] == self.at

    def in_flight(self) -> dict[str, int]:
        """Calls and tools started whose results are not yet in a checkpoint: a resume may run
        them again."""
        return {"calls_in_flight": self.calls_started - self.calls_recorded,
                "tools_in_flight": self.tools_started - self.tools_recorded}  # fmt: skip

    def die(self, point: str) -> None:
        self.fired = True
        self.write({"event": "kill", "point": point, "occurrence": self.at, **self.in_flight()})
        os.kill(os.getpid(), self.signal)

    def write(self, record: dict[str, Any]) -> None:
        with open(self.report, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def finish(self, code: int) -> None:
        self.write({
            "event": "exit", "code": code, "counts": dict(self.counts),
            "calls_started": self.calls_started, "tools_started": self.tools_started,
            **self.in_flight(),
        })  # fmt: skip


def _model_call(tracker: Tracker) -> None:
    send = Gateway._send

    async def hooked(self: Gateway, *args: Any, **kwargs: Any) -> Any:
        request = asyncio.ensure_future(send(self, *args, **kwargs))
        if tracker.hit("model call"):
            await asyncio.sleep(0.005)  # on the wire, the reply not yet read
            tracker.die("model call")
        return await request

    Gateway._send = hooked  # type: ignore[method-assign]


def _after_reply(tracker: Tracker) -> None:
    complete = Gateway.acomplete

    async def hooked(self: Gateway, *args: Any, **kwargs: Any) -> Any:
        tracker.calls_started += 1
        reply = await complete(self, *args, **kwargs)
        if tracker.hit("after reply"):
            tracker.die("after reply")
        return reply

    Gateway.acomplete = hooked  # type: ignore[method-assign]


def _memory_write(tracker: Tracker) -> None:
    from langgraph.store.base import PutOp

    batch = ChromaStore.abatch

    async def hooked(self: ChromaStore, ops: Any) -> Any:
        ops = list(ops)
        if any(isinstance(op, PutOp) for op in ops) and tracker.hit("memory write"):
            puts = [op for op in ops if isinstance(op, PutOp)]
            await batch(self, puts[: int(len(puts) * tracker.keep)])  # part of it
            tracker.die("memory write")
        return await batch(self, ops)

    ChromaStore.abatch = hooked  # type: ignore[method-assign]


def _tool_call(tracker: Tracker) -> None:
    from agentrun.tools.function import Tool

    call = Tool.call

    async def hooked(self: Tool, *args: Any, **kwargs: Any) -> Any:
        tracker.tools_started += 1
        result = await call(self, *args, **kwargs)
        if tracker.hit("tool call"):
            tracker.die("tool call")
        return result

    Tool.call = hooked  # type: ignore[method-assign]


def _result_file(tracker: Tracker) -> None:
    rename = os.replace

    def hooked(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if str(dst).endswith("result.json") and tracker.hit("result file"):
            tracker.die("result file")
        rename(src, dst, *args, **kwargs)

    os.replace = hooked


def _recorded_calls(tracker: Tracker) -> None:
    """A model or tool call is recorded when its task's return value is in the checkpoint (a
    tool task's value has the tool's `content`; a model call's does not)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    put_writes = AsyncSqliteSaver.aput_writes

    async def hooked(self: Any, config: Any, writes: Any, *args: Any, **kwargs: Any) -> None:
        await put_writes(self, config, writes, *args, **kwargs)
        for channel, value in writes:
            if channel != "__return__" or not isinstance(value, dict):
                continue
            if "content" in value:
                tracker.tools_recorded += 1  # a tool's outcome: value, content, error, usage
            elif "requested_model" in value or {"value", "error", "usage"} <= set(value):
                tracker.calls_recorded += 1

    AsyncSqliteSaver.aput_writes = hooked  # type: ignore[method-assign]


#: Kill points by name: each installs its hooks in the child (adding one is one entry).
KILL_POINTS: dict[str, Callable[[Tracker], None]] = {
    "model call": _model_call,
    "after reply": _after_reply,
    "memory write": _memory_write,
    "tool call": _tool_call,
    "result file": _result_file,
}


def child(argv: list[str], plan: dict[str, Any], report: str, output: str) -> None:
    """One `agentrun` command in a forked process, with every kill point hooked."""
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if plan.get("fsize"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (plan["fsize"], hard))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    tracker = Tracker(plan, Path(report))
    for install in (*KILL_POINTS.values(), _recorded_calls):
        install(tracker)
    code = cli(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    tracker.finish(code)
    os._exit(code)


# --- in the parent -------------------------------------------------------------------------------


class Disk:
    """A full disk for a run's data directory: a tmpfs of a given size mounted there (needs
    root), else a file-size limit on the child (then writes fail with "file too large")."""

    def __init__(self, scratch: Path) -> None:
        probe = scratch / "tmpfs-probe"
        probe.mkdir(parents=True, exist_ok=True)
        self.tmpfs = _mount(probe, 64 * 1024) and _umount(probe)
        self.kind = "tmpfs" if self.tmpfs else "file-size limit"

    def fill(self, data: Path, size: int) -> dict[str, Any]:
        """Make `data` a disk of `size` bytes; the plan for the child that writes there."""
        if not self.tmpfs:
            return {"fsize": size}
        data.mkdir(parents=True, exist_ok=True)
        if not _mount(data, size):
            raise SystemExit(f"cannot mount a tmpfs at {data}")
        return {"disk": size}

    def free(self, data: Path) -> None:
        """Give the disk room again (the run is then resumed)."""
        if self.tmpfs:
            _run(["mount", "-o", "remount,size=256m", str(data)])

    def release(self, data: Path) -> None:
        if self.tmpfs:
            _umount(data)


def _run(command: list[str]) -> bool:
    import subprocess

    done = subprocess.run(command, capture_output=True, check=False)
    return done.returncode == 0


def _mount(folder: Path, size: int) -> bool:
    if os.geteuid() != 0:
        return False
    return _run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)])


def _umount(folder: Path) -> bool:
    return _run(["umount", "--lazy", str(folder)])  # the store may still hold a file open


@dataclass
class Attempt:
    """One process of a run: what it was told, how it ended, what it printed."""

    plan: dict[str, Any]
    code: int | None
    killed: dict[str, Any] | None
    exit: dict[str, Any] | None
    output: str
    seconds: float


@dataclass
class SoakRun:
    workload: str
    mode: str
    attempts: list[Attempt] = field(default_factory=list)
    finished: bool = False
    same_result: bool = False
    requests: int = 0
    extra_requests: int = 0
    calls_in_flight: int = 0
    tools: int = 0
    extra_tools: int = 0
    tools_in_flight: int = 0
    memory_duplicated: int = 0
    memory_lost: int = 0
    databases_checked: int = 0
    databases_broken: int = 0
    clear_stops: int = 0
    stops: int = 0

    @property
    def kills(self) -> int:
        return sum(1 for a in self.attempts if a.killed or (_disk_plan(a.plan) and a.code != 0))

    @property
    def calls_repeated(self) -> int:
        """Model calls sent again beyond those in flight when the process died."""
        return max(0, self.extra_requests - self.calls_in_flight)

    @property
    def tools_repeated(self) -> int:
        return max(0, self.extra_tools - self.tools_in_flight)


@dataclass
class Reference:
    outputs: dict[str, Any]
    requests: Counter[str]
    tools: int
    memory: dict[str, Any]
    counts: dict[str, int]
    data_bytes: int


class Soak:
    """Runs one workload's processes against its fake server."""

    def __init__(self, work: Workload, scratch: Path, pool: Any, seed: int) -> None:
        self.work = work
        self.scratch = scratch
        self.pool = pool
        self.random = random.Random(seed)
        self.server = FakeOpenAIServer(reply=work.reply()).start()
        self.disk = Disk(scratch)
        self.stops = 0

    def close(self) -> None:
        self.server.stop()

    def run_argv(self, data: Path, thread: str) -> list[str]:
        return ["--data-dir", str(data), "run", str(self.work.spec),
                *self.work.cli_settings(self.server.url), *self.work.cli_inputs(),
                "--thread-id", thread, "--no-cache", "--no-stream"]  # fmt: skip

    def attempt(self, argv: list[str], plan: dict[str, Any], folder: Path, index: int) -> Attempt:
        report, output = folder / f"attempt{index}.jsonl", folder / f"attempt{index}.out"
        started = time.perf_counter()
        process = self.pool.Process(target=child, args=(argv, plan, str(report), str(output)))
        process.start()
        process.join(CHILD_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join()
        records = [json.loads(line) for line in _lines(report)]
        killed = next((r for r in records if r["event"] == "kill"), None)
        ended = next((r for r in records if r["event"] == "exit"), None)
        code = process.exitcode
        text = output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
        return Attempt(plan, code, killed, ended, text, time.perf_counter() - started)

    def reference(self) -> Reference:
        folder = self.scratch / f"{self.work.name}-reference"
        folder.mkdir(parents=True)
        self.server.reset()
        data = folder / "data"
        done = self.attempt(self.run_argv(data, "reference"), {}, folder, 0)
        if done.code != 0 or done.exit is None:
            raise SystemExit(f"{self.work.name}: the reference run failed:\n{done.output}")
        size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        return Reference(
            outputs=_outputs(data, "reference"), requests=self.requests(),
            tools=done.exit["tools_started"], memory=memory_dump(data, "reference"),
            counts=done.exit["counts"], data_bytes=size,
        )  # fmt: skip

    def requests(self) -> Counter[str]:
        return Counter(json.dumps(r.body.get("messages"), sort_keys=True)
                       for r in self.server.chat_requests())  # fmt: skip

    def plan(self, ref: Reference, mode: str, data: Path, first: bool) -> dict[str, Any]:
        if mode == "disk full":  # room for part of what the run writes
            size = self.random.randint(ref.data_bytes // 5, ref.data_bytes)
            return self.disk.fill(data, max(size, 64 * 1024))
        points = [p for p, n in sorted(ref.counts.items()) if n and p in KILL_POINTS]
        point = points[self.stops % len(points)]  # each point in turn, at a random occurrence
        most = ref.counts[point] if first else max(1, ref.counts[point] // 2)
        signal_name = "SIGINT" if mode == "SIGINT" else "SIGKILL"
        return {"point": point, "at": self.random.randint(1, most),
                "signal": signal_name, "keep": self.random.random()}  # fmt: skip

    def soak_run(self, ref: Reference, mode: str, number: int) -> SoakRun:
        folder = self.scratch / f"{self.work.name}-{mode.replace(' ', '-')}-{number}"
        folder.mkdir(parents=True)
        data, thread = folder / "data", f"soak{number}"
        self.server.reset()
        run = SoakRun(self.work.name, mode)
        try:
            self._attempts(run, ref, mode, folder, thread)
            if run.finished:
                run.same_result = _outputs(data, thread) == ref.outputs
                duplicated, lost = compare_memory(ref.memory, memory_dump(data, thread))
                run.memory_duplicated, run.memory_lost = duplicated, lost
        finally:
            if mode == "disk full":
                self.disk.release(data)
        # a process killed at a tool call has no exit record, but that tool had started
        run.tools = sum(a.exit["tools_started"] for a in run.attempts if a.exit) + sum(
            1
            for a in run.attempts
            if a.exit is None and a.killed and a.killed["point"] == "tool call"
        )
        run.requests = sum(self.requests().values())
        run.extra_requests = run.requests - sum(ref.requests.values())
        run.extra_tools = run.tools - ref.tools
        return run

    def _attempts(self, run: SoakRun, ref: Reference, mode: str, folder: Path, thread: str) -> None:
        data = folder / "data"
        argv = self.run_argv(data, thread)
        for index in range(KILLS_PER_RUN + 1):
            interrupting = index < (1 if mode == "disk full" else KILLS_PER_RUN)
            plan = self.plan(ref, mode, data, first=index == 0) if interrupting else {}
            attempt = self.attempt(argv, plan, folder, index)
            run.attempts.append(attempt)
            if attempt.killed is not None:
                self.stops += 1  # the next kill goes to the next point
            # what was in flight when the process stopped: at its exit (Ctrl-C, a full disk) or
            # at the kill (SIGKILL leaves no exit record)
            stopped = attempt.exit if attempt.exit is not None and attempt.code != 0 else None
            stopped = stopped or attempt.killed
            if stopped is not None:
                run.calls_in_flight += stopped["calls_in_flight"]
                run.tools_in_flight += stopped["tools_in_flight"]
            if attempt.exit is not None and attempt.code == 0:
                run.finished = True
                return
            if attempt.killed is None and not _disk_plan(plan):
                return  # failed on its own: the soak reports it
            if mode != "SIGKILL":
                run.stops += 1
                run.clear_stops += clear_stop(attempt, mode, data, thread)
            if mode == "disk full":
                self.disk.free(data)
            checked, broken = check_databases(data)
            run.databases_checked += checked
            run.databases_broken += broken
            argv = ["--data-dir", str(data), "resume", thread]


def _disk_plan(plan: dict[str, Any]) -> bool:
    return bool(plan.get("fsize") or plan.get("disk"))


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _outputs(data: Path, thread: str) -> dict[str, Any]:
    path = data / "runs" / thread / "result.json"
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8"))["outputs"])


def clear_stop(attempt: Attempt, mode: str, data: Path, thread: str) -> bool:
    """A SIGINT stop exits 130 with the resume command; a full disk with one error line and
    the resume command; neither with a traceback."""
    text = attempt.output
    if "Traceback" in text or "unexpected" in text:
        return False
    resume = f"resume with: agentrun --data-dir {data} resume {thread}"
    if mode == "SIGINT":
        return attempt.code == 130 and f"interrupted; {resume}" in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    says = len(errors) == 1 and "no space left" in errors[0] and "free some space" in errors[0]
    return attempt.code == 1 and says and resume in text


def check_databases(data: Path) -> tuple[int, int]:
    """(checked, broken): every SQLite database under `data` must open and pass
    `PRAGMA integrity_check`."""
    checked = broken = 0
    for path in sorted(data.rglob("*.sqlite*")):
        if path.name.endswith(("-wal", "-shm", "-journal")):
            continue
        checked += 1
        try:
            with contextlib.closing(sqlite3.connect(path)) as db:
                ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            ok = False
        broken += not ok
    return checked, broken


#: Store namespaces that log each attempt (every prompt sent, failed calls): not memory.
LOGS = ("prompts", "failed_calls")


def memory_dump(data: Path, thread: str) -> dict[str, Any]:
    """Every item in the run's store as `namespace/key` -> value, the thread id made neutral."""
    from agentrun.memory import default_store

    if not (data / "memory").exists():
        return {}
    items: dict[str, Any] = {}
    with default_store(data) as store:
        for namespace in store.list_namespaces(limit=100_000):
            if any(label in LOGS for label in namespace):
                continue
            for item in store.search(namespace, limit=1_000_000):
                if tuple(item.namespace) != tuple(namespace):
                    continue
                labels = [_neutral(label, thread) for label in item.namespace]
                items["/".join([*labels, item.key])] = _neutral(item.value, thread)
    return items


def _neutral(value: Any, thread: str) -> Any:
    """`value` with the thread id made neutral wherever a string is it or a run under it (a
    namespace label, or a record naming the run that wrote it: `<thread>-result`)."""
    if isinstance(value, str):
        ours = value == thread or value.startswith(f"{thread}-")
        return "THREAD" + value[len(thread) :] if ours else value
    if isinstance(value, dict):
        return {key: _neutral(item, thread) for key, item in value.items()}
    if isinstance(value, list):
        return [_neutral(item, thread) for item in value]
    return value


#: Fields that hold the wall-clock time an entry was written: they differ from run to run.
WALL_CLOCK = ("time", "updated")


def compare_memory(reference: dict[str, Any], found: dict[str, Any]) -> tuple[int, int]:
    """(duplicated, lost): items the reference lacks, and its items missing or changed (the
    time each was written aside)."""
    duplicated = sum(1 for key in found if key not in reference)
    lost = sum(
        1 for key, value in reference.items() if _timeless(found.get(key)) != _timeless(value)
    )
    return duplicated, lost


def _timeless(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {name: field for name, field in value.items() if name not in WALL_CLOCK}


# --- the benchmark -------------------------------------------------------------------------------


def pool() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["benchmarks.kill_soak"])
    return context


def soak(
    workloads: list[Workload],
    kills: int,
    modes: dict[str, int],
    scratch: Path,
    seed: int = 0,
    log: Any = None,
) -> dict[str, Any]:
    """`kills` SIGKILLs per workload, and `modes[mode]` runs of each other mode (SIGINT, disk
    full) per workload."""
    runs: list[SoakRun] = []
    context = pool()
    for number, work in enumerate(workloads):
        soaker = Soak(work, scratch, context, seed * 1000 + number)
        try:
            ref = soaker.reference()
            plan = {"SIGKILL": kills, **modes}
            for mode, wanted in plan.items():
                done, count = 0, 0
                while done < wanted and count < wanted * 3:
                    run = soaker.soak_run(ref, mode, count)
                    count += 1
                    runs.append(run)
                    done += run.kills if mode == "SIGKILL" else 1
                    if log is not None:
                        print(f"{work.name} {mode} #{count}: {run.kills} stops, "
                              f"{'same result' if run.same_result else 'DIFFERENT'}, "
                              f"{run.calls_repeated} calls and {run.tools_repeated} tools "
                              f"repeated, memory +{run.memory_duplicated}/-{run.memory_lost}",
                              file=log, flush=True)  # fmt: skip
        finally:
            soaker.close()
    return {"benchmark": "kill_soak", "settings": {"kills": kills, "modes": modes,
            "kill_points": list(KILL_POINTS), "kills_per_run": KILLS_PER_RUN},
            "figures": figures(runs), "runs": [_run_json(r) for r in runs]}  # fmt: skip


def _run_json(run: SoakRun) -> dict[str, Any]:
    data = asdict(run)
    for attempt in data["attempts"]:
        attempt["output"] = attempt["output"][-2000:]
    return {**data, "kills": run.kills, "calls_repeated": run.calls_repeated,
            "tools_repeated": run.tools_repeated}  # fmt: skip


def figures(runs: list[SoakRun]) -> dict[str, Any]:
    by_mode: dict[str, dict[str, Any]] = {}
    for mode in dict.fromkeys(r.mode for r in runs):
        chosen = [r for r in runs if r.mode == mode]
        points = Counter(
            a.killed["point"] for r in chosen for a in r.attempts if a.killed is not None
        )
        by_mode[mode] = {
            "runs": len(chosen),
            "stops": sum(r.kills for r in chosen),
            "stops_by_point": dict(sorted(points.items())),
            "finished_same": sum(r.finished and r.same_result for r in chosen),
            "calls_repeated": sum(r.calls_repeated for r in chosen),
            "calls_in_flight_resent": sum(min(r.extra_requests, r.calls_in_flight) for r in chosen),
            "tools_repeated": sum(r.tools_repeated for r in chosen),
            "memory_duplicated": sum(r.memory_duplicated for r in chosen),
            "memory_lost": sum(r.memory_lost for r in chosen),
            "databases_checked": sum(r.databases_checked for r in chosen),
            "databases_broken": sum(r.databases_broken for r in chosen),
            "clear_stops": sum(r.clear_stops for r in chosen),
            "stops_checked": sum(r.stops for r in chosen),
            "by_workload": {
                name: {
                    "runs": sum(r.workload == name for r in chosen),
                    "stops": sum(r.kills for r in chosen if r.workload == name),
                }
                for name in dict.fromkeys(r.workload for r in chosen)
            },
        }
    return by_mode


def show(report: dict[str, Any]) -> str:
    lines = []
    for mode, f in report["figures"].items():
        lines += [
            f"{mode}: {f['stops']} stops over {f['runs']} runs",
            f"  finished with the same result: {f['finished_same']}/{f['runs']}",
            f"  model calls repeated beyond the one in flight: {f['calls_repeated']} "
            f"(in flight, sent again: {f['calls_in_flight_resent']})",
            f"  tool calls repeated beyond the one in flight: {f['tools_repeated']}",
            f"  memory entries duplicated / lost: {f['memory_duplicated']} / {f['memory_lost']}",
            f"  databases failing to open after a stop: {f['databases_broken']}"
            f"/{f['databases_checked']}",
        ]
        if f["stops_checked"]:
            lines.append(f"  stops with a clear message: {f['clear_stops']}/{f['stops_checked']}")
        lines.append("  stops by point: " + ", ".join(
            f"{point} {count}" for point, count in f["stops_by_point"].items()))  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs per workload")
    parser.add_argument("--sigint-runs", type=int, default=5, help="SIGINT runs per workload")
    parser.add_argument("--disk-full-runs", type=int, default=5, help="per workload")
    parser.add_argument("--workloads", help="comma-separated (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the figures and every run here")
    args = parser.parse_args(argv)
    modes = {"SIGINT": args.sigint_runs, "disk full": args.disk_full_runs}
    with tempfile.TemporaryDirectory(prefix="agentrun-soak-") as scratch:
        report = soak(pick(args.workloads), args.kills, modes, Path(scratch), args.seed,
                      log=sys.stderr)  # fmt: skip
    print(show(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
