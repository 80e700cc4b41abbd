"""AgentWrite on the embedded model: wiring (plan, sections, counts, tokens), not quality."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway
from agentrun.graphs import agent_write as aw
from agentrun.tools.words import count_words

pytestmark = pytest.mark.real_model


async def test_a_1000_word_target_completes_with_a_valid_plan(local_gateway: Gateway) -> None:
    # One outline attempt, one fix per section and no headroom keep the run short (5 calls);
    # the planner's outline or the generic one, either way the plan must be valid.
    config = aw.AgentWriteConfig(
        plan_attempts=1, plan_fallback="outline", fix_attempts=1, summary="extractive",
        headroom=1.0,
    )  # fmt: skip
    result = await aw.arun(
        "Write a 1000-word article about the history of tea.", config=config,
        gateway=local_gateway, store=InMemoryStore(), checkpointer=InMemorySaver(),
    )  # fmt: skip
    assert result.target_words == 1000 and result.target_source == "instruction"
    assert result.plan_source in ("model", "outline")
    assert sum(s.words for s in result.plan) == 1000 and len(result.plan) == 2
    assert [s.index for s in result.sections] == [0, 1]
    assert all(s.words > 0 for s in result.sections)
    assert result.words == count_words(result.markdown) > 0
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    writes = [p for p in result.prompts if str(p["node"]).startswith("write[")]
    assert len(writes) == 2
