"""Servers for the tests: `agentrun serve`'s app on loopback, in a thread or as its own process,
over a folder of pipelines whose models are scripted (`fake/` with replies) or the fake OpenAI
server (for runs slow enough to watch)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from agentrun.server.config import ServerSettings

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef0"
TOKENS = {"alice": ALICE, "bob": BOB}

ASK = """\
version: agentrun/v1
name: ask
description: Plans, asks which harbour, writes the brief.
models:
  default: {model: fake/ask, replies: ask_replies.yaml}
inputs:
  topic: {type: string, default: harbours}
nodes:
  - id: plan
    agent: {prompt: "Plan a brief on {{ inputs.topic }}."}
  - id: harbour
    human:
      question: "Which harbour should the brief cover?"
      schema: {type: string, enum: [Saltmere, Wend]}
  - id: brief
    agent: {prompt: "Write the brief on {{ state.harbour }}."}
edges:
  - {from: plan, to: harbour}
  - {from: harbour, to: brief}
outputs:
  brief: "{{ state.brief }}"
"""

ASK_REPLIES = """\
- when: Plan a brief
  reply: "1. history 2. trade"
- when: Write the brief on Wend
  reply: Wend harbour was built in 1871.
- when: Write the brief on Saltmere
  reply: Saltmere harbour silted up in 1902.
"""

RECALL = """\
version: agentrun/v1
name: recall
inputs:
  query: {type: string}
nodes:
  - id: found
    tool: {name: memory.search, args: {query: "{{ inputs.query }}", limit: 3}}
outputs:
  found: "{{ state.found | tojson }}"
"""


def slow_pipeline(api_base: str, steps: int = 3) -> str:
    """Steps one after another, each a call to the fake OpenAI server (slow by its latency)."""
    nodes = "".join(
        f'  - id: step{i}\n    agent: {{prompt: "Step {i} of the report."}}\n'
        for i in range(1, steps + 1)
    )
    edges = "".join(f"  - {{from: step{i}, to: step{i + 1}}}\n" for i in range(1, steps))
    return (
        "version: agentrun/v1\nname: slow\n"
        f"models:\n  default: {{model: openai/fake, api_base: '{api_base}', "
        "context_window: 4096}\n"
        f'nodes:\n{nodes}edges:\n{edges}outputs:\n  last: "{{{{ state.step{steps} }}}}"\n'
    )


@pytest.fixture
def served(tmp_path: Path) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "ask.yaml").write_text(ASK, encoding="utf-8")
    (folder / "ask_replies.yaml").write_text(ASK_REPLIES, encoding="utf-8")
    (folder / "recall.yaml").write_text(RECALL, encoding="utf-8")
    return folder


@contextmanager
def live_server(folder: Path, settings: ServerSettings) -> Iterator[str]:
    """The app served by uvicorn in a thread on a free loopback port; its base URL."""
    import uvicorn

    from agentrun.server.app import create_app

    config = uvicorn.Config(
        create_app(folder, settings), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def server_url(served: Path, data_dir: Path) -> Iterator[str]:
    with live_server(served, ServerSettings(data_dir=data_dir, tokens=TOKENS)) as url:
        yield url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server_process(
    folder: Path, data_dir: Path, port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`agentrun serve` as its own process (token of one client: ALICE), ready to serve."""
    command = [sys.executable, "-c", "from agentrun.cli import main; main()",
               "--data-dir", str(data_dir), "serve", str(folder), "--port", str(port)]  # fmt: skip
    environment = {**os.environ, "AGENTRUN_SERVER_TOKEN": ALICE, **(env or {})}
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server process did not start"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()
