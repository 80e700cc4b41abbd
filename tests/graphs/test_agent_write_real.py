"""AgentWrite on the embedded model: wiring (plan, sections, counts, tokens), not quality."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway
from agentrun.graphs import agent_write as aw
from agentrun.text.words import count_words

pytestmark = pytest.mark.real_model


async def test_a_short_target_completes_with_a_valid_plan(local_gateway: Gateway) -> None:
    # A 120-word target in sections of 40-80 words gives two sections; one outline attempt, no
    # extension calls, no headroom and an extractive summary keep it to three short calls (plan,
    # two sections), so the run is bounded by tokens, not by how busy the machine is.
    config = aw.AgentWriteConfig(
        plan_attempts=1, plan_fallback="outline", fix_attempts=0, summary="extractive",
        headroom=1.0, single_section_below=0, min_section_words=40, max_section_words=80,
        section_words=60, temperature=0.0,
    )  # fmt: skip
    writer = aw.AgentWrite(
        config, gateway=local_gateway, store=InMemoryStore(), checkpointer=InMemorySaver()
    )
    result = await writer.arun("Write a 120-word article about the history of tea.")
    assert result.target_words == 120 and result.target_source == "instruction"
    # a valid plan: budgets sum to the target, each section within the size bounds
    low, high = config.bounds.count_range(120)
    assert 2 <= low <= len(result.plan) <= high
    assert sum(s.words for s in result.plan) == 120
    assert all(config.min_section_words <= s.words <= config.max_section_words for s in result.plan)
    assert all(s.point.strip() for s in result.plan)
    # every planned section written, counted, and in the document
    assert [s.index for s in result.sections] == list(range(len(result.plan)))
    assert all(s.words == count_words(s.text) > 0 for s in result.sections)
    assert all(s.text in result.markdown for s in result.sections)
    assert result.words == count_words(result.markdown) > 0
    # tokens counted for every call that was sent
    writes = [p for p in result.prompts if str(p["node"]).startswith("write[")]
    assert len(writes) == len(result.plan)
    usage = result.usage
    assert usage["model_calls"] >= len(result.prompts) >= len(result.plan)
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
