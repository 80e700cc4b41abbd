"""Retrieve-then-reason on the embedded model: wiring and a well-formed result, not quality."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway
from agentrun.graphs import retrieve_then_reason as rtr

pytestmark = pytest.mark.real_model

DOCUMENT = (
    "Saltmere is a small harbour town on a windy coast. Fishing boats leave before dawn. "
    "The harbour wall was finished in 1734. The lighthouse keeper in 1890 was a woman named "
    "Maren Holt. Every summer the town holds a lantern festival on the quay."
)


async def test_verified_run_completes_on_the_embedded_model(local_gateway: Gateway) -> None:
    config = rtr.RetrieveThenReasonConfig(extract_max_tokens=96, answer_max_tokens=32)
    workflow = rtr.RetrieveThenReason(
        config, gateway=local_gateway, store=InMemoryStore(), checkpointer=InMemorySaver()
    )
    result = await workflow.arun(DOCUMENT, "Who was the lighthouse keeper in 1890?")
    assert result.prompting == "references" and result.chunk_count == 1
    for fact in result.facts:  # every fact the reasoner saw is verbatim source text
        assert fact.start is not None and fact.end is not None
        assert DOCUMENT[fact.start : fact.end] == fact.text
    stats = result.stats
    assert stats.proposed >= stats.not_found
    assert stats.not_found == stats.recovered + stats.paraphrased + stats.dropped
    assert set(result.shown) <= {fact.id for fact in result.facts}
    assert result.answer is not None or result.reason
    assert set(result.cited) <= {fact.id for fact in result.facts}
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    assert result.usage["model_calls"] == len(result.prompts) >= 1
