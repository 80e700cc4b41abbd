"""Model names, credentials, the sync twin, streaming, logging hygiene and fake isolation."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.agents.testing import scripted_model
from agentrun.errors import MissingAPIKeyError, UnknownModelError
from tests.conftest import fake_gateway


def test_unknown_model_name_is_a_clear_error(data_dir: Path) -> None:
    with pytest.raises(UnknownModelError, match=r"'gpt-nonsense'.*provider/model"):
        Gateway(data_dir=data_dir).resolve("gpt-nonsense")


async def test_missing_api_key_fails_before_any_request(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with Gateway(data_dir=data_dir) as gateway:
        with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
            await gateway.acomplete("openai/gpt-4o-mini", "hi")
    config = GatewayConfig(models={"m": ModelConfig(model="openai/x", api_key_env="MY_KEY")})
    monkeypatch.delenv("MY_KEY", raising=False)
    async with Gateway(config, data_dir=data_dir) as gateway:
        with pytest.raises(MissingAPIKeyError, match="MY_KEY"):
            await gateway.acomplete("m", "hi")


def test_sync_twin_works_from_plain_code(fake_server: FakeOpenAIServer, data_dir: Path) -> None:
    with fake_gateway(fake_server, data_dir) as gateway:
        assert gateway.complete("m", "ping").text == "pong"
        assert gateway.complete("m", "ping").cache_hit


async def test_streamed_text_arrives_in_pieces_and_adds_up(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    fake_server.reply = "one two three four"
    pieces: list[str] = []
    async with fake_gateway(fake_server, data_dir) as gateway:
        completion = await gateway.acomplete("m", "count", on_text=pieces.append, cache=False)
    assert len(pieces) == 4
    assert "".join(pieces) == completion.text == "one two three four"
    assert completion.completion_tokens > 0


async def test_ledger_aggregates_per_node_and_run(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    from agentrun.agents import current_run

    async with fake_gateway(fake_server, data_dir) as gateway:
        token = current_run.set("run-1")
        await gateway.acomplete("m", "a", node="worker", cache=False)
        await gateway.acomplete("m", "b", node="worker", cache=False)
        await gateway.acomplete("m", "c", node="manager", cache=False)
        current_run.reset(token)
    by_node = gateway.ledger.by_node()
    assert (by_node["worker"].calls, by_node["manager"].calls) == (2, 1)
    assert gateway.ledger.by_run()["run-1"].calls == 3
    assert all(record.prompt_tokens > 0 for record in gateway.ledger.records)


async def test_secrets_are_redacted_from_events(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from agentrun.logs import get_logger

    caplog.set_level(logging.INFO, logger="agentrun")
    get_logger("test").info("call", api_key="sk-abcdefghijklmnop", note="Bearer abcdefghijkl")
    [record] = [r for r in caplog.records if r.name == "agentrun.test"]
    assert record.msg["api_key"] == "[redacted]"
    assert "abcdefghijkl" not in record.msg["note"]


def test_importing_agentrun_configures_nothing() -> None:
    code = (
        "import logging, os, sys; before = dict(os.environ); import agentrun, agentrun.agents;"
        "from agentrun.agents import Gateway; Gateway();"
        "assert dict(os.environ) == before, 'environment changed';"
        "assert logging.getLogger().handlers == [], 'root logging configured';"
        "assert 'litellm' not in sys.modules, 'litellm imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


def test_scripted_model_leaves_litellm_as_it_found_it() -> None:
    import litellm

    before = (
        list(litellm.custom_provider_map),
        list(litellm.provider_list),
        list(litellm._custom_providers),
    )
    with scripted_model(["hi"]) as fake:
        assert "fake" in litellm.provider_list
        assert (
            litellm.completion(model="fake/x", messages=[{"role": "user", "content": "q"}])
            .choices[0]
            .message.content
            == "hi"
        )
        assert len(fake.calls) == 1
    after = (
        list(litellm.custom_provider_map),
        list(litellm.provider_list),
        list(litellm._custom_providers),
    )
    assert after == before
