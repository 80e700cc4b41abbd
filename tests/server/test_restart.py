"""A server killed (SIGKILL) in the middle of a run and started again: the run is marked
interrupted, resumes from its checkpoint without re-sending a recorded call, and finished
results are still there."""

from __future__ import annotations

import signal
from pathlib import Path

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.client import Client
from agentrun.graphs.events import NodeFinished
from tests.server.conftest import ALICE, free_port, server_process, slow_pipeline


def test_a_killed_server_restarts_and_its_run_resumes(served: Path, data_dir: Path) -> None:
    with FakeOpenAIServer(reply=lambda body: "done: " + body["messages"][-1]["content"],
                          latency_s=0.5) as model:  # fmt: skip
        (served / "slow.yaml").write_text(slow_pipeline(model.url, steps=3), encoding="utf-8")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with server_process(served, data_dir, port) as first, Client(url, ALICE) as client:
            finished = client.run("ask")  # waits for an answer across the restart
            run = client.start("slow")
            for event in client.stream(run.id):
                if isinstance(event, NodeFinished) and event.node == "step1":
                    break
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        prompts = [r.body["messages"][-1]["content"] for r in model.chat_requests()]
        assert "Step 1 of the report." in prompts and "Step 3 of the report." not in prompts

        with server_process(served, data_dir, port), Client(url, ALICE) as client:
            stopped = client.get(run.id)
            assert stopped.status == "interrupted" and not stopped.active
            assert "server stopped" in (stopped.error or "")
            assert {r.id for r in client.runs()} == {run.id, finished.id}
            done = client.resume(run.id)
            assert done.status == "done", done.error
            assert done.outputs == {"last": "done: Step 3 of the report."}
            answered = client.resume(finished.id, answer="Saltmere")
            assert answered.outputs == {"brief": "Saltmere harbour silted up in 1902."}
            nodes = [e.node for e in client.stream(run.id) if isinstance(e, NodeFinished)]
        prompts = [r.body["messages"][-1]["content"] for r in model.chat_requests()]
        assert prompts.count("Step 1 of the report.") == 1  # recorded before the kill
        assert prompts.count("Step 3 of the report.") == 1
        # the log spans both servers (step1 shows twice when the kill came before its
        # checkpoint: it ran again on the recorded reply, sending nothing)
        assert nodes[0] == "step1" and nodes[-2:] == ["step2", "step3"]
