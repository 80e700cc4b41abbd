"""Per-model concurrency and rate limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.fake_server import FakeOpenAIServer
from tests.conftest import FAST_RETRY


async def test_concurrency_limit_is_respected(data_dir: Path) -> None:
    with FakeOpenAIServer(latency_s=0.15) as server:
        model = ModelConfig(model="openai/x", api_base=server.url, max_concurrency=2)
        async with Gateway(
            GatewayConfig(models={"m": model}), data_dir=data_dir, cache=False
        ) as gw:
            await asyncio.gather(*(gw.acomplete("m", f"q{i}") for i in range(6)))
        assert len(server.chat_requests()) == 6
        assert server.max_in_flight == 2


async def test_limits_are_per_model(data_dir: Path) -> None:
    with FakeOpenAIServer(latency_s=0.15) as server:
        config = GatewayConfig(
            models={
                "a": ModelConfig(model="openai/a", api_base=server.url, max_concurrency=1),
                "b": ModelConfig(model="openai/b", api_base=server.url, max_concurrency=1),
            }
        )
        async with Gateway(config, data_dir=data_dir, cache=False) as gw:
            await asyncio.gather(gw.acomplete("a", "1"), gw.acomplete("b", "2"))
        assert server.max_in_flight == 2


async def test_requests_per_minute_holds_back_the_next_request(data_dir: Path) -> None:
    with FakeOpenAIServer() as server:
        model = ModelConfig(model="openai/x", api_base=server.url, rpm=1)
        config = GatewayConfig(models={"m": model}, retry=FAST_RETRY)
        async with Gateway(config, data_dir=data_dir, cache=False) as gw:
            await gw.acomplete("m", "first")
            second = asyncio.create_task(gw.acomplete("m", "second"))
            await asyncio.sleep(0.5)
            assert not second.done()
            second.cancel()
        assert len(server.chat_requests()) == 1


async def test_tokens_per_minute_counts_prompt_and_output(data_dir: Path) -> None:
    with FakeOpenAIServer() as server:
        model = ModelConfig(model="openai/x", api_base=server.url, tpm=300, max_tokens=100)
        config = GatewayConfig(models={"m": model}, retry=FAST_RETRY)
        async with Gateway(config, data_dir=data_dir, cache=False) as gw:
            await gw.acomplete("m", "word " * 100)
            second = asyncio.create_task(gw.acomplete("m", "word " * 100))
            await asyncio.sleep(0.5)
            assert not second.done()
            second.cancel()
        assert len(server.chat_requests()) == 1
