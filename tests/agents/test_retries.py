"""Retries, Retry-After, fallbacks and error mapping, asserted by what the fake server saw."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import pytest

from agentrun.agents import Gateway, GatewayConfig, ModelConfig, RetryPolicy
from agentrun.agents.fake_server import FakeError, FakeMalformed, FakeOpenAIServer
from agentrun.errors import (
    AuthenticationFailedError,
    ContextLengthError,
    EndpointUnreachableError,
    ModelCallError,
    RetryAfterTooLongError,
)
from tests.conftest import FAST_RETRY, fake_gateway


async def test_429_is_retried_and_succeeds(fake_server: FakeOpenAIServer, data_dir: Path) -> None:
    fake_server.script([FakeError(429), FakeError(503)])
    async with fake_gateway(fake_server, data_dir) as gateway:
        completion = await gateway.acomplete("m", "ping", cache=False)
    assert completion.text == "pong"
    assert completion.retries == 2
    assert len(fake_server.chat_requests()) == 3
    assert gateway.ledger.total().retries == 2


async def test_retry_after_is_honoured_and_litellm_sends_nothing_extra(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    fake_server.script([FakeError(429, retry_after=2)])
    async with fake_gateway(fake_server, data_dir) as gateway:
        await gateway.acomplete("m", "ping", cache=False)
    first, second = fake_server.chat_requests()
    assert 1.95 <= second.at - first.at < 3.0


async def test_retry_after_beyond_the_maximum_fails_and_names_the_delay(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    fake_server.script([FakeError(429, retry_after=120)])
    async with fake_gateway(fake_server, data_dir) as gateway:
        with pytest.raises(RetryAfterTooLongError, match="120 s"):
            await gateway.acomplete("m", "ping", cache=False)
    assert len(fake_server.chat_requests()) == 1


@pytest.mark.parametrize(
    ("status", "error"), [(400, ModelCallError), (401, AuthenticationFailedError)]
)
async def test_no_retry_and_no_fallback_on_client_errors(
    data_dir: Path, status: int, error: type[Exception]
) -> None:
    with FakeOpenAIServer() as primary, FakeOpenAIServer() as backup:
        primary.script([FakeError(status)])
        config = GatewayConfig(
            models={
                "a": ModelConfig(model="openai/a", api_base=primary.url, fallbacks=["b"]),
                "b": ModelConfig(model="openai/b", api_base=backup.url),
            },
            retry=FAST_RETRY,
        )
        async with Gateway(config, data_dir=data_dir) as gateway:
            with pytest.raises(error):
                await gateway.acomplete("a", "ping", cache=False)
        assert len(primary.chat_requests()) == 1
        assert backup.chat_requests() == []


async def test_a_key_the_provider_echoes_is_masked_in_the_error_and_the_logs(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Some providers quote the key they refused; it is shaped like no known key here."""
    key = "canary-key-0b9e1d77c2"
    monkeypatch.setenv("CANARY_KEY", key)
    caplog.set_level(logging.DEBUG, logger="agentrun")
    with FakeOpenAIServer() as server:
        server.script([FakeError(500, message=f"upstream said: bad key {key}"),
                       FakeError(401, message=f"Incorrect API key provided: {key}.")])  # fmt: skip
        model = ModelConfig(model="openai/a", api_base=server.url, api_key_env="CANARY_KEY")
        config = GatewayConfig(models={"a": model}, retry=FAST_RETRY)
        async with Gateway(config, data_dir=data_dir) as gateway:
            with pytest.raises(AuthenticationFailedError) as raised:
                await gateway.acomplete("a", "ping", cache=False)
    assert "Incorrect API key provided: [redacted]" in str(raised.value)
    assert key not in str(raised.value) and key not in caplog.text


async def test_fallback_in_order_after_retries_are_spent(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        FakeOpenAIServer(error_rate=1.0, error_status=500) as broken,
        FakeOpenAIServer(reply="from c") as healthy,
    ):
        config = GatewayConfig(
            models={
                "a": ModelConfig(model="openai/a", api_base=broken.url, fallbacks=["b", "c"]),
                "b": ModelConfig(model="openai/b", api_base=broken.url),
                "c": ModelConfig(model="openai/c", api_base=healthy.url),
            },
            retry=FAST_RETRY,
        )
        caplog.set_level(logging.INFO, logger="agentrun")
        async with Gateway(config, data_dir=data_dir) as gateway:
            completion = await gateway.acomplete("a", "ping", cache=False)
        models_tried = [r.body["model"] for r in broken.chat_requests()]
    assert completion.text == "from c"
    assert completion.model == "c"
    assert completion.fallbacks == 2
    assert models_tried == ["a", "a", "a", "b", "b", "b"]
    events = [r.msg["event"] for r in caplog.records if isinstance(r.msg, dict)]
    assert events.count("model_retry") == 4
    assert events.count("model_fallback") == 2


async def test_context_overflow_falls_back_only_to_a_larger_window(data_dir: Path) -> None:
    overflow = FakeError(400, message="This model's maximum context length is 4096 tokens")
    with FakeOpenAIServer() as small, FakeOpenAIServer(reply="big") as big:
        small.script([overflow])
        config = GatewayConfig(
            models={
                "small": ModelConfig(
                    model="openai/s", api_base=small.url, context_window=4096,
                    fallbacks=["same", "large"],
                ),
                "same": ModelConfig(model="openai/same", api_base=small.url, context_window=4096),
                "large": ModelConfig(model="openai/l", api_base=big.url, context_window=32000),
            },
            retry=FAST_RETRY,
        )  # fmt: skip
        async with Gateway(config, data_dir=data_dir) as gateway:
            completion = await gateway.acomplete("small", "long prompt", cache=False)
        assert completion.text == "big"
        assert [r.body["model"] for r in small.chat_requests()] == ["s"]


async def test_context_overflow_without_fallback_is_a_clear_error(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    fake_server.script(
        [FakeError(400, message="This model's maximum context length is 4096 tokens")]
    )
    async with fake_gateway(fake_server, data_dir) as gateway:
        with pytest.raises(ContextLengthError, match="does not fit the context window"):
            await gateway.acomplete("m", "ping", cache=False)
    assert len(fake_server.chat_requests()) == 1


async def test_timeouts_are_retried(data_dir: Path) -> None:
    with FakeOpenAIServer(latency_s=1.0) as slow:
        config = GatewayConfig(
            models={"m": ModelConfig(model="openai/x", api_base=slow.url, timeout_s=0.2)},
            retry=RetryPolicy(max_attempts=2, initial_backoff_s=0.01, jitter_s=0),
        )
        async with Gateway(config, data_dir=data_dir) as gateway:
            with pytest.raises(ModelCallError, match="gave up after 2 attempts"):
                await gateway.acomplete("m", "ping", cache=False)
        assert len(slow.chat_requests()) == 2


async def test_unreachable_endpoint_names_the_url(data_dir: Path) -> None:
    from agentrun.agents.local import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    config = GatewayConfig(
        models={"m": ModelConfig(model="openai/x", api_base=url)}, retry=FAST_RETRY
    )
    async with Gateway(config, data_dir=data_dir) as gateway:
        with pytest.raises(EndpointUnreachableError, match=url.replace(".", r"\.")):
            await gateway.acomplete("m", "ping", cache=False)


async def test_malformed_body_is_retried(fake_server: FakeOpenAIServer, data_dir: Path) -> None:
    fake_server.script([FakeMalformed()])
    async with fake_gateway(fake_server, data_dir) as gateway:
        completion = await gateway.acomplete("m", "ping", cache=False)
    assert completion.text == "pong"
    assert len(fake_server.chat_requests()) == 2


CHUNK = '{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "x", "choices": '
CUT_STREAM = CHUNK + '[{"index": 0, "delta": {"content": "po"}, "finish_reason": null}]}'


@pytest.mark.parametrize(
    "body",
    [CUT_STREAM, "", '{"object": "list", "data": []}', '{"choices": [ this is not json'],
    ids=["cut-after-a-chunk", "empty", "not-a-completion", "truncated-json"],
)
async def test_a_stream_that_ends_without_a_finish_reason_is_retried(
    fake_server: FakeOpenAIServer, data_dir: Path, body: str
) -> None:
    """LiteLLM closes a stream the provider never finished with a "stop" of its own: the part
    received (or nothing) would pass for the whole answer, and be cached and checkpointed."""
    fake_server.script([FakeMalformed(body)])
    streamed: list[str] = []
    async with fake_gateway(fake_server, data_dir) as gateway:
        completion = await gateway.acomplete("m", "ping", cache=False, on_text=streamed.append)
    assert completion.text == "pong"
    assert (completion.attempts, completion.retries) == (2, 1)
    assert len(fake_server.chat_requests()) == 2


async def test_every_litellm_call_disables_litellm_retries(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentrun.agents import _litellm
    from agentrun.agents.testing import scripted_model

    litellm = _litellm.litellm()
    real = litellm.acompletion
    seen: list[dict[str, object]] = []

    async def spy(**params: object) -> object:
        seen.append(params)
        return await real(**params)

    monkeypatch.setattr(litellm, "acompletion", spy)
    with scripted_model(["ok", "ok"]) as fake:
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            await gateway.acomplete("fake/m", "hi")
            await gateway.acomplete("fake/m", "hi", on_text=lambda _: None)
    assert len(fake.calls) == 2
    assert [(p["num_retries"], p["max_retries"]) for p in seen] == [(0, 0), (0, 0)]
    assert all(isinstance(p["timeout"], float) and p["max_tokens"] for p in seen)


async def test_backoff_grows_exponentially_with_jitter_up_to_the_cap(
    fake_server: FakeOpenAIServer, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = RetryPolicy(max_attempts=5, initial_backoff_s=0.02, max_backoff_s=0.1, jitter_s=0.01)
    config = GatewayConfig(
        models={"m": ModelConfig(model="openai/x", api_base=fake_server.url)}, retry=policy
    )
    caplog.set_level(logging.WARNING, logger="agentrun")
    bases = [0.02, 0.04, 0.08]  # then 0.16, over the cap
    offsets: list[float] = []
    async with Gateway(config, data_dir=data_dir, cache=False) as gateway:
        for _ in range(4):
            fake_server.reset()
            caplog.clear()
            fake_server.script([FakeError(503)] * 4)
            assert (await gateway.acomplete("m", "ping")).retries == 4
            waits = [r.msg["wait_s"] for r in caplog.records if r.msg["event"] == "model_retry"]
            assert len(waits) == 4
            for wait, base in zip(waits, bases, strict=False):
                assert base - 1e-3 <= wait <= base + policy.jitter_s + 1e-3
                offsets.append(round(wait - base, 3))
            assert waits[3] == policy.max_backoff_s  # capped: no jitter on top of the cap
            sent = [r.at for r in fake_server.chat_requests()]
            for wait, (earlier, later) in zip(waits, itertools.pairwise(sent), strict=True):
                assert later - earlier >= wait - 0.005  # the gateway slept what it computed
    assert len(set(offsets)) > 1  # jittered, not a fixed schedule
