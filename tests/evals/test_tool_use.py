"""`agentrun eval tool-use` on scripted models: the tasks are generated with exact answers, an
agent that looks things up and computes gets them right with several tool calls, and the
no-tools baseline does not."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents.messages import Message
from agentrun.agents.testing import ScriptedToolCalls, scripted_model
from agentrun.cli import run as cli
from agentrun.evals.tool_use import WITH_TOOLS, generate, last_number


def call(name: str, **arguments: Any) -> ScriptedToolCalls:
    return ScriptedToolCalls([{"name": name, "arguments": arguments}])


def number(text: str) -> int:
    found = last_number(text.replace(" coins", ""))
    assert found is not None, text
    return found


def careful_agent(messages: list[Message]) -> Any:
    """Solves each kind of task as a person would with the tools: look up, then compute."""
    if messages[0]["content"] != WITH_TOOLS:
        return "Probably 10."
    question = messages[1]["content"]
    seen = [json.loads(m["content"]) if m["content"].startswith(("[", "{")) else m["content"]
            for m in messages if m.get("role") == "tool"]  # fmt: skip
    if worth := re.match(r"What are the (\w+) in the ([\w ]+) worth", question):
        goods, place = worth.groups()
        plan = [call("memory.search", query=f"{place} {goods}"),
                call("file.read", path=f"prices/{goods}.txt")]  # fmt: skip
        if len(seen) < 2:
            return plan[len(seen)]
        if len(seen) == 2:
            count = number(next(h["text"] for h in seen[0] if place in h["text"]))
            return call("math.calculate", a=count, op="*", b=number(seen[1]))
    elif together := re.match(r"How many (\w+) do the ([\w ]+) and the ([\w ]+) hold", question):
        goods, first, second = together.groups()
        if len(seen) < 2:
            return call("memory.search", query=f"{(first, second)[len(seen)]} {goods}")
        if len(seen) == 2:
            counts = [number(next(h["text"] for h in hits if place in h["text"]))
                      for hits, place in zip(seen, (first, second), strict=True)]  # fmt: skip
            return call("math.calculate", a=counts[0], op="+", b=counts[1])
    else:
        dear, cheap = re.findall(r"one of the (\w+)", question)
        if len(seen) < 2:
            return call("file.read", path=f"prices/{(dear, cheap)[len(seen)]}.txt")
        if len(seen) == 2:
            return call("math.calculate", a=number(seen[0]), op="-", b=number(seen[1]))
    return f"The answer is {seen[-1]}."


def test_tasks_are_seeded_and_have_exact_answers() -> None:
    world, tasks = generate(3, 6)
    again, same = generate(3, 6)
    assert (world, tasks) == (again, same)
    assert [task.kind for task in tasks] == ["worth", "together", "difference"] * 2
    worth = tasks[0]
    place, goods = re.match(r"What are the (\w+) in the ([\w ]+) worth", worth.question).groups()[
        ::-1
    ]  # type: ignore[union-attr]
    assert worth.answer == world.stock[(place, goods)] * world.prices[goods]
    assert generate(4, 6)[1] != tasks
    assert last_number("It is 1,234 coins.") == 1234 and last_number("none") is None


def test_the_eval_reports_success_tool_calls_and_tokens_against_no_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["eval", "tool-use", "--model", "fake/agent", "--tasks", "6", "--out-dir", str(out)]
    with scripted_model(careful_agent) as fake:
        assert cli(args) == 0, capsys.readouterr().err
        calls = len(fake.calls)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    tools, baseline = (
        report["summary"]["tools"]["overall"],
        report["summary"]["no-tools"]["overall"],
    )
    assert tools["tasks"] == baseline["tasks"] == 6
    assert tools["success"] == 1.0 and tools["mean_tool_calls"] == 3.0
    assert baseline["success"] < 1.0 and baseline["mean_tool_calls"] == 0.0
    assert tools["mean_tokens"] > baseline["mean_tokens"] > 0
    assert (out / "tool_use.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "tool use: fake/agent" in printed and "1.00" in printed
    with scripted_model(careful_agent) as fake:  # finished tasks are kept, not run again
        assert cli(args) == 0
        assert len(fake.calls) == 0
    assert calls == 6 * 4 + 6


def test_a_task_cut_off_by_the_step_limit_counts_as_failed_with_what_it_spent(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    args = ["eval", "tool-use", "--model", "fake/agent", "--tasks", "1", "--max-steps", "2",
            "--strategies", "tools", "--out-dir", str(out)]  # fmt: skip
    with scripted_model([call("memory.search", query="lamps")], repeat_last=True):
        assert cli(args) == 0
    [row] = json.loads((out / "report.json").read_text(encoding="utf-8"))["tasks"]
    assert not row["success"] and "max_steps=2" in row["error"]
    assert row["tool_calls"] == 2 and row["prompt_tokens"] > 0
