"""Batch throughput in-process and on Ray, Ray's overhead per item, and calls repeated after a
worker is killed, against the fake model server with 200 ms latency.

Every configuration runs the same batch of `--items` items (one model call each) through
`agentrun batch`'s code path (`arun_batch`), cache off, checkpoints in a throw-away PostgreSQL
(Debian's server, as the tests start it), memory in-process:

- in-process at concurrency 1, 8 and 64 (the fake server in its own process), against the
  latency-bound ideal `concurrency / 0.2 s`;
- on a local Ray cluster of 1 and then 2 nodes (separate `ray start` processes) at concurrency 64,
  items/s with and without the per-batch start-up (connecting, starting the runner actors);
- Ray's overhead per item: the median item's time one at a time on Ray (handed to a runner
  until its outcome is back, `--overhead-items` of them) less the median item's time one at a
  time in-process; and, on Ray, the median time outside the runner (handed over until back, less
  the item's own time inside it; at concurrency 64 that is mostly items waiting for a CPU);
- a worker killed part way (2 nodes, two calls an item): the model calls sent beyond one per
  call, and how many of them repeated a call that had been answered before the kill. The fake
  server stops answering for half a second before the kill, so every answer sent before it has
  had time to be checkpointed (a call in flight at the kill is not an answered one).

Writes a JSON report and a PNG bar chart:

    nice -n 19 .venv/bin/python benchmarks/batch_scaling.py --out docs/scale-out.json \
        --plot docs/scale-out.png [--items 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentrun.agents.fake_server import FakeOpenAIServer  # noqa: E402
from agentrun.agents.local import free_port  # noqa: E402
from agentrun.pipeline import Pipeline  # noqa: E402
from agentrun.pipeline.batch import BatchOptions, BatchRun, arun_batch, batch_items  # noqa: E402
from agentrun.pipeline.batch_output import ItemOutcome  # noqa: E402
from tests.batching import TWO_CALLS, KillAt, repeated_completed_calls  # noqa: E402
from tests.services import PostgresServer, RayCluster  # noqa: E402

LATENCY_S = 0.2
PIPELINE = """version: agentrun/v1
name: bench
models:
  default: {{model: openai/fake, api_base: '{url}', api_key_env: BENCH_KEY,
             max_concurrency: 256, context_window: 4096}}
memory: {{backend: memory}}
inputs:
  question: {{type: string}}
"""
ONE_CALL = """nodes:
  - id: answer
    agent: {prompt: "Answer: {{ inputs.question }}", max_tokens: 16}
outputs:
  answer: "{{ state.answer }}"
"""


def start_server(latency_s: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "agentrun.agents.fake_server", "--port", str(port),
               "--latency-s", str(latency_s)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=_env())
    assert process.stdout is not None
    return process, process.stdout.readline().decode().strip()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_KEY": "none"}


def pipeline_at(folder: Path, url: str, body: str) -> Pipeline:
    path = folder / f"bench-{abs(hash((url, body)))}.yaml"
    nodes = body.replace("inputs:\n  question: {type: string}\n", "").lstrip()
    path.write_text(PIPELINE.format(url=url) + nodes, encoding="utf-8")
    return Pipeline.load(path)


def items(count: int, phase: str) -> list[dict[str, str]]:
    """Items of their own for each phase (the checkpoint database outlives phases, and an item
    already done there would be read back, not run)."""
    return [{"id": f"{phase}-{n}", "question": f"question {n}"} for n in range(count)]


class Timing:
    """When the batch started, and each outcome as it came."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.outcomes: list[tuple[float, ItemOutcome]] = []

    def __call__(self, outcome: ItemOutcome) -> None:
        self.outcomes.append((time.perf_counter(), outcome))

    def startup_s(self) -> float:
        """Time to the first outcome less that item's own time: the executor's start-up."""
        first_at, first = self.outcomes[0]
        return max(0.0, first_at - self.started - first.seconds)


async def run(
    pipeline: Pipeline, phase: str, count: int, concurrency: int, data_dir: Path,
    ray: str | None = None, on_outcome: Callable[[ItemOutcome], None] | None = None,
) -> tuple[float, Timing]:  # fmt: skip
    run = BatchRun(
        pipeline, batch_items(pipeline, items(count, phase), "id"), None, concurrency, False,
        BatchOptions(cache=False), ray, data_dir,
    )  # fmt: skip
    timing = Timing()

    def seen(outcome: ItemOutcome) -> None:
        timing(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    summary = await arun_batch(run, on_outcome=seen)
    if summary.failed:
        errors = {o.error for o in summary.outcomes if o.error}
        raise RuntimeError(f"{summary.failed} items failed: {sorted(errors)[:3]}")
    return summary.seconds, timing


def outside_runner_s(timing: Timing) -> float:
    """Median time an item spent between the driver and its runner: handed over until back,
    less its own time inside the runner."""
    return statistics.median(o.driver_s - o.seconds for _, o in timing.outcomes)  # type: ignore[attr-defined]


def measure_dispatch() -> None:
    """Record, on every Ray outcome, the time from handing the item over to getting it back."""
    from agentrun.scale.ray_batch import RayPool

    original = RayPool._run

    async def timed(ray: Any, runner: Any, job: Any) -> Any:
        started = time.perf_counter()
        result = await original(ray, runner, job)
        result.driver_s = time.perf_counter() - started
        return result

    RayPool._run = staticmethod(timed)  # type: ignore[method-assign]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="agentrun-bench-"))
    data_dir = folder / "data"
    os.environ.update({"BENCH_KEY": "none", "AGENTRUN_DATA_DIR": str(data_dir)})
    postgres = PostgresServer().init()
    os.environ["AGENTRUN_CHECKPOINT_URL"] = postgres.url
    server, url = start_server(LATENCY_S)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
        f"load average {os.getloadavg()[0]:.1f} at start",
        "items": args.items, "latency_s": LATENCY_S, "in_process": {}, "ray": {},
    }  # fmt: skip
    measure_dispatch()
    cluster: RayCluster | None = None
    try:
        pipeline = pipeline_at(folder, url, ONE_CALL)
        await run(pipeline, "warm", 16, 8, data_dir)  # imports, the first connections
        for concurrency in (1, 8, 64):
            seconds, timing = await run(
                pipeline, f"c{concurrency}", args.items, concurrency, data_dir
            )
            if concurrency == 1:  # the median item, as on Ray below (the first one imports)
                local_item_s = statistics.median(o.seconds for _, o in timing.outcomes)
            ideal = concurrency / LATENCY_S
            rate = args.items / seconds
            report["in_process"][str(concurrency)] = {
                "seconds": round(seconds, 2), "items_per_s": round(rate, 1),
                "ideal_items_per_s": ideal, "of_ideal": round(rate / ideal, 3),
            }  # fmt: skip
            print(f"in-process c={concurrency}: {rate:.1f} items/s ({rate / ideal:.0%} of ideal)")
        cluster = RayCluster(folder / "ray", env={"BENCH_KEY": "none"}, cpus=2)
        (folder / "ray").mkdir()
        for nodes in (1, 2):
            if nodes == 1:
                cluster.start(nodes=1)
            else:
                cluster.start_second()
            address = cluster.address
            seconds, timing = await run(pipeline, f"ray{nodes}", args.items, 64, data_dir, address)
            startup = timing.startup_s()
            _, alone = await run(pipeline, f"ray{nodes}-c1", args.overhead_items, 1, data_dir,
                                 address)  # fmt: skip
            on_ray = statistics.median(o.driver_s for _, o in alone.outcomes)  # type: ignore[attr-defined]
            report["ray"][str(nodes)] = {
                "seconds": round(seconds, 2), "items_per_s": round(args.items / seconds, 1),
                "startup_s": round(startup, 2),
                "items_per_s_after_startup": round(args.items / (seconds - startup), 1),
                "item_s_at_1": round(on_ray, 4),
                "overhead_ms_per_item": round(1000 * (on_ray - local_item_s), 1),
                "outside_runner_ms_at_1": round(1000 * outside_runner_s(alone), 1),
                "outside_runner_ms_at_64": round(1000 * outside_runner_s(timing), 1),
            }  # fmt: skip
            print(f"ray {nodes} node(s): {report['ray'][str(nodes)]}")
        report["kill"] = await kill_phase(folder, data_dir, cluster, args.items)
        print(f"worker killed: {report['kill']}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        try:
            if cluster is not None:
                cluster.stop()
        finally:
            postgres.remove()
    return report


async def kill_phase(
    folder: Path, data_dir: Path, cluster: RayCluster, count: int
) -> dict[str, Any]:
    """Two calls an item on 2 nodes; a runner killed when a third of the calls are answered."""

    def kill_a_runner() -> None:
        os.kill(cluster.processes("ray::Runner")[0], signal.SIGKILL)

    kill = KillAt(count * 2 // 3, kill_a_runner)
    with FakeOpenAIServer(reply=kill, latency_s=LATENCY_S) as server:
        pipeline = pipeline_at(folder, server.url, TWO_CALLS)
        seconds, _ = await run(pipeline, "kill", count, 64, data_dir, cluster.address)
        sent = len(server.chat_requests())
    return {
        "seconds": round(seconds, 2),
        "calls_needed": 2 * count,
        "calls_sent": sent,
        "extra_calls": sent - 2 * count,
        "repeated_answered_calls": len(repeated_completed_calls(server, kill.before_kill)),
    }


def plot(report: dict[str, Any], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels, rates, ideals = [], [], []
    for concurrency, row in report["in_process"].items():
        labels.append(f"in-process\nc={concurrency}")
        rates.append(row["items_per_s"])
        ideals.append(row["ideal_items_per_s"])
    for nodes, row in report["ray"].items():
        labels.append(f"Ray {nodes} node{'s' if nodes != '1' else ''}\nc=64")
        rates.append(row["items_per_s_after_startup"])
        ideals.append(64 / report["latency_s"])
    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    positions = range(len(labels))
    axes.bar(positions, rates, color="tab:blue", label="measured")
    axes.scatter(positions, ideals, color="tab:red", marker="_", s=900, label="latency-bound ideal")
    axes.set_xticks(list(positions), labels)
    axes.set_yscale("log")
    axes.set_ylabel("items per second (log)")
    axes.set_title(f"{report['items']} items, one call each, {report['latency_s'] * 1000:.0f} ms "
                   "model latency")  # fmt: skip
    axes.legend()
    for position, rate in zip(positions, rates, strict=True):
        axes.annotate(f"{rate:g}", (position, rate), ha="center", va="bottom", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, format="png")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the services on SIGTERM
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument(
        "--overhead-items", type=int, default=100, help="items run one at a time on Ray"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    parser.add_argument("--plot", type=Path, default=None, help="write the PNG chart here")
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    text = json.dumps(result, indent=2)
    print(text)
    if arguments.out is not None:
        arguments.out.write_text(text + "\n", encoding="utf-8")
    if arguments.plot is not None:
        plot(result, arguments.plot)
