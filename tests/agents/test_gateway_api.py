"""Model names, credentials, the sync twin, streaming, logging hygiene and fake isolation."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.fake_server import FakeError, FakeOpenAIServer
from agentrun.agents.testing import scripted_model
from agentrun.errors import MissingAPIKeyError, UnknownModelError
from tests.conftest import FAST_RETRY, fake_gateway


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
    get_logger("test").info(
        "call",
        api_key="sk-abcdefghijklmnop",
        note="Bearer abcdefghijkl",
        headers={"Authorization": "Basic dXNlcjpwYXNz", "x-api-key": "k1", "accept": "json"},
        password="hunter22",
        access_token="at-1",
        refreshToken="rt-1",
        token="t-1",
        prompt_tokens=12,
        completion_tokens=3,
        tokens_per_minute=90_000,
        max_tokens=64,
        token_count=15,
    )
    [record] = [r for r in caplog.records if r.name == "agentrun.test"]
    event = record.msg
    for key in ("api_key", "password", "access_token", "refreshToken", "token"):
        assert event[key] == "[redacted]", key
    assert event["headers"] == {
        "Authorization": "[redacted]",
        "x-api-key": "[redacted]",
        "accept": "json",
    }
    assert "abcdefghijkl" not in event["note"]
    counts = (
        "prompt_tokens",
        "completion_tokens",
        "tokens_per_minute",
        "max_tokens",
        "token_count",
    )
    assert [event[key] for key in counts] == [12, 3, 90_000, 64, 15]


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


async def test_a_scripted_model_out_of_replies_fails_at_once(data_dir: Path) -> None:
    from agentrun.agents.testing import ScriptExhaustedError

    models = {"m": ModelConfig(model="fake/m", fallbacks=["fake/other"])}
    with scripted_model(["only reply"]) as fake:
        async with Gateway(GatewayConfig(models=models), data_dir=data_dir, cache=False) as gw:
            await gw.acomplete("m", "first")
            started = time.perf_counter()
            with pytest.raises(ScriptExhaustedError, match=r"no reply for call 2 \(its script"):
                await gw.acomplete("m", "second")
            with pytest.raises(ScriptExhaustedError, match="no reply for call 3"):
                await gw.acomplete("m", "streamed", on_text=lambda _text: None)
    assert time.perf_counter() - started < 1.0  # the default policy would back off for seconds
    assert len(fake.calls) == 3  # neither retried nor fallen back


async def test_an_exception_of_the_script_fails_at_once_and_is_the_cause(
    data_dir: Path,
) -> None:
    from agentrun.errors import ScriptedModelError

    class FixtureBug(Exception):
        pass

    scripted = ValueError("bad fixture")

    def reply(messages: list[dict[str, object]]) -> str:
        raise FixtureBug("reply function failed")

    models = {"m": ModelConfig(model="fake/m", fallbacks=["fake/other"])}
    async with Gateway(GatewayConfig(models=models), data_dir=data_dir, cache=False) as gateway:
        with scripted_model([scripted]) as fake:
            started = time.perf_counter()
            with pytest.raises(ScriptedModelError, match=r"'m'.*raised ValueError: bad fixture"):
                await gateway.acomplete("m", "hi")
            assert time.perf_counter() - started < 1.0
            assert len(fake.calls) == 1
        with scripted_model(reply) as fake:
            with pytest.raises(ScriptedModelError, match="FixtureBug: reply function failed") as e:
                await gateway.acomplete("m", "hi", on_text=lambda _text: None)
            assert len(fake.calls) == 1
    assert isinstance(e.value.__cause__, FixtureBug)
    assert [r.error for r in gateway.ledger.records] == ["ScriptedModelError"] * 2


async def test_a_scripted_provider_error_is_still_retried(data_dir: Path) -> None:
    import litellm

    limited = litellm.RateLimitError("slow down", llm_provider="fake", model="m")
    config = GatewayConfig(retry=FAST_RETRY)
    with scripted_model([limited, "after the retry"]) as fake:
        async with Gateway(config, data_dir=data_dir, cache=False) as gateway:
            completion = await gateway.acomplete("fake/m", "hi")
    assert (completion.text, completion.retries, len(fake.calls)) == ("after the retry", 1, 2)


async def test_a_failed_call_is_recorded_and_aggregated(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    from agentrun.agents import current_run
    from agentrun.errors import ModelCallError

    fake_server.script([FakeError(503)] * FAST_RETRY.max_attempts)
    async with fake_gateway(fake_server, data_dir) as gateway:
        token = current_run.set("run-1")
        with pytest.raises(ModelCallError, match="gave up after 3 attempts"):
            await gateway.acomplete("m", "a", node="worker", cache=False)
        await gateway.acomplete("m", "b", node="worker", cache=False)
        current_run.reset(token)
    failed, answered = gateway.ledger.records
    assert (failed.error, failed.attempts, failed.retries) == ("ModelCallError", 3, 2)
    assert (failed.prompt_tokens, failed.completion_tokens, failed.cost_usd) == (0, 0, 0.0)
    assert failed.latency_s > 0 and failed.model == "m" and failed.node == "worker"
    assert (answered.error, answered.attempts, answered.retries) == (None, 1, 0)
    assert len(fake_server.chat_requests()) == 4
    for usage in (
        gateway.ledger.by_node()["worker"],
        gateway.ledger.by_run()["run-1"],
        gateway.ledger.by_model()["m"],
        gateway.ledger.total(),
    ):
        assert (usage.calls, usage.model_calls, usage.failed_calls) == (1, 1, 1)
        assert (usage.attempts, usage.retries) == (4, 2)
        assert usage.prompt_tokens == answered.prompt_tokens > 0
        assert usage.latency_s == pytest.approx(failed.latency_s + answered.latency_s)


async def test_a_failed_fallback_chain_is_recorded_on_the_last_model(data_dir: Path) -> None:
    from agentrun.errors import ModelCallError

    with FakeOpenAIServer(error_rate=1.0, error_status=500) as broken:
        config = GatewayConfig(
            models={
                "a": ModelConfig(model="openai/a", api_base=broken.url, fallbacks=["b"]),
                "b": ModelConfig(model="openai/b", api_base=broken.url),
            },
            retry=FAST_RETRY,
        )
        async with Gateway(config, data_dir=data_dir, cache=False) as gateway:
            with pytest.raises(ModelCallError):
                await gateway.acomplete("a", "ping")
        sent = len(broken.chat_requests())
    [record] = gateway.ledger.records
    assert (record.model, record.requested_model, record.fallbacks) == ("b", "a", 1)
    assert record.attempts == sent == 2 * FAST_RETRY.max_attempts
    assert record.retries == 2 * (FAST_RETRY.max_attempts - 1)
    assert gateway.ledger.by_model()["b"].failed_calls == 1


async def test_aclose_also_ends_the_sync_api_loop(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    gateway = fake_gateway(fake_server, data_dir)
    before = set(threading.enumerate())
    assert (await asyncio.to_thread(gateway.complete, "m", "ping")).text == "pong"
    [loop_thread] = [t for t in set(threading.enumerate()) - before if t.name == "agentrun-gateway"]
    await gateway.aclose()
    assert not loop_thread.is_alive()
    # The sync API still works afterwards, on a new loop that close() ends again.
    assert gateway.complete("m", "ping", cache=False).text == "pong"
    gateway.close()


async def test_a_scripted_connection_error_is_an_unreachable_endpoint(data_dir: Path) -> None:
    from agentrun.errors import EndpointUnreachableError

    lost = ConnectionError("the model server went away")
    with scripted_model([lost], repeat_last=True) as fake:
        async with Gateway(GatewayConfig(retry=FAST_RETRY), data_dir=data_dir) as gateway:
            with pytest.raises(EndpointUnreachableError, match="nothing answered"):
                await gateway.acomplete("fake/m", "hi")
    assert len(fake.calls) == FAST_RETRY.max_attempts
