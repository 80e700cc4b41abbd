"""Chaos: every workload run against a fake provider that fails a share of requests at random.

Each round runs every workload (`benchmarks/workloads.py`) twice on the fake OpenAI server with
the same scripted replies: once fault-free, the reference, and once with `--rate` of the
requests (30% by default) answered by a fault drawn at random: 429 with and without
Retry-After, 500, 503, a reset connection, a reply slower than the time-out, truncated JSON, an
empty body, and a body that is not a chat completion. Rounds alternate streamed and plain calls.
A run counts as identical when its outputs and token totals equal the reference's.

Faults that cannot succeed (a rejected key, an unknown model, a prompt over the window) are
run through the CLI, each on every request: they must fail at once, without a retry, with
exit code 3 and an error line that names the fix.

    .venv/bin/python benchmarks/chaos.py [--rounds 20] [--rate 0.3] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentrun.agents import Gateway, RetryPolicy
from agentrun.agents.fake_server import (
    Action,
    FakeDisconnect,
    FakeError,
    FakeHang,
    FakeMalformed,
    FakeOpenAIServer,
)
from agentrun.pipeline import Pipeline
from benchmarks.workloads import Workload, pick

#: Time-out of each model call in the chaos runs; a hanging reply waits past it.
TIMEOUT_S = 1.0
#: Retry-After of the 429s that send one.
RETRY_AFTER_S = 0.5
#: Retries for a 30% fault rate: a call fails for good with probability 0.3**10 (6e-6).
POLICY = RetryPolicy(max_attempts=10, initial_backoff_s=0.05, max_backoff_s=1.0, jitter_s=0.05)

FAULTS: dict[str, Action] = {
    "429": FakeError(429, message="rate limited"),
    "429 Retry-After": FakeError(429, retry_after=RETRY_AFTER_S, message="rate limited"),
    "500": FakeError(500, message="internal error"),
    "503": FakeError(503, message="overloaded"),
    "connection reset": FakeDisconnect(),
    "time-out": FakeHang(seconds=TIMEOUT_S * 5),
    "truncated JSON": FakeMalformed('{"id": "x", "choices": [{"index": 0, "message": {"con'),
    "empty body": FakeMalformed(""),
    "wrong schema": FakeMalformed('{"object": "list", "data": [{"id": "fake"}]}'),
}

#: Faults that no retry can cure: the CLI must stop at once, with the fix.
FATAL: dict[str, tuple[FakeError | None, dict[str, str], str]] = {
    "401 rejected key": (
        FakeError(401, message="Incorrect API key provided"), {}, "check the API key"),
    "404 unknown model": (
        FakeError(404, message="The model `fake` does not exist"), {}, "check its name"),
    "unroutable model name": (
        None, {"models.default.model": "nosuchprovider-x"}, "use provider/model"),
    "context too long": (
        FakeError(400, message="This model's maximum context length is 8192 tokens. However, "
                  "your messages resulted in 9100 tokens."), {}, "shorten the input"),
}  # fmt: skip


@dataclass
class RunOutcome:
    workload: str
    finished: bool
    identical: bool
    requests: int
    faults: dict[str, int]
    seconds: float
    #: Per fault kind, the seconds from each faulty reply's request to the request that
    #: asked again.
    lost: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Reference:
    outputs: dict[str, Any]
    usage: tuple[int, int, int]
    requests: int
    seconds: float


@dataclass
class FatalOutcome:
    fault: str
    exit_code: int
    requests: int
    seconds: float
    names_fix: bool
    error_line: str


@dataclass
class ChaosReport:
    rounds: int
    rate: float
    policy: dict[str, Any]
    timeout_s: float
    runs: list[RunOutcome] = field(default_factory=list)
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    fatal: list[FatalOutcome] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        faults = Counter[str]()
        for run in self.runs:
            faults.update(run.faults)
        served = sum(faults.values())
        extra = sum(r.requests - self.references[r.workload]["requests"] for r in self.runs)
        lost = sum(r.seconds - self.references[r.workload]["seconds"] for r in self.runs)
        waits: dict[str, list[float]] = {}
        for run in self.runs:
            for kind, seconds in run.lost.items():
                waits.setdefault(kind, []).extend(seconds)
        per_fault = [second for seconds in waits.values() for second in seconds]
        finished = sum(r.finished for r in self.runs)
        identical = sum(r.identical for r in self.runs)
        return {
            "runs": len(self.runs),
            "finished": finished,
            "identical": identical,
            "finished_pct": 100 * finished / max(1, len(self.runs)),
            "identical_pct": 100 * identical / max(1, len(self.runs)),
            "faults": served,
            "faults_by_kind": dict(sorted(faults.items())),
            "extra_requests_per_fault": extra / served if served else 0.0,
            "wall_seconds_lost": lost,
            "seconds_lost_per_fault": statistics.mean(per_fault) if per_fault else 0.0,
            "seconds_lost_by_kind": {
                kind: statistics.median(seconds) for kind, seconds in sorted(waits.items())
            },
            "fatal_without_retry": sum(f.requests <= 1 and f.exit_code == 3 for f in self.fatal),
            "fatal_naming_fix": sum(f.names_fix for f in self.fatal),
            "fatal": len(self.fatal),
            "fatal_max_seconds": max((f.seconds for f in self.fatal), default=0.0),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": "chaos",
            "settings": {"rounds": self.rounds, "rate": self.rate, "policy": self.policy,
                         "timeout_s": self.timeout_s, "retry_after_s": RETRY_AFTER_S,
                         "faults": list(FAULTS)},
            "figures": self.figures(),
            "references": self.references,
            "runs": [asdict(r) for r in self.runs],
            "fatal": [asdict(f) for f in self.fatal],
        }  # fmt: skip


# --- one run ------------------------------------------------------------------------------------


async def run_workload(
    work: Workload, server: FakeOpenAIServer, data_dir: Path, *, stream: bool
) -> tuple[dict[str, Any], tuple[int, int, int], float]:
    """Run `work` on the server as the SDK runs a pipeline (cache off): outputs, token totals
    (calls, prompt, completion) and seconds."""
    pipeline = Pipeline.load(work.spec, work.settings(server.url, TIMEOUT_S))
    config = pipeline.gateway_config().model_copy(update={"retry": POLICY})
    started = time.perf_counter()
    async with Gateway(config, data_dir=data_dir, cache=False) as gateway:
        result = await pipeline.arun(
            work.input_values(), gateway=gateway, data_dir=data_dir, cache=False,
            stream_text=stream,
        )  # fmt: skip
    usage = result.usage
    totals = (
        int(usage.get("model_calls", 0)),
        int(usage.get("prompt_tokens", 0)),
        int(usage.get("completion_tokens", 0)),
    )
    return result.outputs, totals, time.perf_counter() - started


async def reference(work: Workload, scratch: Path, repeats: int = 2) -> Reference:
    """The fault-free run; its time is the fastest of `repeats` (the first pays for warming
    up)."""
    runs = []
    for attempt in range(repeats):
        with FakeOpenAIServer(reply=work.reply()) as server:
            outputs, usage, seconds = await run_workload(
                work, server, scratch / f"{work.name}-ref{attempt}", stream=False
            )
            runs.append(Reference(outputs, usage, len(server.chat_requests()), seconds))
    return min(runs, key=lambda ref: ref.seconds)


async def disturbed(
    work: Workload, ref: Reference, scratch: Path, rate: float, seed: int
) -> RunOutcome:
    faults = list(FAULTS.values())
    with FakeOpenAIServer(reply=work.reply(), faults=faults, fault_rate=rate, seed=seed) as server:
        folder = scratch / f"{work.name}-{seed}"
        started = time.perf_counter()
        try:
            outputs, usage, seconds = await run_workload(
                work, server, folder, stream=seed // 100 % 2 == 0
            )
        except Exception as exc:
            outputs, usage, seconds = {}, (0, 0, 0), time.perf_counter() - started
            error: str | None = f"{type(exc).__name__}: {exc}"
        else:
            error = None
        names = {action: name for name, action in FAULTS.items()}
        served = Counter(names[action] for action in server.served if action in names)
        lost = seconds_lost(server, names)
        return RunOutcome(
            workload=work.name, finished=error is None,
            identical=error is None and outputs == ref.outputs and usage == ref.usage,
            requests=len(server.chat_requests()), faults=dict(served), seconds=seconds,
            lost=lost, error=error,
        )  # fmt: skip


def seconds_lost(server: FakeOpenAIServer, names: dict[Action, str]) -> dict[str, list[float]]:
    """For each fault served, the time until the same request came again (its retry)."""
    requests = server.chat_requests()
    lost: dict[str, list[float]] = {}
    for index, action in enumerate(server.served):
        if action not in names or index >= len(requests):
            continue
        again = next(
            (later for later in requests[index + 1 :]
             if later.body.get("messages") == requests[index].body.get("messages")),
            None,
        )  # fmt: skip
        if again is not None:
            lost.setdefault(names[action], []).append(again.at - requests[index].at)
    return lost


# --- faults that cannot succeed -----------------------------------------------------------------


def fatal_run(name: str, scratch: Path) -> FatalOutcome:
    """The CLI on a provider that always answers with `name`'s fault."""
    from agentrun.cli import run as cli
    from benchmarks.workloads import workload

    fault, overrides, fix = FATAL[name]
    work = workload("research-brief")
    with FakeOpenAIServer(reply=work.reply()) as server:
        if fault is not None:
            server.script([fault] * 20)
        settings = {**work.settings(server.url, TIMEOUT_S), **overrides}
        args = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
        err = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli(["--data-dir", str(scratch / "fatal"), "run", str(work.spec), *args,
                        "--no-stream"])  # fmt: skip
        seconds = time.perf_counter() - started
        lines = [line for line in err.getvalue().splitlines() if line.startswith("error:")]
        line = lines[0] if lines else err.getvalue().strip()[:300]
        return FatalOutcome(
            fault=name, exit_code=code, requests=len(server.chat_requests()), seconds=seconds,
            names_fix=fix in " ".join(line.split()), error_line=line,
        )  # fmt: skip


# --- the benchmark ------------------------------------------------------------------------------


async def chaos(
    workloads: list[Workload],
    rounds: int,
    rate: float,
    scratch: Path,
    log: Any = None,
    repeats: int = 2,
) -> ChaosReport:
    report = ChaosReport(rounds, rate, POLICY.model_dump(), TIMEOUT_S)
    refs = {}
    for work in workloads:
        refs[work.name] = await reference(work, scratch, repeats)
        report.references[work.name] = {
            "requests": refs[work.name].requests, "seconds": refs[work.name].seconds,
        }  # fmt: skip
    for round_ in range(rounds):
        for index, work in enumerate(workloads):
            seed = round_ * 100 + index
            outcome = await disturbed(work, refs[work.name], scratch, rate, seed)
            report.runs.append(outcome)
            if log is not None:
                faults = sum(outcome.faults.values())
                state = "identical" if outcome.identical else outcome.error or "DIFFERENT"
                print(f"round {round_} {work.name}: {faults} faults, {outcome.requests} requests, "
                      f"{outcome.seconds:.1f} s, {state}", file=log, flush=True)  # fmt: skip
    for name in FATAL:
        report.fatal.append(fatal_run(name, scratch))
    return report


def show(report: ChaosReport) -> str:
    f = report.figures()
    lines = [
        f"chaos: {f['runs']} runs, {f['faults']} faults served at a {report.rate:.0%} rate",
        f"  runs finished: {f['finished']}/{f['runs']} ({f['finished_pct']:.1f}%)",
        f"  identical to the fault-free run: {f['identical']}/{f['runs']} "
        f"({f['identical_pct']:.1f}%)",
        f"  extra requests per fault: {f['extra_requests_per_fault']:.2f}",
        f"  time lost per fault (to the request that asked again): "
        f"{f['seconds_lost_per_fault']:.2f} s on average; whole runs: "
        f"{f['wall_seconds_lost']:.1f} s over the fault-free runs",
        f"  faults that cannot succeed: {f['fatal_without_retry']}/{f['fatal']} failed at once "
        f"(exit 3, at most one request), {f['fatal_naming_fix']}/{f['fatal']} name the fix, "
        f"slowest {f['fatal_max_seconds']:.1f} s",
    ]
    for kind, count in f["faults_by_kind"].items():
        wait = f["seconds_lost_by_kind"].get(kind, 0.0)
        lines.append(f"    {kind}: {count} served, {wait:.2f} s lost each (median)")
    for fatal in report.fatal:
        lines.append(f"    {fatal.fault}: exit {fatal.exit_code}, {fatal.requests} requests: "
                     f"{fatal.error_line}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--workloads", help="comma-separated (default: all)")
    parser.add_argument("--json", type=Path, help="write the figures and every run here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="agentrun-chaos-") as scratch:
        report = asyncio.run(
            chaos(pick(args.workloads), args.rounds, args.rate, Path(scratch), log=sys.stderr)
        )
    print(show(report))
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
