"""The CLI: fast help, one-line errors with documented exit codes, `models check`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentrun.agents.fake_server import FakeError, FakeOpenAIServer
from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli

AGENTRUN = str(Path(sys.executable).with_name("agentrun"))


#: What `--version` and `--help` must not import: seconds of start-up (`agentrun --version`
#: answers in about 0.5 s; time it with `python -X importtime`, not in a test).
HEAVY_MODULES = ("litellm", "langgraph", "chromadb", "numpy", "agentrun.agents.gateway")


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_answer_without_importing_heavy_modules(args: list[str]) -> None:
    done = subprocess.run([AGENTRUN, *args], capture_output=True, text=True, check=True)
    assert done.stdout.strip()
    code = (
        "import sys\nfrom agentrun.cli import run\n"
        f"code = run({args!r})\n"
        f"loaded = [m for m in {HEAVY_MODULES!r} if m in sys.modules]\n"
        "assert code == 0 and not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


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


def test_a_prompt_over_the_window_is_exit_3_and_one_line(
    fake_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    too_long = "This model's maximum context length is 4096 tokens, your messages had 9000"
    fake_server.script([FakeError(400, message=too_long)])
    code = cli(["models", "check", "openai/small", "--api-base", fake_server.url])
    captured = capsys.readouterr()
    assert code == 3
    [line] = captured.err.strip().splitlines()
    assert "'openai/small'" in line and "does not fit the context window" in line
    assert "shorten the input" in line
    assert "Traceback" not in captured.err + captured.out
    assert len(fake_server.chat_requests()) == 1  # neither retried nor fallen back


def test_demo_answers_the_bundled_question_on_a_scripted_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from agentrun.cli.demo import bundled_demo

    _text, questions = bundled_demo()
    quote, answer = str(questions[0]["quote"]), str(questions[0]["answer"])

    def reader(messages: list[dict[str, object]]) -> str:
        prompt = str(messages[-1]["content"])
        if prompt.startswith("Facts:"):  # the manager, citing the fact it answers from
            return f"{answer} [1]" if quote in prompt else "NONE"
        return f"- {quote}" if quote in prompt else "NONE"

    with scripted_model(reader, context_window=2048) as fake:
        assert cli(["demo", "--model", "fake/reader", "--no-cache"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert f"answer:   {answer}" in out
    workers = int(re.search(r"(\d+) workers over", out).group(1))  # type: ignore[union-attr]
    assert workers > 1 and len(fake.calls) == workers + 1
    assert f"in {workers + 1} calls" in out
    progress = re.findall(r"done: (\w+(?: \(chunk \d+\))?)", captured.err)
    chunks = [f"worker (chunk {i})" for i in range(1, workers + 1)]
    assert progress == [*chunks, "manager", "select"]


def test_an_interrupted_command_says_so_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    import agentrun.cli as cli_module

    def interrupted(**_: object) -> None:
        raise typer.Abort()

    monkeypatch.setattr(cli_module, "app", interrupted)
    assert cli_module.run(["cache", "clear"]) == 130
    assert "interrupted" in capsys.readouterr().err
