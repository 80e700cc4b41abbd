"""`agentrun demo`: chain-of-agents answers a question about a bundled long text."""

from __future__ import annotations

import json
import time
from importlib import resources
from typing import Any

import typer

from agentrun.cli._common import console, err_console, literal, state


def bundled_demo() -> tuple[str, list[dict[str, Any]]]:
    """The demo document and its questions (shipped inside the package)."""
    folder = resources.files("agentrun") / "data" / "demo"
    text = (folder / "harbor_town.md").read_text(encoding="utf-8")
    questions = json.loads((folder / "questions.json").read_text(encoding="utf-8"))
    return text, questions


def demo(
    ctx: typer.Context,
    model: str = typer.Option("local/smollm2", help="Any LiteLLM model name, or local/smollm2."),
    question: str | None = typer.Option(None, help="Ask your own question about the text."),
    cache: bool = typer.Option(True, help="Reuse cached replies of identical calls."),
) -> None:
    """Answer a question about a bundled ~4,000-word text with chain-of-agents."""
    from agentrun.agents import Gateway
    from agentrun.graphs.chain_of_agents import ChainOfAgents, ChainOfAgentsConfig
    from agentrun.graphs.events import Event, NodeFinished

    text, questions = bundled_demo()
    query = question or str(questions[0]["question"])
    out = console()
    out.print(f"document: Saltmere harbour history, {len(text.split())} words")
    out.print(literal(f"question: {query}"))
    started = time.perf_counter()
    chunks_read = 0

    def progress(event: Event) -> None:
        nonlocal chunks_read
        if isinstance(event, NodeFinished):
            chunks_read += event.node == "worker"
            detail = f" (chunk {chunks_read})" if event.node == "worker" else ""
            err_console().print(
                f"  done: {event.node}{detail}  {time.perf_counter() - started:.1f} s"
            )

    data_dir = state(ctx).data_dir
    with Gateway(data_dir=data_dir, cache=cache) as gateway:
        config = ChainOfAgentsConfig(model=model, cu_format="evidence")  # cited, checkable
        workflow = ChainOfAgents(config, gateway=gateway,
                                 data_dir=data_dir)  # fmt: skip
        result = workflow.run(text, query, on_event=progress)
    usage = result.usage
    out.print(literal(f"answer:   {result.answer if result.answer is not None else '(abstained)'}"))
    out.print("evidence:")
    out.print(literal(result.communication_units[-1] if result.communication_units else "(none)"))
    out.print(
        f"{result.chunk_count} workers over {result.document_tokens} tokens; "
        f"{usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion tokens in "
        f"{usage['model_calls']} calls ({usage['cache_hits']} cached); "
        f"{time.perf_counter() - started:.1f} s; thread {result.thread_id}"
    )
