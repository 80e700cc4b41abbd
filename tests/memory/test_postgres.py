"""Postgres checkpoints: a failed run resumes from them (needs a local PostgreSQL install)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway, GatewayConfig, ModelConfig, RetryPolicy
from agentrun.agents.fake_server import FakeError, FakeOpenAIServer
from agentrun.graphs.chain_of_agents import ChainOfAgents
from agentrun.memory import in_memory_store
from agentrun.memory.checkpoint import checkpointer
from tests.memory import coa_child

pytestmark = pytest.mark.server


async def test_a_failed_run_resumes_from_postgres_checkpoints(
    postgres_url: str, data_dir: Path
) -> None:
    retry = RetryPolicy(max_attempts=1, initial_backoff_s=0.0, jitter_s=0.0)
    fail_at = 0

    def reply(body: dict[str, Any]) -> str:
        if len(server.chat_requests()) == fail_at:
            server.script([FakeError(400, message="bad request")])
        return coa_child.fake_reply(body)

    with FakeOpenAIServer(reply=reply) as server:
        model = ModelConfig(model="openai/fake", api_base=server.url, context_window=1024)
        config = GatewayConfig(models={"m": model}, retry=retry)
        store = in_memory_store()
        async with Gateway(config, data_dir=data_dir, cache=False) as gateway:

            def workflow(saver: Any) -> ChainOfAgents:
                return ChainOfAgents(
                    coa_child.CONFIG, gateway=gateway, store=store, checkpointer=saver
                )

            async with checkpointer(url=postgres_url) as saver:
                baseline = await workflow(saver).arun(
                    coa_child.document(), coa_child.QUERY, thread_id="pg-base"
                )
            uninterrupted = len(server.chat_requests())
            server.reset()
            fail_at = 2  # the third request gets a non-retryable error
            async with checkpointer(url=postgres_url) as saver:
                with pytest.raises(Exception, match="bad request"):
                    await workflow(saver).arun(
                        coa_child.document(), coa_child.QUERY, thread_id="pg-fail"
                    )
            failed_at = len(server.chat_requests())
            async with checkpointer(
                url=postgres_url
            ) as saver:  # a new connection, as after a crash
                resumed = await workflow(saver).aresume("pg-fail")
    assert failed_at == 3
    assert len(server.chat_requests()) == uninterrupted + 1  # only the failed call is repeated
    assert resumed.answer == baseline.answer
    assert resumed.communication_units == baseline.communication_units


async def test_postgres_errors_are_clear() -> None:
    from agentrun.errors import ConfigError

    with pytest.raises(ConfigError, match=r"cannot connect to the checkpoint database "
                       r"postgresql://u:\*\*\*@127.0.0.1:9/db"):  # fmt: skip
        async with checkpointer(url="postgresql://u:pw@127.0.0.1:9/db"):
            pass
