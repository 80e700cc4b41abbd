"""Chain of agents on scripted models: order, budgets, manager input, multi-path, resume."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway, GatewayConfig, RetryPolicy
from agentrun.agents.testing import ScriptedModel, scripted_model
from agentrun.errors import AgentrunError, ConfigError, UsageError
from agentrun.graphs import chain_of_agents as coa

FACT = "The vault code is 4471, kept by Ines Moreau."
QUESTION = "What is the vault code?"
PART = re.compile(r"Text \(part (\d+) of (\d+)\)")


def document(paragraphs: int = 60, fact_at: int = 40) -> str:
    body = [
        f"Entry {i}. The tide tables for week {i} were posted at the harbour office. "
        f"Boats {i} and {i + 1} left before dawn and came back with herring."
        for i in range(paragraphs)
    ]
    body.insert(fact_at, FACT)
    return "\n\n".join(body)


def worker_or_manager(messages: list[dict[str, Any]]) -> str:
    """A model that quotes the fact when its chunk holds it and answers from evidence."""
    text = messages[-1]["content"]
    if text.startswith("Evidence:"):
        return "4471" if "4471" in text else "NONE"
    if FACT in text.split("Question:")[0].split("Text (")[-1]:
        return f"- {FACT}\n- The vault was painted green in 1902."
    return "NONE"


def config(**options: Any) -> coa.ChainOfAgentsConfig:
    return coa.ChainOfAgentsConfig(model="fake/m", cu_tokens=128, worker_max_tokens=64, **options)


async def run(
    doc: str, fake: ScriptedModel, data_dir: Path, **options: Any
) -> coa.ChainOfAgentsResult:
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        return await coa.arun(
            doc, QUESTION, config=config(**options), gateway=gateway,
            store=InMemoryStore(), checkpointer=InMemorySaver(),
        )  # fmt: skip


async def test_workers_read_in_order_and_the_manager_answers(data_dir: Path) -> None:
    with scripted_model(worker_or_manager, context_window=1024) as fake:
        result = await run(document(), fake, data_dir)
    parts = [
        int(m.group(1)) for call in fake.calls if (m := PART.search(call.messages[-1]["content"]))
    ]
    assert result.chunk_count >= 4
    assert parts == list(range(1, result.chunk_count + 1))
    assert result.answer == "4471"
    assert FACT in result.communication_units[-1]
    assert result.dropped_quotes == 1  # the invented sentence about paint
    assert result.usage["model_calls"] == result.chunk_count + 1
    assert len(result.prompts) == result.chunk_count + 1


async def test_no_prompt_exceeds_the_window(data_dir: Path) -> None:
    with scripted_model(worker_or_manager, context_window=700) as fake:
        await run(document(120), fake, data_dir)
        gateway = Gateway(data_dir=data_dir)
        for call in fake.calls:
            prompt = gateway.count_tokens("fake/m", call.messages)
            assert prompt + int(call.params["max_tokens"]) <= 700


async def test_the_manager_sees_only_the_last_unit(data_dir: Path) -> None:
    with scripted_model(worker_or_manager, context_window=1024) as fake:
        result = await run(document(), fake, data_dir)
    manager = fake.calls[-1].messages[-1]["content"]
    assert manager.startswith("Evidence:")
    assert result.communication_units[-1] in manager
    assert "tide tables" not in manager  # no chunk text, only the unit


async def test_paths_run_concurrently_and_vote(data_dir: Path) -> None:
    with scripted_model(worker_or_manager, context_window=1024, delay_s=0.1) as fake:
        result = await run(document(30, 5), fake, data_dir, paths=2)
    first_step = [c for c in fake.calls if "part 1 of" in c.messages[-1]["content"]]
    assert len(first_step) == 2
    a, b = first_step
    assert a.started < b.ended and b.started < a.ended  # overlapping in time
    assert [p.order for p in result.paths] == [
        list(range(result.chunk_count)),
        list(range(result.chunk_count))[::-1],
    ]
    assert result.answer == "4471"


async def test_resume_after_a_crash_sends_nothing_for_earlier_workers(data_dir: Path) -> None:
    crash_at = 3
    state = {"crashed": False}

    def flaky(messages: list[dict[str, Any]]) -> str:
        found = PART.search(messages[-1]["content"])
        if found and int(found.group(1)) == crash_at and not state["crashed"]:
            state["crashed"] = True
            raise RuntimeError("worker crashed")
        return worker_or_manager(messages)

    store, saver = InMemoryStore(), InMemorySaver()
    gateway_config = GatewayConfig(retry=RetryPolicy(max_attempts=1))
    with scripted_model(flaky, context_window=1024) as fake:
        async with Gateway(gateway_config, data_dir=data_dir, cache=False) as gateway:
            with pytest.raises(AgentrunError):
                await coa.arun(
                    document(), QUESTION, config=config(), gateway=gateway, store=store,
                    checkpointer=saver, thread_id="t1",
                )  # fmt: skip
            before = len(fake.calls)
            result = await coa.aresume(
                "t1", config=config(), gateway=gateway, store=store, checkpointer=saver
            )
    resumed = [PART.search(c.messages[-1]["content"]) for c in fake.calls[before:]]
    resumed_parts = [int(m.group(1)) for m in resumed if m]
    assert before == crash_at  # parts 1..k-1 answered, part k failed
    assert resumed_parts[0] == crash_at
    assert min(resumed_parts) == crash_at
    assert result.answer == "4471"
    assert result.usage["model_calls"] == result.chunk_count + 1


async def test_free_units_pass_the_previous_summary_on(data_dir: Path) -> None:
    def summarizer(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        if text.startswith("Evidence:"):
            return "summary-3"
        found = PART.search(text) or re.search(r"part (\d+) of", text)
        return f"summary-{found.group(1) if found else 'x'}"

    with scripted_model(summarizer, context_window=1024) as fake:
        result = await run(document(40, 2), fake, data_dir, cu_format="free")
    worker_prompts = [c.messages[-1]["content"] for c in fake.calls[:-1]]
    for index, prompt in enumerate(worker_prompts[1:], start=1):
        assert f"summary-{index}" in prompt
    assert result.communication_units == [f"summary-{i}" for i in range(1, result.chunk_count + 1)]


async def test_bad_input(data_dir: Path) -> None:
    with scripted_model(worker_or_manager, context_window=1024) as fake:
        with pytest.raises(UsageError, match="empty"):
            await run("   \n\n ", fake, data_dir)
        short = await run(FACT, fake, data_dir)
        assert short.chunk_count == 1 and short.answer == "4471"
        with pytest.raises(UsageError, match="longer than the 1024-token window"):
            async with Gateway(data_dir=data_dir) as gateway:
                await coa.arun(FACT, "why " * 1200, config=config(), gateway=gateway,
                               store=InMemoryStore(), checkpointer=InMemorySaver())  # fmt: skip
    with (
        scripted_model(worker_or_manager, context_window=300),
        pytest.raises(ConfigError, match="window of fake/m leaves"),
    ):
        await run(document(), fake, data_dir)


@pytest.mark.parametrize("strategy", ["vanilla", "merge", "hierarchical"])
async def test_baselines_run_from_the_same_config(strategy: str, data_dir: Path) -> None:
    def model(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        if "Question:" in text and text.startswith("Evidence:"):
            return "4471" if "4471" in text else "NONE"
        return "notes: the code 4471" if FACT in text else "notes: tides"

    with scripted_model(model, context_window=1024) as fake:
        result = await run(document(), fake, data_dir, strategy=strategy)
    assert result.strategy == strategy
    if strategy == "vanilla":
        assert len(fake.calls) == 1
        assert result.warnings and "vanilla read" in result.warnings[0]
    if strategy == "merge":
        assert len(fake.calls) == result.chunk_count
        assert result.answer == "4471"
    if strategy == "hierarchical":
        manager = fake.calls[-1].messages[-1]["content"]
        assert manager.count("notes:") == len(result.communication_units) >= 2
        assert result.answer == "4471"
