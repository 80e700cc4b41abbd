"""Resuming pipelines: after SIGKILL and Ctrl-C (same result, at most one more request), and
after a failure (the resume command, the run's own options, totals counted once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.fake_server import FakeError, FakeOpenAIServer, FakeReply
from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.errors import AgentrunError, ModelCallError
from agentrun.pipeline import Pipeline
from tests.conftest import FAST_RETRY

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


# --- failed runs: the resume command, the run's options, and its totals --------------------------


def two_steps(url: str, extra: str = "") -> str:
    return f"""version: agentrun/v1
name: two-steps
models:
  default:
    model: openai/fake
    api_base: {url}
    context_window: 4096
{extra}inputs:
  topic: {{type: string}}
nodes:
  - id: a
    agent: {{prompt: "first on {{{{ inputs.topic }}}}"}}
  - id: b
    agent: {{prompt: "second after {{{{ state.a }}}}"}}
edges:
  - {{from: a, to: b}}
outputs:
  answer: "{{{{ state.b }}}}"
"""


def test_a_run_that_fails_prints_the_command_that_resumes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configuration error (exit 3) after the run started: the error, then the exact resume
    command with the data directory; setting the key and running that command finishes it."""
    monkeypatch.delenv("AGENTRUN_TEST_KEY", raising=False)
    data = tmp_path / "data"
    with FakeOpenAIServer(reply=reply) as server:
        path = tmp_path / "p.yaml"
        path.write_text(two_steps(server.url, "    api_key_env: AGENTRUN_TEST_KEY\n"), "utf-8")
        args = ["--data-dir", str(data), "run", str(path), "-i", "topic=tides", "--thread-id", "k"]
        assert cli(args) == 3
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert "AGENTRUN_TEST_KEY" in lines[0] and lines[0].startswith("error: model 'default'")
        assert lines[1] == f"run k failed; resume with: agentrun --data-dir {data} resume k"
        assert "Traceback" not in err

        monkeypatch.setenv("AGENTRUN_TEST_KEY", "sk-test")
        assert cli(lines[1].split("resume with: ", 1)[1].split()[1:]) == 0
    assert outputs(data, "k")["answer"].startswith("<")


def test_a_model_failure_keeps_its_exit_code_and_names_the_run_for_sdk_callers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: agentrun/v1\nname: t\nmodels:\n  default: {model: fake/t}\n"
        "nodes:\n  - id: a\n    agent: {prompt: one}\n  - id: b\n    agent: {prompt: two}\n"
        "edges:\n  - {from: a, to: b}\n",
        encoding="utf-8",
    )
    with scripted_model(["only one reply"]), pytest.raises(ModelCallError) as caught:
        Pipeline.load(path).run({}, thread_id="sdk", data_dir=tmp_path / "sdk")
    assert caught.value.thread_id == "sdk"
    assert "no reply for call" in str(caught.value)

    with scripted_model(["only one reply"]):
        assert cli(["run", str(path), "--thread-id", "cli"]) == ModelCallError.exit_code == 1
    err = capsys.readouterr().err
    assert "error: model 'fake/t': the scripted model has no reply" in " ".join(err.split())
    assert "run cli failed; resume with: agentrun resume cli\n" in err


def test_resume_keeps_the_cache_and_streaming_of_the_run_it_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cache holds the failing step's reply from an earlier run: a resume that turned the
    cache back on would answer from it instead of asking the model."""
    data = tmp_path / "data"
    with FakeOpenAIServer(reply=reply) as server:
        path = tmp_path / "p.yaml"
        path.write_text(two_steps(server.url), "utf-8")
        run = ["--data-dir", str(data), "run", str(path), "-i", "topic=tides"]
        assert cli([*run, "--thread-id", "warm"]) == 0
        server.reset()
        server.script([FakeReply("<first on tides>"), FakeError(400, message="bad request")])
        assert cli([*run, "--thread-id", "cold", "--no-cache", "--no-stream"]) != 0
        assert len(server.chat_requests()) == 2
        capsys.readouterr()

        assert cli(["--data-dir", str(data), "resume", "cold"]) == 0
        assert len(server.chat_requests()) == 3  # step b asked the model again
        assert "b | " not in capsys.readouterr().err  # and nothing was streamed

        server.reset()
        server.script([FakeError(400, message="bad request")])
        with pytest.raises(AgentrunError):
            Pipeline.load(path).run({"topic": "tides"}, thread_id="sdk", data_dir=data, cache=False)
        options = json.loads((data / "runs" / "sdk" / "meta.json").read_text("utf-8"))["options"]
        assert options["cache"] is False
        Pipeline.load(path).resume("sdk", data_dir=data, cache=True)  # an explicit override
        assert len(server.chat_requests()) == 1  # both steps from the cache
    assert outputs(data, "cold") == outputs(data, "warm") == outputs(data, "sdk")


PRICED = """version: agentrun/v1
name: priced
models:
  default: {{model: openai/gpt-4o-mini, api_base: "{url}", context_window: 8192}}
inputs:
  topic: {{type: string}}
nodes:
  - id: a
    agent: {{prompt: "first on {{{{ inputs.topic }}}}"}}
  - id: fan
    for_each: "[1, 2, 3]"
    concurrency: 1
    agent: {{prompt: "part {{{{ item }}}} of {{{{ state.a }}}}"}}
  - id: last
    agent: {{prompt: "done: {{{{ state.fan | join(',') }}}}"}}
edges:
  - {{from: a, to: fan}}
  - {{from: fan, to: last}}
outputs:
  answer: "{{{{ state.last }}}}"
"""
REPLIES = [FakeReply(f"reply number {i} " * 5) for i in range(5)]


def test_totals_after_a_failure_and_resume_are_those_of_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    """Completed calls count once (the replies recorded before the failure are not re-sent),
    and the failed call's attempts count once too."""

    def gateway(url: str) -> Gateway:
        model = ModelConfig(model="openai/gpt-4o-mini", api_base=url, context_window=8192)
        return Gateway(GatewayConfig(models={"default": model}, retry=FAST_RETRY), cache=False)

    with FakeOpenAIServer() as server:
        path = tmp_path / "p.yaml"
        path.write_text(PRICED.format(url=server.url), encoding="utf-8")
        pipeline = Pipeline.load(path)
        server.script(REPLIES)
        whole = pipeline.run({"topic": "tides"}, thread_id="whole", gateway=gateway(server.url))
        server.reset()
        server.script([*REPLIES[:2], *[FakeError(500)] * FAST_RETRY.max_attempts])
        with pytest.raises(ModelCallError):
            pipeline.run({"topic": "tides"}, thread_id="cut", gateway=gateway(server.url))
        server.script(REPLIES[2:])
        resumed = pipeline.resume("cut", gateway=gateway(server.url))
        assert len(server.chat_requests()) == 2 + FAST_RETRY.max_attempts + 3

    assert resumed.outputs == whole.outputs
    assert whole.usage["cost_usd"] > 0
    for key in ("calls", "model_calls", "prompt_tokens", "completion_tokens", "cost_usd"):
        assert resumed.usage[key] == pytest.approx(whole.usage[key]), key
    assert whole.usage["failed_calls"] == 0 and resumed.usage["failed_calls"] == 1
    assert resumed.usage["attempts"] == whole.usage["attempts"] + FAST_RETRY.max_attempts
    assert resumed.usage["retries"] == whole.usage["retries"] + FAST_RETRY.max_attempts - 1
    saved = json.loads(Path(str(resumed.result_path)).read_text(encoding="utf-8"))["usage"]
    assert saved == resumed.usage


def test_a_run_that_failed_before_its_first_checkpoint_resumes_from_the_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    with FakeOpenAIServer(reply=reply) as server:
        path = tmp_path / "p.yaml"
        path.write_text(two_steps(server.url), "utf-8")
        monkeypatch.setenv("AGENTRUN_CHECKPOINT_URL", "mysql://nowhere")
        args = ["--data-dir", str(data), "run", str(path), "-i", "topic=tides", "--thread-id", "e"]
        assert cli(args) == 3
        assert "run e failed; resume with:" in capsys.readouterr().err
        assert server.chat_requests() == []
        monkeypatch.delenv("AGENTRUN_CHECKPOINT_URL")
        assert cli(["--data-dir", str(data), "resume", "e"]) == 0
    assert outputs(data, "e")["answer"].startswith("<")


def test_resume_runs_the_spec_as_it_was_run_with_its_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--set` changes the spec a run runs; its resume must run that spec too, not the file."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: agentrun/v1\nname: t\nmodels:\n  default: {model: fake/original}\n"
        "nodes:\n  - id: a\n    agent: {prompt: one}\n  - id: b\n    agent: {prompt: two}\n"
        "edges:\n  - {from: a, to: b}\n",
        encoding="utf-8",
    )
    args = ["run", str(path), "--thread-id", "o", "--set", "models.default.model=fake/overridden"]
    with scripted_model(["first"]) as fake:
        assert cli(args) == 1  # the script has one reply: the second call fails
    assert {call.model for call in fake.calls} == {"overridden"}
    with scripted_model(["second"]) as fake:
        assert cli(["resume", "o"]) == 0, capsys.readouterr().err
    assert [call.model for call in fake.calls] == ["overridden"]
