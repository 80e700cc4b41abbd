"""Navigation with the embedded SmolLM2 model, for real: wiring only, not success."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway
from agentrun.graphs.navigation import Navigation, NavigationConfig
from agentrun.graphs.navigation.city import CityConfig, sample_tasks

pytestmark = pytest.mark.real_model


async def test_a_three_hop_episode_runs_on_the_embedded_model(local_gateway: Gateway) -> None:
    task = sample_tasks(CityConfig(seed=21), 1, seed=21, min_hops=3, max_hops=3)[0]
    assert task.step_limit == 8
    workflow = Navigation(
        NavigationConfig(strategy="prep"), gateway=local_gateway, store=InMemoryStore(),
        checkpointer=InMemorySaver(),
    )  # fmt: skip
    result = await workflow.arun(task)
    assert 1 <= result.steps <= 8
    assert 1 <= result.decisions <= result.steps  # the first step always offers a choice
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    assert 0.0 <= result.spl <= 1.0
    assert result.success == (result.spl > 0)
