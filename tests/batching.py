"""Helpers of the batch tests: pipelines on the fake server, items, and a worker killed at a
chosen model call with the calls answered before it noted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentrun.agents.fake_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]

HEAD = "version: agentrun/v1\nname: qa\nmemory: {backend: memory}\n"
ONE_CALL = """
inputs:
  question: {type: string}
nodes:
  - id: answer
    agent: {prompt: "Answer: {{ inputs.question }}"}
outputs:
  answer: "{{ state.answer }}"
"""


def write_pipeline(folder: Path, models: str, body: str = ONE_CALL) -> Path:
    path = folder / "p.yaml"
    path.write_text(HEAD + models + body, encoding="utf-8")
    return path


def fake_models(server: FakeOpenAIServer, **limits: Any) -> str:
    extra = "".join(f", {name}: {value}" for name, value in limits.items())
    return (f"models:\n  default: {{model: openai/fake, api_base: '{server.url}', "
            f"api_key_env: FAKE_KEY{extra}}}\n")  # fmt: skip


def write_items(folder: Path, count: int, start: int = 1) -> Path:
    path = folder / "items.jsonl"
    lines = [json.dumps({"id": f"i{n}", "question": f"q{n}"}) for n in range(start, count + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def answer_of(body: dict[str, Any]) -> str:
    return "A:" + str(body["messages"][-1]["content"]).removeprefix("Answer: ")


TWO_CALLS = """
inputs:
  question: {type: string}
nodes:
  - id: draft
    agent: {prompt: "Draft: {{ inputs.question }}"}
  - id: answer
    agent: {prompt: "Answer: {{ state.draft }}"}
edges:
  - {from: draft, to: answer}
outputs:
  answer: "{{ state.answer }}"
"""


class KillAt:
    """A fake server reply that, at the `at`-th answer, stops answering for a moment (so every
    reply already sent is checkpointed), kills `victim()` and notes which prompts had been
    answered by then: none of those may be requested again."""

    def __init__(self, at: int, victim: Callable[[], None]) -> None:
        self.at = at
        self.victim = victim
        self.answered: list[str] = []
        self.before_kill: set[str] = set()

    def __call__(self, body: dict[str, Any]) -> str:
        prompt = str(body["messages"][-1]["content"])
        if len(self.answered) == self.at and not self.before_kill:
            self.before_kill = set(self.answered)
            time.sleep(0.5)
            self.victim()
        self.answered.append(prompt)
        return "A:" + prompt.split(": ", 1)[1]


def repeated_completed_calls(server: FakeOpenAIServer, before_kill: set[str]) -> list[str]:
    sent = Counter(str(r.body["messages"][-1]["content"]) for r in server.chat_requests())
    return [prompt for prompt in before_kill if sent[prompt] != 1]


def kill_and_run_again(
    server: FakeOpenAIServer, args: list[str], out: Path, at: int
) -> tuple[KillAt, int]:
    """Run `agentrun batch ARGS` in a process of its own, kill it outright at the fake server's
    `at`-th answer, then run the same command again to its end. Returns the kill and how many
    items the output held after it."""
    command = [sys.executable, "-c", "from agentrun.cli import main; main()", "batch", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill = KillAt(at, lambda: os.kill(first.pid, signal.SIGKILL))
    server.reply = kill
    first.wait(timeout=180)
    assert first.returncode == -signal.SIGKILL, first.stderr.read() if first.stderr else ""
    done_before = len(lines(out))
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    assert f"{done_before} already done" in again.stdout
    return kill, done_before
