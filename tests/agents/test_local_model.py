"""The embedded SmolLM2 model, for real: wiring only (an answer arrives, tokens are counted)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agentrun.agents import Gateway, LocalModelConfig
from agentrun.agents.local import LocalServer
from agentrun.errors import LocalModelStartError
from tests.conftest import pid_alive

pytestmark = pytest.mark.real_model


async def test_gateway_starts_answers_and_stops_the_embedded_server(data_dir: Path) -> None:
    gateway = Gateway(data_dir=data_dir, cache=False)
    completion = await asyncio.wait_for(
        gateway.acomplete("local/smollm2", "What is the capital of France?", max_tokens=16), 60
    )
    pid = gateway.local_server.pid
    assert pid is not None and pid_alive(pid)
    await gateway.aclose()
    assert completion.text.strip()
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0
    assert gateway.ledger.total().prompt_tokens == completion.prompt_tokens
    assert completion.cost_usd == 0.0
    assert not pid_alive(pid)


async def test_local_token_count_matches_the_server(local_gateway: Gateway) -> None:
    messages = [
        {"role": "system", "content": "You answer briefly."},
        {"role": "user", "content": "Name one colour of the rainbow."},
    ]
    completion = await local_gateway.acomplete("local/smollm2", messages, max_tokens=8)
    assert local_gateway.count_tokens("local/smollm2", messages) == completion.prompt_tokens
    server = local_gateway.config.local.base_url.removesuffix("/v1")  # type: ignore[union-attr]
    for text in ("The Wend Bridge was opened on 12 May 1971.", "東京は日本の首都です。naïve café",
                 "def f(x):\n    return x ** 2  # <|im_end|>"):  # fmt: skip
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{server}/extras/tokenize/count", json={"input": text})
        assert local_gateway.count_text("local/smollm2", text) == answer.json()["count"]


async def test_structured_output_on_the_embedded_model(local_gateway: Gateway) -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        city: str

    value = await local_gateway.astructured(
        "local/smollm2", "Name a large city in France.", City, max_tokens=40
    )
    assert isinstance(value.city, str)


async def test_tool_calls_on_the_embedded_model(local_gateway: Gateway) -> None:
    """Wiring only: the grammar-constrained reply parses into a call of an offered tool with
    arguments of its schema, or into text."""
    from agentrun.tools.function import tool

    @tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return "sunny"

    reply = await local_gateway.acomplete(
        "local/smollm2", "What is the weather in Paris?", tools=[get_weather], max_tokens=48
    )
    if reply.tool_calls:
        (call,) = reply.tool_calls
        assert call.name == "get_weather" and call.error is None
        assert await get_weather.call(call.arguments) == "sunny"
        assert reply.finish_reason == "tool_calls"
    else:
        assert reply.text.strip()


def test_a_model_file_that_does_not_load_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model")
    server = LocalServer(LocalModelConfig(model_path=str(broken), startup_timeout_s=30))
    with pytest.raises(LocalModelStartError, match="exited with code"):
        server.ensure_started()
    assert not server.is_running()


async def test_cancelled_local_call_stops_the_busy_server(data_dir: Path) -> None:
    gateway = Gateway(data_dir=data_dir, cache=False)
    streaming = asyncio.Event()
    call = asyncio.create_task(
        gateway.acomplete(
            "local/smollm2", "Write a very long story about ships.", max_tokens=2000,
            on_text=lambda _text: streaming.set(),
        )
    )  # fmt: skip
    # Cancel once tokens arrive, so the server is busy generating when the client goes away.
    await asyncio.wait_for(streaming.wait(), 60)
    pid = gateway.local_server.pid
    assert not call.done()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert pid is not None and not pid_alive(pid)
    await gateway.aclose()


def test_the_server_dies_with_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL skips atexit: the supervisor must still stop the llama.cpp server."""
    code = (
        "import sys; from agentrun.agents.local import LocalServer; "
        "from agentrun.agents import LocalModelConfig; "
        "s = LocalServer(LocalModelConfig()); s.ensure_started(); "
        "print(s.pid, flush=True); import time; time.sleep(600)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    supervisor = int(parent.stdout.readline())
    server = int(Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()[0])
    assert pid_alive(server)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 15
    while pid_alive(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(server)
