"""The response cache: hits make no model call; sampled calls without a seed are opt-in; keys
hold no secrets."""

from __future__ import annotations

import stat
from pathlib import Path

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.cache import request_key, response_cache
from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.cli import run as cli
from tests.conftest import FAST_RETRY, fake_gateway


async def test_identical_temperature_zero_call_is_a_hit_with_no_model_call(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    async with fake_gateway(fake_server, data_dir) as gateway:
        first = await gateway.acomplete("m", "what is 2+2?")
        second = await gateway.acomplete("m", "what is 2+2?")
    assert len(fake_server.chat_requests()) == 1
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second.text == first.text
    totals = gateway.ledger.total()
    assert (totals.calls, totals.model_calls, totals.cache_hits) == (2, 1, 1)


async def test_sampled_calls_are_not_cached_unless_asked(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    async with fake_gateway(fake_server, data_dir) as gateway:
        await gateway.acomplete("m", "tell a story", temperature=0.8)
        await gateway.acomplete("m", "tell a story", temperature=0.8)
        assert len(fake_server.chat_requests()) == 2
        await gateway.acomplete("m", "tell a story", temperature=0.8, cache=True)
        hit = await gateway.acomplete("m", "tell a story", temperature=0.8, cache=True)
    assert hit.cache_hit
    assert len(fake_server.chat_requests()) == 3


async def test_seeded_sampled_calls_are_cached_per_seed(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    # a seed makes a sampled call repeatable, so it is cached like a greedy one (per seed)
    async with fake_gateway(fake_server, data_dir) as gateway:
        first = await gateway.acomplete("m", "tell a story", temperature=0.8, seed=0)
        again = await gateway.acomplete("m", "tell a story", temperature=0.8, seed=0)
        other = await gateway.acomplete("m", "tell a story", temperature=0.8, seed=1)
    assert (first.cache_hit, again.cache_hit, other.cache_hit) == (False, True, False)
    assert [r.body["seed"] for r in fake_server.chat_requests()] == [0, 1]


async def test_cache_off_per_call_and_per_run(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    async with fake_gateway(fake_server, data_dir) as gateway:
        await gateway.acomplete("m", "x", cache=False)
        await gateway.acomplete("m", "x", cache=False)
    model = ModelConfig(model="openai/fake", api_base=fake_server.url)
    config = GatewayConfig(models={"m": model}, retry=FAST_RETRY)
    async with Gateway(config, data_dir=data_dir, cache=False) as no_cache_run:
        await no_cache_run.acomplete("m", "y")
        await no_cache_run.acomplete("m", "y", cache=True)
    assert len(fake_server.chat_requests()) == 4
    assert len(response_cache(data_dir)) == 0


async def test_entries_are_private_files(fake_server: FakeOpenAIServer, data_dir: Path) -> None:
    async with fake_gateway(fake_server, data_dir) as gateway:
        await gateway.acomplete("m", "private")
    files = list(response_cache(data_dir).root.rglob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_key_ignores_credentials_headers_and_timeouts() -> None:
    base = {"model": "openai/x", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    assert request_key(base) == request_key(
        {**base, "api_key": "sk-secret", "extra_headers": {"a": "b"}, "timeout": 3}
    )
    assert request_key(base) != request_key({**base, "temperature": 0.5})
    assert request_key(base) != request_key(
        {**base, "messages": [{"role": "user", "content": "ho"}]}
    )


async def test_cli_cache_clear_removes_entries(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    async with fake_gateway(fake_server, data_dir) as gateway:
        await gateway.acomplete("m", "one")
        await gateway.acomplete("m", "two")
    assert len(response_cache(data_dir)) == 2
    assert cli(["--data-dir", str(data_dir), "cache", "clear"]) == 0
    assert len(response_cache(data_dir)) == 0
