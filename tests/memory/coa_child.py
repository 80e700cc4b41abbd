"""A chain-of-agents run over the persistent store and SQLite checkpoints, as its own process.

`python -m tests.memory.coa_child run|resume URL DATA_DIR THREAD_ID` prints the result as JSON.
The kill-and-resume test starts it, kills it with SIGKILL part way, and resumes in a new one.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

from agentrun.agents import Gateway, GatewayConfig, ModelConfig, RetryPolicy
from agentrun.graphs.chain_of_agents import ChainOfAgents, ChainOfAgentsConfig, ChainOfAgentsResult
from agentrun.memory import default_store
from agentrun.memory.checkpoint import sqlite_checkpointer

QUERY = "Which keeper rang the bell?"
CONFIG = ChainOfAgentsConfig(model="m")
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
    """Valid replies for the workers (a verbatim first sentence) and the manager (a digest)."""
    prompt = str(body["messages"][-1]["content"])
    if "Copy the sentences" in prompt:
        text = prompt.split("):\n", 1)[1].split("\n\nQuestion:", 1)[0]
        first = re.split(r"(?<=\.)\s", text.strip(), maxsplit=1)[0]
        return f"- {first}"
    if "Answer with a few words" in prompt:
        evidence = prompt.split("\n\nQuestion:", 1)[0]
        return f"keeper {evidence.count(chr(10) + '- ')} {len(evidence)}"
    return "NONE"


async def run(mode: str, url: str, data_dir: Path, thread_id: str) -> ChainOfAgentsResult:
    model = ModelConfig(model="openai/fake", api_base=url, context_window=1024)
    config = GatewayConfig(models={"m": model}, retry=RETRY)
    async with Gateway(config, data_dir=data_dir, cache=False) as gateway:
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
    outcome = asyncio.run(run(mode, url, Path(data), thread))
    print(json.dumps(summary(outcome)), flush=True)
