"""A chain-of-agents run over the persistent store and SQLite checkpoints, as its own process.

`python -m tests.memory.coa_child run|resume URL DATA_DIR THREAD_ID [DIE_AFTER]` prints the
result as JSON. The kill-and-resume tests start it, kill it with SIGKILL part way, and resume in
a new one; with DIE_AFTER=k the run kills itself as soon as its k-th reply has arrived, before
LangGraph can write that reply to the checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from agentrun.agents import Gateway, GatewayConfig, ModelConfig, RetryPolicy
from agentrun.graphs.chain_of_agents import ChainOfAgents, ChainOfAgentsConfig, ChainOfAgentsResult
from agentrun.memory import default_store
from agentrun.memory.checkpoint import sqlite_checkpointer

QUERY = "Which keeper rang the bell?"
CONFIG = ChainOfAgentsConfig(model="m", cu_format="evidence")  # workers cite by id
RETRY = RetryPolicy(max_attempts=2, initial_backoff_s=0.01, max_backoff_s=0.05, jitter_s=0.0)


def document() -> str:
    """Twelve paragraphs of distinct sentences (several chunks at a 1,024-token window)."""
    paragraphs = []
    for p in range(12):
        sentences = [
            f"Keeper {p}-{s} walked to tower {p * 7 + s} and counted {p * 13 + s * 5} gulls."
            for s in range(8)
        ]
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def fake_reply(body: dict[str, Any]) -> str:
    """Valid replies for the workers (the first sentence, cited by id) and the manager (the
    tower of the last fact, citing it: an answer its evidence holds, which differs whenever the
    evidence does)."""
    prompt = str(body["messages"][-1]["content"])
    if "Reply with the numbers of the sentences" in prompt:
        return "[1]"
    if "Answer with a few words" in prompt:
        evidence = prompt.split("\n\nQuestion:", 1)[0]
        number, tower = re.findall(r"^\[(\d+)\] .*?tower (\d+)", evidence, re.M)[-1]
        return f"tower {tower} [{number}]"
    return "NONE"


def die_after(gateway: Gateway, replies: int) -> None:
    """Make the process SIGKILL itself right after the `replies`-th reply returns."""
    complete, seen = gateway.acomplete, [0]

    async def acomplete(*args: Any, **kwargs: Any) -> Any:
        reply = await complete(*args, **kwargs)
        seen[0] += 1
        if seen[0] == replies:
            os.kill(os.getpid(), signal.SIGKILL)
        return reply

    gateway.acomplete = acomplete  # type: ignore[method-assign]


async def run(
    mode: str, url: str, data_dir: Path, thread_id: str, die_after_replies: int = 0
) -> ChainOfAgentsResult:
    model = ModelConfig(model="openai/fake", api_base=url, context_window=1024)
    config = GatewayConfig(models={"m": model}, retry=RETRY)
    async with Gateway(config, data_dir=data_dir, cache=False) as gateway:
        if die_after_replies:
            die_after(gateway, die_after_replies)
        with default_store(data_dir) as store:
            async with sqlite_checkpointer(data_dir) as saver:
                workflow = ChainOfAgents(CONFIG, gateway=gateway, store=store, checkpointer=saver)
                if mode == "run":
                    return await workflow.arun(document(), QUERY, thread_id=thread_id)
                return await workflow.aresume(thread_id)


def summary(result: ChainOfAgentsResult) -> dict[str, Any]:
    return {
        "answer": result.answer,
        "units": result.communication_units,
        "chunks": result.chunk_count,
        "model_calls": result.usage.get("model_calls"),
    }


if __name__ == "__main__":
    mode, url, data, thread = sys.argv[1:5]
    die = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    outcome = asyncio.run(run(mode, url, Path(data), thread, die))
    print(json.dumps(summary(outcome)), flush=True)
