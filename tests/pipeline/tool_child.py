"""An agent pipeline run with tools that log every execution, as its own process.

`python -m tests.pipeline.tool_child run|resume SPEC DATA_DIR THREAD LOG [BLOCK]` prints the
outputs as JSON. The tool `test.record` appends `start <tag>` and `done <tag>` to LOG; while the
file BLOCK exists, the call tagged `d` waits between the two, so a test can kill the run there.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from agentrun.agents.messages import Message
from agentrun.agents.testing import ScriptedToolCalls, scripted_model
from agentrun.pipeline import Pipeline
from agentrun.tools.function import tool
from agentrun.tools.registry import register_tool

SPEC = """version: agentrun/v1
name: durable-tools
models:
  default: {model: fake/t}
memory: {backend: memory}
nodes:
  - id: answer
    agent: {prompt: "Record five things.", tools: [test.record], max_steps: 5}
outputs:
  answer: "{{ state.answer }}"
"""
#: The calls of each reply, by how many results the model has seen.
PLAN = {0: ["a", "b"], 2: ["c", "d"], 4: ["e"]}


def reply(messages: list[Message]) -> Any:
    """Deterministic: the next calls of the plan, then an answer from every result."""
    results = [m["content"] for m in messages if m.get("role") == "tool"]
    tags = PLAN.get(len(results))
    if tags is None:
        return "answer: " + ",".join(results)
    return ScriptedToolCalls([{"name": "test.record", "arguments": {"tag": t}} for t in tags])


def main() -> None:
    mode, spec, data_dir, thread, log = sys.argv[1:6]
    block = Path(sys.argv[6]) if len(sys.argv) > 6 else None

    @register_tool
    @tool(name="test.record")
    def record(tag: str) -> str:
        """Log this call, and return its tag."""
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"start {tag}\n")
            handle.flush()
            while tag == "d" and block is not None and block.exists():
                time.sleep(0.05)
            handle.write(f"done {tag}\n")
        return f"{tag}!"

    pipeline = Pipeline.load(spec)
    with scripted_model(reply):
        if mode == "run":
            result = pipeline.run({}, thread_id=thread, data_dir=data_dir)
        else:
            result = pipeline.resume(thread, data_dir=data_dir)
    print(json.dumps(result.outputs))


if __name__ == "__main__":
    main()
