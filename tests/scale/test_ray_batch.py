"""Batches on a two-node local Ray cluster, with Postgres checkpoints: every item once, limits
held cluster-wide, and no completed model call repeated when a worker or a node is lost."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.pipeline import Pipeline
from tests.batching import (
    TWO_CALLS,
    KillAt,
    fake_models,
    kill_and_run_again,
    lines,
    repeated_completed_calls,
    write_items,
    write_pipeline,
)
from tests.services import RayCluster

pytestmark = [pytest.mark.server, pytest.mark.ray]


@pytest.fixture(autouse=True)
def _shared_state(monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    monkeypatch.setenv("AGENTRUN_CHECKPOINT_URL", postgres_url)


def check_every_item_once(out: Path, count: int) -> list[dict[str, object]]:
    written = lines(out)
    assert sorted(str(row["key"]) for row in written) == sorted(
        f"i{n}" for n in range(1, count + 1)
    )
    assert {row["status"] for row in written} == {"done"}, [row["error"] for row in written]
    for row in written:
        assert row["outputs"] == {"answer": f"A:A:q{str(row['key'])[1:]}"}
    return written


def test_a_worker_killed_mid_batch_loses_no_item_and_repeats_no_call(
    ray_cluster: RayCluster, tmp_path: Path, data_dir: Path
) -> None:
    def kill_a_runner() -> None:
        runners = ray_cluster.processes("ray::Runner")
        assert len(runners) == 2, runners  # one a node
        os.kill(runners[0], signal.SIGKILL)

    kill = KillAt(20, kill_a_runner)
    with FakeOpenAIServer(reply=kill, latency_s=0.1) as server:
        models = fake_models(server, max_concurrency=3, timeout_s=30)
        pipeline = Pipeline.load(write_pipeline(tmp_path, models, TWO_CALLS))
        out = tmp_path / "out.jsonl"
        summary = pipeline.batch(
            write_items(tmp_path, 24), out=out, key="id", concurrency=8, ray=ray_cluster.address,
            cache=False,
        )  # fmt: skip
        assert kill.before_kill, "the worker was never killed"
        assert server.max_in_flight == 3  # the model's cap, held for the whole cluster
    assert (summary.done, summary.failed) == (24, 0)
    written = check_every_item_once(out, 24)
    assert repeated_completed_calls(server, kill.before_kill) == []
    assert len({row["worker"] for row in written}) >= 3  # two nodes, and the restarted runner
    # each item's usage counts its two calls once, however often it was started
    assert {row["usage"]["model_calls"] for row in written} == {2}  # type: ignore[index]


def test_requests_per_minute_hold_for_the_whole_cluster(
    ray_cluster: RayCluster, tmp_path: Path, data_dir: Path
) -> None:
    """rpm 40 lets a burst of 40 requests go, then one every 1.5 s: a limiter per worker (two
    here) would let all 43 go at once."""
    with FakeOpenAIServer(reply=lambda body: "A:A:" + "x", latency_s=0.0) as server:
        models = fake_models(server, rpm=40)
        pipeline = Pipeline.load(write_pipeline(tmp_path, models))
        pipeline.batch(write_items(tmp_path, 43), key="id", concurrency=16,
                       ray=ray_cluster.address, cache=False)  # fmt: skip
        times = sorted(request.at for request in server.chat_requests())
    assert len(times) == 43
    burst = [at for at in times if at - times[0] < 1.0]
    assert len(burst) <= 41, len(burst)
    assert times[-1] - times[0] >= 3.0  # the last three waited for the bucket to refill


def test_the_driver_killed_batch_resumes_from_its_output(
    ray_cluster: RayCluster, tmp_path: Path, data_dir: Path
) -> None:
    with FakeOpenAIServer(latency_s=0.1) as server:
        path = write_pipeline(tmp_path, fake_models(server), TWO_CALLS)
        out = tmp_path / "out.jsonl"
        args = [str(path), "-i", str(write_items(tmp_path, 20)), "-o", str(out), "--key", "id",
                "--concurrency", "4", "--no-cache", "--ray", ray_cluster.address]  # fmt: skip
        kill, _ = kill_and_run_again(server, args, out, 16)
    check_every_item_once(out, 20)
    assert repeated_completed_calls(server, kill.before_kill) == []


def test_a_node_lost_mid_batch_loses_no_item(
    ray_cluster: RayCluster, tmp_path: Path, data_dir: Path
) -> None:
    """Its runner is restarted on the head node and goes on from the Postgres checkpoints."""
    kill = KillAt(16, ray_cluster.kill_second)
    try:
        with FakeOpenAIServer(reply=kill, latency_s=0.1) as server:
            pipeline = Pipeline.load(write_pipeline(tmp_path, fake_models(server), TWO_CALLS))
            out = tmp_path / "out.jsonl"
            summary = pipeline.batch(
                write_items(tmp_path, 20), out=out, key="id", concurrency=8,
                ray=ray_cluster.address, cache=False,
            )  # fmt: skip
        assert kill.before_kill, "the node was never killed"
        assert (summary.done, summary.failed) == (20, 0)
        check_every_item_once(out, 20)
        assert repeated_completed_calls(server, kill.before_kill) == []
        sent = Counter(str(r.body["messages"][-1]["content"]) for r in server.chat_requests())
        assert sum(sent.values()) <= 40 + 8  # at most the calls in flight were sent again
    finally:
        ray_cluster.start_second()
