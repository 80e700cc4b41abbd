"""A pipeline killed with SIGKILL, then `agentrun resume`: same result, at most one more request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agentrun.agents.fake_server import FakeOpenAIServer

AGENTRUN = str(Path(sys.executable).with_name("agentrun"))


def reply(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    return f"<{prompt[-24:]}>"


def spec(url: str) -> str:
    steps = "\n".join(
        f'  - id: s{i}\n    agent: {{prompt: "step {i} after {{{{ state.s{i - 1} }}}}"}}'
        if i
        else '  - id: s0\n    agent: {prompt: "step 0 on {{ inputs.topic }}"}'
        for i in range(6)
    )
    edges = "\n".join(f"  - from: s{i}\n    to: s{i + 1}" for i in range(5))
    return f"""version: agentrun/v1
name: long-chain
models:
  default:
    model: openai/fake
    api_base: {url}
    context_window: 4096
inputs:
  topic: {{type: string}}
nodes:
{steps}
  - id: fan
    for_each: "[1, 2, 3]"
    agent: {{prompt: "part {{{{ item }}}} of {{{{ state.s5 }}}}"}}
  - id: last
    agent: {{prompt: "done: {{{{ state.fan | join(',') }}}}"}}
edges:
{edges}
  - from: s5
    to: fan
  - from: fan
    to: last
outputs:
  answer: "{{{{ state.last }}}}"
"""


#: Gives the child Ctrl-C's default action, then becomes the command: a suite started as a
#: background job (`cmd &`, nohup) ignores SIGINT, and children inherit that, as they should
#: outside tests. (An exec, not `preexec_fn`, which is unsafe with the fake server's threads.)
WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def agentrun(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WITH_DEFAULT_SIGINT, AGENTRUN, "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def outputs(data_dir: Path, thread: str) -> dict[str, Any]:
    result = json.loads((data_dir / "runs" / thread / "result.json").read_text(encoding="utf-8"))
    return dict(result["outputs"])


def test_killed_run_resumes_with_the_same_result(tmp_path: Path) -> None:
    with FakeOpenAIServer(reply=reply, latency_s=0.25) as server:
        path = tmp_path / "chain.yaml"
        path.write_text(spec(server.url), encoding="utf-8")

        whole = agentrun(
            tmp_path / "a",
            "run",
            str(path),
            "-i",
            "topic=tides",
            "--thread-id",
            "whole",
            "--no-cache",
        )
        assert whole.wait(timeout=120) == 0, whole.stderr.read() if whole.stderr else ""
        uninterrupted = len(server.chat_requests())
        assert uninterrupted == 10
        server.reset()

        killed = agentrun(
            tmp_path / "b",
            "run",
            str(path),
            "-i",
            "topic=tides",
            "--thread-id",
            "cut",
            "--no-cache",
        )
        deadline = time.monotonic() + 60
        while len(server.chat_requests()) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # mid-request
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert killed.returncode == -signal.SIGKILL
        before_resume = len(server.chat_requests())
        assert 4 <= before_resume < uninterrupted

        resumed = agentrun(tmp_path / "b", "resume", "cut", "--no-cache")
        assert resumed.wait(timeout=120) == 0, resumed.stderr.read() if resumed.stderr else ""
        total = len(server.chat_requests())

    assert outputs(tmp_path / "b", "cut") == outputs(tmp_path / "a", "whole")
    assert total <= uninterrupted + 1


def test_ctrl_c_says_how_to_resume(tmp_path: Path) -> None:
    with FakeOpenAIServer(reply=reply, latency_s=0.25) as server:
        path = tmp_path / "chain.yaml"
        path.write_text(spec(server.url), encoding="utf-8")
        data = tmp_path / "data"
        run = agentrun(data, "run", str(path), "-i", "topic=tides", "--thread-id", "cc")
        deadline = time.monotonic() + 60
        while len(server.chat_requests()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        assert run.returncode == 130, err
        lines = [line for line in err.splitlines() if "interrupted" in line]
        assert lines == [f"interrupted; resume with: agentrun --data-dir {data} resume cc"], err
        assert "Traceback" not in err
        meta = json.loads((data / "runs" / "cc" / "meta.json").read_text(encoding="utf-8"))
        assert meta["status"] == "interrupted"
        resumed = agentrun(data, "resume", "cc")
        assert resumed.wait(timeout=120) == 0, resumed.stderr.read() if resumed.stderr else ""
    assert outputs(data, "cc")["answer"].startswith("<")
