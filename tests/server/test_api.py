"""The HTTP API through `Client`, against a real server on loopback: runs started, streamed,
answered and fetched; events replayed to a late client; answers checked; runs cancelled."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.client import Client, ServerError
from agentrun.graphs.events import Interrupted, ModelCalled, NodeFinished, RunFinished
from agentrun.server.config import ServerSettings
from tests.server.conftest import ALICE, TOKENS, live_server, slow_pipeline


def test_a_run_is_started_streamed_answered_and_fetched(server_url: str) -> None:
    with Client(server_url, ALICE) as client:
        assert [p.name for p in client.pipelines()] == ["ask", "recall"]
        seen: list[object] = []
        waiting = client.run("ask", {"topic": "ports"}, on_event=seen.append)
        assert waiting.status == "waiting" and not waiting.active
        assert waiting.question is not None and waiting.question.node == "harbour"
        assert any(isinstance(e, NodeFinished) and e.node == "plan" for e in seen)
        assert isinstance(seen[-1], RunFinished) and seen[-1].status == "waiting"

        with pytest.raises(ServerError, match="is not one of") as refused:
            client.resume(waiting.id, answer="Atlantis")
        assert refused.value.status == 422
        assert client.get(waiting.id).status == "waiting"  # still resumable

        after: list[object] = []
        done = client.resume(waiting.id, answer="Wend", on_event=after.append)
        assert done.status == "done"
        assert done.outputs == {"brief": "Wend harbour was built in 1871."}
        assert not any(isinstance(e, NodeFinished) and e.node == "plan" for e in after)
        calls = [e for e in after if isinstance(e, ModelCalled)]
        assert [c.node for c in calls] == ["brief"]
        assert calls[0].messages[-1]["content"] == "Write the brief on Wend."
        assert calls[0].reply == "Wend harbour was built in 1871."

        replayed = list(client.stream(done.id))  # a late client sees the whole run
        assert [type(e) for e in replayed].count(RunFinished) == 2
        assert any(isinstance(e, Interrupted) for e in replayed)
        assert replayed[-1] == after[-1]
        assert [r.id for r in client.runs()] == [done.id]


def test_an_event_stream_goes_on_from_an_offset(server_url: str) -> None:
    with Client(server_url, ALICE) as client:
        run = client.run("ask")
        with httpx.stream(
            "GET",
            f"{server_url}/runs/{run.id}/events",
            headers={"Authorization": f"Bearer {ALICE}"},
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            text = "".join(response.iter_text())
        ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
        assert ids == sorted(ids) and len(ids) == len(list(client.stream(run.id)))
        rest = list(client.stream(run.id, after=ids[2]))
        assert len(rest) == len(ids) - 3
        assert "event: end" in text and '"status": "waiting"' in text


def test_bad_requests_say_what_is_wrong(server_url: str) -> None:
    with Client(server_url, ALICE) as client:
        with pytest.raises(ServerError, match="no pipeline named 'nope'") as missing:
            client.run("nope")
        assert missing.value.status == 404
        with pytest.raises(ServerError, match="unknown input 'colour'") as unknown:
            client.run("ask", {"colour": "red"})
        assert unknown.value.status == 422
        with pytest.raises(ServerError, match="one of them"):
            client.run()
        with pytest.raises(ServerError, match="unknown workflow 'chain-of-agent'"):
            client.run(workflow="chain-of-agent")
        done = client.run("ask")
        with pytest.raises(ServerError, match="waits for an answer") as unanswered:
            client.resume(done.id)
        assert unanswered.value.status == 422


def test_a_run_refused_in_the_background_says_why(server_url: str) -> None:
    with Client(server_url, ALICE) as client:
        failed = client.run("ask", max_input_tokens=1)
        assert failed.status == "failed" and not failed.active
        assert "over the limit of 1 input tokens" in (failed.error or "")
        assert list(client.stream(failed.id)) == []


def test_workflows_are_listed_and_run_by_name(server_url: str) -> None:
    from agentrun.agents.testing import scripted_model

    with Client(server_url, ALICE) as client:
        workflows = {w.name: w for w in client.workflows()}
        assert "chain-of-agents" in workflows
        assert "document" in workflows["chain-of-agents"].inputs["properties"]
        with scripted_model(["- The wall was built by the eleven families.", "the families"]):
            done = client.run(
                workflow="chain-of-agents",
                inputs={
                    "document": "The wall was built by the eleven families.",
                    "query": "Who built the wall?",
                },
                config={"model": "fake/t", "cu_format": "evidence"},
            )
    assert done.status == "done", done.error
    assert done.kind == "workflow" and done.name == "chain-of-agents"
    assert done.outputs == {"answer": "the families"}


def test_a_run_is_cancelled_and_resumed(served: Path, data_dir: Path) -> None:
    with FakeOpenAIServer(reply="noted", latency_s=0.4) as model:
        (served / "slow.yaml").write_text(slow_pipeline(model.url), encoding="utf-8")
        with (
            live_server(served, ServerSettings(data_dir=data_dir, tokens=TOKENS)) as url,
            Client(url, ALICE) as client,
        ):
            run = client.start("slow")
            for event in client.stream(run.id):
                if isinstance(event, NodeFinished):
                    break
            stopped = client.cancel(run.id)
            deadline = time.monotonic() + 20
            while (stopped := client.get(run.id)).active and time.monotonic() < deadline:
                time.sleep(0.05)
            assert stopped.status == "interrupted"
            done = client.resume(run.id)
            assert done.status == "done" and done.outputs == {"last": "noted"}
            prompts = [r.body["messages"][-1]["content"] for r in model.chat_requests()]
            assert prompts.count("Step 1 of the report.") == 1  # its reply was checkpointed
            assert prompts[-1] == "Step 3 of the report."
