"""Batches in one process: every item once, bounded concurrency, keys, failures, resuming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.errors import ConfigError, UsageError
from agentrun.pipeline import Pipeline
from agentrun.pipeline.batch import BatchStoppedError
from tests.batching import (
    TWO_CALLS,
    answer_of,
    fake_models,
    kill_and_run_again,
    lines,
    repeated_completed_calls,
    write_items,
    write_pipeline,
)


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test")


def test_every_item_runs_once_with_bounded_concurrency(tmp_path: Path, data_dir: Path) -> None:
    with FakeOpenAIServer(reply=answer_of, latency_s=0.1) as server:
        pipeline = Pipeline.load(write_pipeline(tmp_path, fake_models(server)))
        summary = pipeline.batch(
            write_items(tmp_path, 12), out=tmp_path / "out.jsonl", key="id", concurrency=3
        )
        assert server.max_in_flight == 3
    written = lines(tmp_path / "out.jsonl")
    assert sorted(row["key"] for row in written) == sorted(f"i{n}" for n in range(1, 13))
    assert {row["status"] for row in written} == {"done"}
    assert all(row["outputs"]["answer"] == f"A:q{row['key'][1:]}" for row in written)
    assert (summary.done, summary.failed, summary.skipped) == (12, 0, 0)
    assert [o.key for o in summary.outcomes] == [f"i{n}" for n in range(1, 13)]  # input order
    assert summary.prompt_tokens > 0 and all(o.usage["model_calls"] == 1 for o in summary.outcomes)


def test_a_models_limits_hold_across_the_batch(tmp_path: Path, data_dir: Path) -> None:
    """Each item has its own gateway; they share one limiter, so the model's cap holds for all."""
    with FakeOpenAIServer(latency_s=0.1) as server:
        models = fake_models(server, max_concurrency=2)
        pipeline = Pipeline.load(write_pipeline(tmp_path, models))
        pipeline.batch(write_items(tmp_path, 10), key="id", concurrency=8)
        assert len(server.chat_requests()) == 10
        assert server.max_in_flight == 2


def test_running_again_skips_done_items_and_retries_failed_ones(
    tmp_path: Path, data_dir: Path
) -> None:
    path = write_pipeline(tmp_path, "models:\n  default: {model: fake/t}\n")
    items, out = write_items(tmp_path, 6), tmp_path / "out.jsonl"
    broken = {"q2", "q5"}

    def reply(messages: list[dict[str, Any]]) -> str:
        question = str(messages[-1]["content"]).removeprefix("Answer: ")
        if question in broken:
            raise ValueError(f"no answer to {question}")
        return "A:" + question

    with scripted_model(reply) as fake:
        first = Pipeline.load(path).batch(items, out=out, key="id", concurrency=4)
        assert (first.done, first.failed) == (4, 2)
        failed = {o.key: o for o in first.outcomes if o.status == "failed"}
        assert set(failed) == {"i2", "i5"}
        assert "no answer to q2" in (failed["i2"].error or "") and failed["i2"].exit_code == 1
        assert len(fake.calls) == 6
        broken.clear()
        second = Pipeline.load(path).batch(items, out=out, key="id", concurrency=4)
        assert len(fake.calls) == 8  # only the two failed items were run again
    assert (second.skipped, second.done, second.failed) == (4, 2, 0)
    written = lines(out)
    assert sorted(row["key"] for row in written) == [f"i{n}" for n in range(1, 7)]  # each once
    assert {row["status"] for row in written} == {"done"}


def test_fail_fast_stops_at_the_first_failure(tmp_path: Path, data_dir: Path) -> None:
    path = write_pipeline(tmp_path, "models:\n  default: {model: fake/t}\n")

    def reply(messages: list[dict[str, Any]]) -> str:
        if "q1" in str(messages[-1]["content"]):
            raise ValueError("broken item")
        return "fine"

    with scripted_model(reply), pytest.raises(BatchStoppedError, match=r"item i1 \(line 1\)"):
        Pipeline.load(path).batch(
            write_items(tmp_path, 30), out=tmp_path / "out.jsonl", key="id", concurrency=1,
            fail_fast=True,
        )  # fmt: skip
    assert [row["key"] for row in lines(tmp_path / "out.jsonl")] == ["i1"]


def test_items_without_a_key_are_named_by_their_content(tmp_path: Path, data_dir: Path) -> None:
    path = write_pipeline(tmp_path, "models:\n  default: {model: fake/t}\n")
    items = [{"question": "q1"}, {"question": "q2"}]
    with scripted_model(lambda m: "ok") as fake:
        first = Pipeline.load(path).batch(items, out=tmp_path / "out.jsonl")
        again = Pipeline.load(path).batch(items[::-1], out=tmp_path / "out.jsonl")
        assert len(fake.calls) == 2
    assert again.skipped == 2
    assert {o.thread_id for o in first.outcomes} == {o.thread_id for o in again.outcomes}
    changed = Pipeline.load(path, {"nodes.0.agent.prompt": "'Say: {{ inputs.question }}'"})
    with scripted_model(lambda m: "ok"):
        other = changed.batch(items)
    # a changed pipeline runs its items on threads of its own
    assert not {o.thread_id for o in other.outcomes} & {o.thread_id for o in first.outcomes}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "question": "q"}\n{"id": "a", "question": "r"}\n',
         r"items.jsonl:2: key 'a' is also on line 1"),
        ('{"id": "a", "question": "q"}\nnot json\n', r"items.jsonl:2: not valid JSON"),
        ('["q"]\n', r"items.jsonl:1: each line must be a JSON object"),
        ('{"id": "a"}\n', r"items.jsonl:1: missing input 'question' .*add 'question' to the item"),
        ('{"id": "a", "question": "q", "extra": 1}\n', r"items.jsonl:1: unknown input 'extra'"),
        ('{"question": "q"}\n', r"items.jsonl:1: no 'id' to key the item by"),
    ],
)  # fmt: skip
def test_bad_items_stop_the_batch_before_any_runs(
    tmp_path: Path, content: str, message: str
) -> None:
    path = write_pipeline(tmp_path, "models:\n  default: {model: fake/t}\n")
    (tmp_path / "items.jsonl").write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        Pipeline.load(path).batch(tmp_path / "items.jsonl", key="id")


def test_a_pipeline_on_a_replies_file_runs_as_a_batch(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "replies.yaml").write_text("- reply: fine\n", encoding="utf-8")
    models = "models:\n  default: {model: fake/t, replies: replies.yaml}\n"
    pipeline = Pipeline.load(write_pipeline(tmp_path, models))
    summary = pipeline.batch(write_items(tmp_path, 24), key="id", concurrency=8)
    assert [o.error for o in summary.outcomes if o.error] == []
    assert summary.done == 24


def test_the_command_reports_and_exits_by_outcome(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_pipeline(tmp_path, "models:\n  default: {model: fake/t}\n")
    items, out = write_items(tmp_path, 3), tmp_path / "out.jsonl"
    argv = ["batch", str(path), "--inputs", str(items), "--out", str(out), "--key", "id"]

    def reply(messages: list[dict[str, Any]]) -> str:
        if "q3" in str(messages[-1]["content"]):
            raise ValueError("q3 cannot be answered")
        return "fine"

    with scripted_model(reply):
        assert cli(argv) == 1
    shown = capsys.readouterr()
    assert "3 items: 2 done, 0 already done, 1 failed" in shown.out
    assert "failed: line 3 (i3" in shown.err and "q3 cannot be answered" in shown.err
    with scripted_model(lambda m: "fine"):
        assert cli(argv) == 0
    assert "3 items: 1 done, 2 already done, 0 failed" in capsys.readouterr().out
    (tmp_path / "bad.jsonl").write_text("{", encoding="utf-8")
    assert cli(["batch", str(path), "-i", str(tmp_path / "bad.jsonl"), "-o", str(out)]) == 2


def test_a_killed_batch_goes_on_where_it_stopped(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(latency_s=0.1) as server:
        path = write_pipeline(tmp_path, fake_models(server), TWO_CALLS)
        items, out = write_items(tmp_path, 16), tmp_path / "out.jsonl"
        args = [str(path), "-i", str(items), "-o", str(out), "--key", "id", "--concurrency", "4",
                "--no-cache"]  # fmt: skip
        kill, done_before = kill_and_run_again(server, args, out, 14)
        assert 0 < done_before < 16
    written = lines(out)
    assert sorted(row["key"] for row in written) == sorted(f"i{n}" for n in range(1, 17))
    assert all(row["outputs"]["answer"] == f"A:A:q{row['key'][1:]}" for row in written)
    assert repeated_completed_calls(server, kill.before_kill) == []
    assert len(server.chat_requests()) <= 32 + 4  # at most the calls in flight were sent again


def test_ray_refuses_state_that_stays_on_one_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTRUN_CHECKPOINT_URL", raising=False)
    path = write_pipeline(tmp_path, "models:\n  default: {model: fake/t}\n")
    with pytest.raises(ConfigError, match=r"--ray needs checkpoints every node reaches"):
        Pipeline.load(path).batch([{"question": "q"}], ray="127.0.0.1:1")
    monkeypatch.setenv("AGENTRUN_CHECKPOINT_URL", "postgresql://db.example/agentrun")
    embedded = Pipeline.load(path, {"memory.backend": "chroma"})
    with pytest.raises(ConfigError, match=r"--ray needs a memory store every node reaches"):
        embedded.batch([{"question": "q"}], ray="127.0.0.1:1")
