"""The CLI: fast help, one-line errors with documented exit codes, `models check`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.cli import run as cli

AGENTRUN = str(Path(sys.executable).with_name("agentrun"))


def test_version_and_help_answer_fast_without_litellm() -> None:
    for args in (["--version"], ["--help"]):
        started = time.perf_counter()
        done = subprocess.run([AGENTRUN, *args], capture_output=True, text=True, check=True)
        assert time.perf_counter() - started < 1.0
        assert done.stdout.strip()
    code = "import sys; from agentrun.cli import app; assert 'litellm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_models_check_prints_answer_latency_and_tokens(
    fake_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_server.reply = "Hello there."
    code = cli(["models", "check", "openai/fake", "--api-base", fake_server.url])
    out = capsys.readouterr().out
    assert code == 0
    assert "Hello there." in out
    assert "latency:" in out and "tokens:" in out
    assert len(fake_server.chat_requests()) == 1


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["models", "check", "no-such-model"], 3, "cannot route"),
        (["models", "check", "openai/gpt-4o-mini"], 3, "OPENAI_API_KEY"),
        (
            ["models", "check", "openai/x", "--api-base", "http://127.0.0.1:9/v1"],
            3,
            "nothing answered",
        ),
        (["models", "nonsense"], 2, "No such command"),
    ],
)
def test_bad_input_is_one_clear_line_and_an_exit_code(
    args: list[str], code: int, needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    done = subprocess.run([AGENTRUN, *args], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == code, done.stderr
    assert needle in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) <= 4


@pytest.mark.real_model
def test_models_check_on_the_embedded_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["models", "check", "local/smollm2", "--max-tokens", "12"]) == 0
    out = capsys.readouterr().out
    answer = next(line for line in out.splitlines() if line.startswith("answer:"))
    assert answer.removeprefix("answer:").strip()
    assert "completion" in out
