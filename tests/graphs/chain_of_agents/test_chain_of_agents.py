"""Chain of agents on scripted models: order, budgets, manager input, multi-path, resume,
evidence accounting, baselines, summarization and stored documents."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway, GatewayConfig, ModelConfig, RetryPolicy
from agentrun.agents.testing import ScriptedModel, scripted_model
from agentrun.errors import AgentrunError, ConfigError, UsageError
from agentrun.graphs.chain_of_agents import (
    ChainOfAgents,
    ChainOfAgentsConfig,
    ChainOfAgentsResult,
    CommunicationUnit,
    Quote,
    StoredDocument,
    baselines,
    build_graph,
    prompts,
)
from agentrun.graphs.chain_of_agents.budgets import plan_chunk_tokens
from agentrun.graphs.chain_of_agents.evidence import trim, verify_quotes
from agentrun.graphs.events import Event, NodeFinished, RunFinished
from agentrun.memory.embedders import FakeEmbedder
from agentrun.memory.ingest import Ingester
from agentrun.memory.inmemory import in_memory_store
from agentrun.memory.namespaces import chunks_ns

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
    if text.startswith(("Evidence:", "Facts:")):
        return "4471" if "4471" in text else "NONE"
    if FACT in text.split("Question:")[0].split("Text (")[-1]:
        return f"- {FACT}\n- The vault was painted green in 1902."
    return "NONE"


def config(**options: Any) -> ChainOfAgentsConfig:
    """Evidence units unless asked otherwise (`auto` would give a model other than the embedded
    one free units)."""
    options = {
        "model": "fake/m", "cu_format": "evidence", "cu_tokens": 128, "worker_max_tokens": 64,
        **options,
    }  # fmt: skip
    return ChainOfAgentsConfig(**options)


def workflow(
    gateway: Gateway, store: Any = None, saver: InMemorySaver | None = None, **options: Any
) -> ChainOfAgents:
    """The workflow on `gateway`, with a store and checkpointer of its own unless given."""
    return ChainOfAgents(
        config(**options), gateway=gateway, store=InMemoryStore() if store is None else store,
        checkpointer=saver or InMemorySaver(),
    )  # fmt: skip


async def run(doc: str, fake: ScriptedModel, data_dir: Path, **options: Any) -> ChainOfAgentsResult:
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        return await workflow(gateway, **options).arun(doc, QUESTION)


def chunk_text(prompt: str) -> str:
    """The chunk a worker prompt shows (not the evidence or summary passed on)."""
    found = re.search(
        r"(?:Text|Source text) \(part \d+ of \d+\)[^\n]*:\n(.*?)\n\n(?:Question|Summary of)",
        prompt,
        re.S,
    )
    assert found is not None, prompt
    return found.group(1)


def first_entry(prompt: str) -> int:
    """The number of the first entry in a worker prompt's chunk."""
    return int(re.findall(r"Entry (\d+)\.", chunk_text(prompt))[0])


def entries_read(calls: list[Any]) -> list[list[int]]:
    """The entry numbers of the chunk each worker read, in call order."""
    prompts = [str(c.messages[-1]["content"]) for c in calls]
    return [
        [int(n) for n in re.findall(r"Entry (\d+)\.", chunk_text(p))]
        for p in prompts
        if PART.search(p) or p.startswith("Source text (")
    ]


@pytest.mark.parametrize("direction", ["forward", "backward"])
async def test_workers_read_the_chunks_in_order_and_the_manager_answers(
    direction: str, data_dir: Path
) -> None:
    with scripted_model(worker_or_manager, context_window=1024) as fake:
        result = await run(document(), fake, data_dir, direction=direction)
    read = entries_read(fake.calls)
    assert result.chunk_count >= 4 and len(read) == result.chunk_count
    assert all(read), "every chunk holds entries"
    in_source_order = read if direction == "forward" else read[::-1]
    # Every entry read exactly once, and the chunks in reading order.
    assert [n for chunk in in_source_order for n in chunk] == list(range(60))
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


@pytest.mark.parametrize("cu_format", ["evidence", "free"])
async def test_the_manager_sees_only_the_last_unit(cu_format: str, data_dir: Path) -> None:
    """Every worker writes a unit of its own (a quote of its chunk's first entry, or a summary
    naming its part); units differ, so a manager shown any earlier one would be caught."""

    def model(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        if text.startswith(("Evidence:", "Facts:", "Notes on")):
            return "4471"
        first = first_entry(text)
        if cu_format == "free":
            return f"summary of the part starting at entry {first}"
        return f"- The tide tables for week {first} were posted at the harbour office."

    with scripted_model(model, context_window=1024) as fake:
        result = await run(document(), fake, data_dir, cu_format=cu_format, cu_tokens=64)
    units = result.communication_units
    assert len(units) == result.chunk_count >= 4
    manager = str(fake.calls[-1].messages[-1]["content"])
    shown = re.search(r"(?:Evidence|Facts):\n(.*?)\n\nQuestion:", manager, re.S)
    last = units[-1].splitlines()
    if cu_format == "evidence":  # the unit's quotes, numbered for citing
        last = [f"[{i}] {line[3:-1]}" for i, line in enumerate(last, 1)]
    assert shown is not None and shown.group(1) == "\n".join(last)
    earlier = {line for unit in units[:-1] for line in unit.splitlines()} - set(
        units[-1].splitlines()
    )
    assert earlier, "the earlier units hold something the last does not"
    assert not any(line in manager for line in earlier)
    assert "Boats" not in manager  # no chunk text either


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
                await workflow(gateway, store, saver).arun(document(), QUESTION, thread_id="t1")
            before = len(fake.calls)
            result = await workflow(gateway, store, saver).aresume("t1")
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
        if text.startswith(("Evidence:", "Facts:")):
            return "summary-3"
        found = PART.search(text) or re.search(r"part (\d+) of", text)
        return f"summary-{found.group(1) if found else 'x'}"

    with scripted_model(summarizer, context_window=1024) as fake:
        result = await run(document(40, 2), fake, data_dir, cu_format="free")
    worker_prompts = [c.messages[-1]["content"] for c in fake.calls[:-1]]
    for index, prompt in enumerate(worker_prompts[1:], start=1):
        assert f"summary-{index}" in prompt
    assert result.communication_units == [f"summary-{i}" for i in range(1, result.chunk_count + 1)]


async def test_auto_units_are_evidence_on_the_embedded_model_and_free_elsewhere(
    data_dir: Path,
) -> None:
    models = {
        "mine": ModelConfig(model="local/smollm2"),  # an alias of the embedded model
        "api": ModelConfig(model="openai/gpt-4o-mini"),
    }
    async with Gateway(GatewayConfig(models=models), data_dir=data_dir) as gateway:
        for name, expected in (("mine", "evidence"), ("api", "free")):
            flow = ChainOfAgents(ChainOfAgentsConfig(model=name), gateway=gateway)
            assert flow.config.cu_format == "auto"
            assert flow.resolved_config(gateway).cu_format == expected
    pinned = ChainOfAgentsConfig(cu_format="free")
    assert pinned.resolved(local=True) is pinned
    with scripted_model(lambda messages: "summary", context_window=1024) as fake:
        result = await run(document(40, 2), fake, data_dir, cu_format="auto")
    workers = [c.messages[-1]["content"] for c in fake.calls[:-1]]
    assert workers and all(p.startswith("Source text (part") for p in workers)
    assert result.communication_units[-1] == "summary"


async def test_bad_input(data_dir: Path) -> None:
    with scripted_model(worker_or_manager, context_window=1024) as fake:
        with pytest.raises(UsageError, match="empty"):
            await run("   \n\n ", fake, data_dir)
        short = await run(FACT, fake, data_dir)
        assert short.chunk_count == 1 and short.answer == "4471"
        with pytest.raises(UsageError, match="longer than the 1024-token window"):
            async with Gateway(data_dir=data_dir) as gateway:
                await workflow(gateway).arun(FACT, "why " * 1200)
    with (
        scripted_model(worker_or_manager, context_window=300),
        pytest.raises(ConfigError, match="window of fake/m leaves"),
    ):
        await run(document(), fake, data_dir)


@pytest.mark.parametrize("strategy", ["vanilla", "merge", "hierarchical"])
async def test_baselines_run_from_the_same_config(strategy: str, data_dir: Path) -> None:
    def model(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        if "Question:" in text and text.startswith(("Evidence:", "Facts:")):
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


def first_entry_quoter(messages: list[dict[str, Any]]) -> str:
    """Quotes one distinct sentence of every chunk, and answers 4471 from any evidence."""
    text = messages[-1]["content"]
    if text.startswith(("Evidence:", "Facts:")):
        return "4471"
    return f"- The tide tables for week {first_entry(text)} were posted at the harbour office."


async def test_evicted_quotes_are_counted_and_warned_about_once(data_dir: Path) -> None:
    with scripted_model(first_entry_quoter, context_window=1024) as fake:
        result = await run(document(), fake, data_dir, cu_tokens=64)
    kept = result.communication_units[-1].splitlines()
    assert 1 <= len(kept) < result.chunk_count  # one verified quote per chunk, not all fit
    assert result.evicted_quotes == result.chunk_count - len(kept)
    assert result.dropped_quotes == result.truncated_quotes == 0
    warnings = [w for w in result.warnings if "cu_tokens" in w]
    assert len(warnings) == 1
    assert f"{result.evicted_quotes} verified quotes were evicted" in warnings[0]
    assert "raise cu_tokens" in warnings[0]


async def test_nothing_is_evicted_or_warned_when_the_unit_has_room(data_dir: Path) -> None:
    with scripted_model(first_entry_quoter, context_window=2048) as fake:
        result = await run(document(), fake, data_dir, cu_tokens=1024)
    assert len(result.communication_units[-1].splitlines()) == result.chunk_count
    assert result.evicted_quotes == 0 and not result.warnings


async def test_a_quote_longer_than_the_unit_is_cut_at_a_sentence_end(data_dir: Path) -> None:
    long_quote = " ".join(
        [FACT]
        + [f"The tide tables for week {i} were posted at the harbour office." for i in range(12)]
    )

    def model(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        if text.startswith(("Evidence:", "Facts:")):
            return "4471" if "4471" in text else "NONE"
        return f"- {long_quote}"  # the whole paragraph as one quote

    with scripted_model(model, context_window=1024) as fake:
        result = await run(long_quote, fake, data_dir, cu_tokens=64)
    unit = result.communication_units[-1]
    assert unit.startswith(f'- "{FACT}') and unit.endswith('."')  # a whole-sentence prefix
    quoted = unit[3:-1]
    assert long_quote.startswith(quoted) and len(quoted) < len(long_quote)
    assert result.truncated_quotes == 1 and result.evicted_quotes == 0
    assert result.answer == "4471"  # the evidence survived
    assert any("cut" in w and "cu_tokens=64" in w for w in result.warnings)


def test_trimming_keeps_the_quotes_about_the_question_and_evicts_the_rest_oldest_first() -> None:
    def count(text: str) -> int:
        return len(text.split())

    texts = ["The Wend Bridge opened in 1887.", "Gulls nest on the quay.", "Nets dry at noon.",
             "The ferry runs at dawn.", "Salt was traded here."]  # fmt: skip
    quotes = [Quote(text=t, chunk=i, start=0, end=len(t)) for i, t in enumerate(texts)]
    question = "When was the Wend Bridge opened?"
    unit, evicted, _ = trim(CommunicationUnit(quotes=quotes), 18, count, question)
    assert [q.text for q in unit.quotes] == [texts[0], texts[3], texts[4]]  # source order kept
    assert evicted == 2
    unit, _, _ = trim(CommunicationUnit(quotes=quotes), 18, count)  # no question: oldest first
    assert [q.text for q in unit.quotes] == texts[2:]


def test_trimming_evicts_oldest_first_and_cuts_a_lone_long_quote() -> None:
    def count(text: str) -> int:
        return len(text.split())

    quotes = [Quote(text=f"q{i} a b c", chunk=i, start=0, end=8) for i in range(4)]
    unit, evicted, truncated = trim(CommunicationUnit(quotes=quotes), 10, count)
    assert [q.text for q in unit.quotes] == ["q2 a b c", "q3 a b c"]
    assert (evicted, truncated) == (2, 0)

    text = "First one here. Second sentence is longer than that. Third."
    long = Quote(text=text, chunk=0, start=10, end=10 + len(text))
    unit, evicted, truncated = trim(CommunicationUnit(quotes=[quotes[0], long]), 6, count)
    (cut,) = unit.quotes
    assert cut.text == "First one here." and cut.truncated
    assert (cut.start, cut.end) == (10, 10 + len("First one here."))
    assert (evicted, truncated) == (1, 1)
    unit, _, _ = trim(CommunicationUnit(quotes=[long]), 3, count)
    assert unit.quotes[0].text == "First one"  # no sentence fits: the last word gap that does
    cjk = Quote(text="東京タワーは1958年に完成した", chunk=0, start=0, end=15)
    unit, _, _ = trim(CommunicationUnit(quotes=[cjk]), 12, len)
    assert unit.quotes[0].text == "東京タワーは"  # no spaces: cut between characters, not in 1958


async def test_restated_quotes_are_counted_apart_from_invented_ones(data_dir: Path) -> None:
    def model(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        if text.startswith(("Evidence:", "Facts:")):
            return "4471" if "4471" in text else "NONE"
        if FACT in chunk_text(text):
            return (
                "- The vault's code was 4471, held by Ines Moreau.\n"  # a restatement
                "- The vault was painted green in 1902."  # invented
            )
        return "NONE"

    with scripted_model(model, context_window=1024) as fake:
        result = await run(document(), fake, data_dir)
    assert FACT in result.communication_units[-1]  # kept as the sentence it restates
    assert result.restated_quotes == 1 and result.dropped_quotes == 1
    assert result.answer == "4471"


def test_quotes_that_negate_differently_count_as_restated_not_verbatim() -> None:
    chunk = (
        "The keeper of the Saltmere light in 1890 was Thomas Reed of Kellport. "
        "The vault code wasn't 4471 after the spring of 1902."
    )
    negated = "The keeper of the Saltmere light in 1890 was not Thomas Reed of Kellport."
    cut = "The vault code was"  # a fragment whose whole last word is "wasn't"
    quotes, dropped, restated = verify_quotes([negated, cut], 0, chunk, CommunicationUnit())
    assert (dropped, restated) == (0, 2)
    assert [q.text for q in quotes] == [
        "The keeper of the Saltmere light in 1890 was Thomas Reed of Kellport.",
        "The vault code wasn't",
    ]
    assert all(chunk[q.start : q.end] == q.text for q in quotes)


async def test_rag_reads_the_most_similar_chunks_in_source_order(data_dir: Path) -> None:

    def model(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        return "4471" if "4471" in text else "NONE"

    with scripted_model(model, context_window=1024) as fake:
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            store = in_memory_store()
            options = {"strategy": "rag", "rag_top_k": 3}
            result = await workflow(gateway, store, **options).arun(document(120, 80), QUESTION)
            with pytest.raises(UsageError, match="rag strategy needs a query"):
                await workflow(gateway, store, **options).arun(document(120, 80), None)
    assert len(fake.calls) == 1 and result.answer == "4471"
    (read,) = result.communication_units
    prompt = fake.calls[0].messages[-1]["content"]
    assert read in prompt and FACT in read  # the fact's chunk ranked among the top 3
    chunks = read.split("\n\n")
    assert len(chunks) < 121  # far from the whole document
    entries = [int(n) for n in re.findall(r"Entry (\d+)\.", read)]
    assert entries == sorted(entries)  # in source order, whatever the ranking
    assert result.chunk_count > 3 and result.chunk_tokens <= baselines.RAG_CHUNK_TOKENS


async def test_multi_path_judge_picks_the_path_it_names(data_dir: Path) -> None:
    late = "The vault code was changed to 9902 in the spring."

    def model(messages: list[dict[str, Any]]) -> str:
        text = str(messages[-1]["content"])
        if "Candidates:" in text:
            return next(line[0] for line in text.splitlines() if "9902" in line)
        if text.startswith(("Evidence:", "Facts:")):  # answers from the last quote it was given
            codes = re.findall(r"\b(4471|9902)\b", text.split("Question:")[0])
            return codes[-1] if codes else "NONE"
        chunk = chunk_text(text)
        return "\n".join(f"- {s}" for s in (FACT, late) if s in chunk) or "NONE"

    body = document(60, 5).replace("Entry 50.", f"{late}\n\nEntry 50.")
    with scripted_model(model, context_window=1024) as fake:
        result = await run(body, fake, data_dir, paths=2, selector="judge")
    answers = [p.answer for p in result.paths]
    assert sorted(answers, key=str) == ["4471", "9902"]  # the two orders disagree
    judge = [c for c in fake.calls if "Candidates:" in c.messages[-1]["content"]]
    assert len(judge) == 1
    assert result.answer == "9902" and result.chosen_path == answers.index("9902")
    assert result.communication_units == result.paths[result.chosen_path].communication_units

    with scripted_model(
        lambda m: "no idea" if "Candidates:" in m[-1]["content"] else model(m),
        context_window=1024,
    ) as fake:
        voted = await run(body, fake, data_dir, paths=2, selector="judge")
    assert voted.chosen_path == 0 and "not a candidate number" in voted.warnings[0]


async def test_summarization_uses_running_summaries_and_the_last_one(data_dir: Path) -> None:
    def model(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        if text.startswith("Notes on a long document:"):
            return "The harbour posted tide tables; a vault code was kept."
        return f"notes up to entry {first_entry(text)}"

    with scripted_model(model, context_window=1024) as fake:
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            result = await workflow(gateway).arun(document(), None)
    prompts = [str(c.messages[-1]["content"]) for c in fake.calls]
    workers, manager = prompts[:-1], prompts[-1]
    assert len(workers) == result.chunk_count >= 4
    assert all("Question:" not in p and p.startswith("Source text (") for p in workers)
    for previous, prompt in zip(result.communication_units, workers[1:], strict=False):
        assert f"Summary of the previous source text:\n{previous}\n" in prompt
    assert manager.startswith("Notes on a long document:")
    assert result.communication_units[-1] in manager
    assert not any(unit in manager for unit in result.communication_units[:-1])
    assert result.query is None
    assert result.answer == "The harbour posted tide tables; a vault code was kept."
    assert int(fake.calls[-1].params["max_tokens"]) == 4 * config().answer_max_tokens


async def test_a_stored_document_is_read_by_its_id(tmp_path: Path, data_dir: Path) -> None:

    path = tmp_path / "harbour.md"
    path.write_text(document(), encoding="utf-8")
    store = in_memory_store()
    (outcome,) = await Ingester(store, FakeEmbedder()).ingest([path])
    assert outcome.doc_id
    with scripted_model(worker_or_manager, context_window=1024) as fake:
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            result = await workflow(gateway, store).arun(StoredDocument(outcome.doc_id), QUESTION)
            with pytest.raises(UsageError, match=r"'nope' .* is not in the store"):
                await workflow(gateway, store).arun(StoredDocument("nope"), QUESTION)
    assert result.answer == "4471"
    read = entries_read(fake.calls)
    assert [n for chunk in read for n in chunk] == list(range(60))  # the whole text, once


def test_local_models_get_a_default_chunk_cap_of_2048(data_dir: Path) -> None:

    big = 32_768
    models = {"big-local": ModelConfig(model="local/smollm2", context_window=big)}
    with scripted_model(worker_or_manager, context_window=big):
        gateway = Gateway(GatewayConfig(models=models), data_dir=data_dir)
        assert gateway.is_local("big-local") and not gateway.is_local("fake/m")
        hosted = plan_chunk_tokens(gateway, config(), QUESTION)
        local = plan_chunk_tokens(gateway, config(model="big-local"), QUESTION)
        chosen = plan_chunk_tokens(gateway, config(model="big-local", chunk_tokens=4000), QUESTION)
        capped = plan_chunk_tokens(
            gateway, config(model="big-local", local_chunk_cap=512), QUESTION
        )
    assert hosted > 2048  # the whole budget: window minus prompt, unit and output
    assert local == 2048 and chosen == 4000 and capped == 512


async def test_hierarchical_merges_say_which_parts_they_summarize(data_dir: Path) -> None:
    def model(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        if text.startswith(("Evidence:", "Facts:")):
            return "4471" if "4471" in text else "NONE"
        return "notes: " + " ".join(["tides"] * 150) + (" code 4471" if "4471" in text else "")

    with scripted_model(model, context_window=1024) as fake:
        result = await run(document(), fake, data_dir, strategy="hierarchical")
    labels = [
        found.group(1)
        for c in fake.calls
        if (found := re.match(r"Source text \((.*?)\):", c.messages[-1]["content"]))
    ]
    leaves = [label for label in labels if label.startswith("part ")]
    merges = [label for label in labels if label.startswith("summaries")]
    n = len(leaves)
    # leaves are summarised concurrently, so they reach the model in any order: each once
    assert sorted(leaves, key=lambda label: int(label.split()[1])) == [
        f"part {i} of {n}" for i in range(1, n + 1)
    ]
    assert merges and all(re.fullmatch(rf"summaries of parts \d+-\d+ of {n}", m) for m in merges)
    spans = [tuple(map(int, re.findall(r"\d+", m)[:2])) for m in merges]
    assert min(a for a, _ in spans) == 1 and max(b for _, b in spans) == n  # cover every part
    assert result.answer == "4471"


def test_the_judge_reply_names_a_listed_candidate_or_none() -> None:
    assert prompts.parse_choice("Candidate 1 is right", 3) == 1
    assert prompts.parse_choice("7", 3) is None
    assert prompts.parse_choice("the second one", 3) is None


async def test_the_run_reports_typed_events_and_usage_by_node(data_dir: Path) -> None:
    events: list[Event] = []
    with scripted_model(worker_or_manager, context_window=1024):
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            result = await workflow(gateway, paths=2).arun(
                document(), QUESTION, thread_id="events", on_event=events.append
            )
    finished = [e.node for e in events if isinstance(e, NodeFinished)]
    assert finished == ["worker"] * result.chunk_count + ["manager", "select"]
    assert isinstance(events[-1], RunFinished) and events[-1].result == result
    assert result.output == result.answer == "4471" and result.thread_id == "events"
    by_node = result.usage_by_node
    assert set(by_node) == {"worker", "manager"}  # select voted: it asked no model
    assert by_node["worker"]["model_calls"] == 2 * result.chunk_count  # a worker per path
    assert sum(u["model_calls"] for u in by_node.values()) == result.usage["model_calls"]


async def test_bad_inputs_are_refused_before_anything_is_stored(data_dir: Path) -> None:
    store = in_memory_store()
    with scripted_model(worker_or_manager, context_window=1024) as fake:
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            with pytest.raises(UsageError, match="input 'document' is required"):
                await workflow(gateway, store).arun(query=QUESTION)
            with pytest.raises(UsageError, match="rag strategy needs a query"):
                await workflow(gateway, store, strategy="rag").arun(document())
    assert not fake.calls
    assert not await store.asearch(chunks_ns(("default",)), limit=1)


@pytest.mark.parametrize(
    ("strategy", "nodes"),
    [("coa", {"worker", "manager", "select"}), ("merge", {"answer"}), ("rag", {"answer"})],
)
def test_the_graph_drawn_is_the_configured_strategys(strategy: str, nodes: set[str]) -> None:
    drawn = build_graph(config(strategy=strategy)).compile().get_graph()
    assert set(drawn.nodes) - {"__start__", "__end__"} == nodes


# --- evidence cited by sentence id ------------------------------------------------------------


def cites_fact(worker: Callable[[str], str], answer: str) -> Any:
    """Workers reply what `worker` makes of their prompt; the manager replies `answer`."""

    def model(messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        return answer if text.startswith("Facts:") else worker(text)

    return model


def fact_id(prompt: str) -> int:
    found = re.search(r"\[(\d+)\] " + re.escape(FACT), prompt)
    return int(found.group(1)) if found else 0


def citing_worker(also: str = "") -> Callable[[str], str]:
    """A worker that cites FACT by its id where its chunk holds it (then `also`), else NONE."""
    return lambda prompt: f"[{fact_id(prompt)}]{also}" if fact_id(prompt) else "NONE"


async def test_a_cited_sentence_id_hands_on_its_verbatim_text(data_dir: Path) -> None:
    worker = citing_worker()
    with scripted_model(cites_fact(worker, "4471 [1]"), context_window=1024) as fake:
        result = await run(document(), fake, data_dir)
    assert result.communication_units[-1] == f'- "{FACT}"'
    assert result.answer == "4471" and result.reason == "answered from the evidence"
    assert result.dropped_quotes == result.invalid_ids == 0


async def test_an_invalid_sentence_id_is_dropped_and_reported(data_dir: Path) -> None:
    worker = citing_worker("\n[999]")
    with scripted_model(cites_fact(worker, "4471 [1]"), context_window=1024) as fake:
        result = await run(document(), fake, data_dir)
    assert result.communication_units[-1] == f'- "{FACT}"'
    assert result.invalid_ids == 1 and result.dropped_quotes == 1
    assert "1 sentence ids the workers cited do not exist in their chunks; dropped" in (
        result.warnings
    )


async def test_the_manager_abstains_when_its_cited_evidence_does_not_hold_the_answer(
    data_dir: Path,
) -> None:
    worker = citing_worker()
    with scripted_model(cites_fact(worker, "1234 [1]"), context_window=1024) as fake:
        result = await run(document(), fake, data_dir)
    assert result.answer is None
    assert result.reason == (
        "the answer '1234' is not supported by the cited fact 1: '1234' does not occur in it"
    )
    with scripted_model(cites_fact(worker, "NONE. It is not said."), context_window=1024) as fake:
        result = await run(document(), fake, data_dir)
    assert result.answer is None and result.reason == "It is not said"


async def test_evidence_not_about_what_the_question_names_is_not_answered_from(
    data_dir: Path,
) -> None:
    worker = citing_worker()

    def never_asked(messages: list[dict[str, Any]]) -> str:
        assert not messages[-1]["content"].startswith("Facts:"), "the manager is not asked"
        return worker(messages[-1]["content"])

    with scripted_model(never_asked, context_window=1024):
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            result = await workflow(gateway).arun(
                document(), "What is the code of the Ardel vault?"
            )
    assert result.answer is None
    assert result.reason == "no evidence mentions what the question names (ardel)"
