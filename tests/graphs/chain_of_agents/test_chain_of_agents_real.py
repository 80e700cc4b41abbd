"""Chain of agents on the embedded model: wiring, not answer quality."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway
from agentrun.graphs.chain_of_agents import ChainOfAgents, ChainOfAgentsConfig

pytestmark = pytest.mark.real_model

DOCUMENT = "\n\n".join(
    [
        "Saltmere is a small harbour town on a windy coast. Fishing boats leave before dawn.",
        "The harbour wall was finished in 1734. It is built of grey granite blocks.",
        "The lighthouse keeper in 1890 was a woman named Maren Holt.",
        "Every summer the town holds a lantern festival on the quay.",
        "The railway reached the town in 1862 and brought visitors from the city.",
        "The old cannery closed in 1968 and is now a museum of the fishing trade.",
    ]
)


async def test_free_chain_completes_on_the_embedded_model(local_gateway: Gateway) -> None:
    # Few output tokens per call bound the run (about 10 s on an idle machine) however busy it is.
    config = ChainOfAgentsConfig(
        cu_format="free", chunk_tokens=60, cu_tokens=96, worker_max_tokens=40, answer_max_tokens=16
    )
    workflow = ChainOfAgents(
        config, gateway=local_gateway, store=InMemoryStore(), checkpointer=InMemorySaver()
    )
    result = await workflow.arun(DOCUMENT, "Who was the lighthouse keeper in 1890?")
    assert result.chunk_count >= 2
    assert len(result.communication_units) == result.chunk_count
    assert result.answer
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    assert result.usage["model_calls"] == result.chunk_count + 1


async def test_evidence_chain_completes_on_the_embedded_model(local_gateway: Gateway) -> None:
    config = ChainOfAgentsConfig(
        chunk_tokens=60, cu_tokens=128, worker_max_tokens=24, answer_max_tokens=16
    )
    workflow = ChainOfAgents(
        config, gateway=local_gateway, store=InMemoryStore(), checkpointer=InMemorySaver()
    )
    result = await workflow.arun(DOCUMENT, "Who was the lighthouse keeper in 1890?")
    assert result.chunk_count >= 2
    for unit in result.communication_units:  # every quote handed on is source text, verbatim
        for line in unit.splitlines():
            assert line.startswith('- "') and line[3:-1] in DOCUMENT
    assert result.answer is not None or result.reason
    assert result.usage["model_calls"] <= result.chunk_count + 1
