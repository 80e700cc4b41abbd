"""The embedded server's life cycle and cache identity, with the fake server as its process.

The llama.cpp command is swapped for the fake OpenAI server (behind the same supervisor), so
start-up, health checks, sharing, stopping on cancellation and restarting run for real, fast.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from agentrun.agents import LOCAL_MODEL, Gateway, GatewayConfig, LocalModelConfig
from agentrun.agents.local import LocalServer, local_identity
from tests.conftest import FAST_RETRY, pid_alive


@pytest.fixture
def fake_llama(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve `local/smollm2` from the fake server, replying with the model file's name."""

    def command(self: LocalServer, gguf: str, port: int) -> list[str]:
        return [
            sys.executable, "-m", "agentrun.agents._watchdog", str(os.getpid()),
            sys.executable, "-m", "agentrun.agents.fake_server", "--port", str(port),
            "--latency-s", str(self.config.n_threads or 0), "--reply", f"from {Path(gguf).name}",
        ]  # fmt: skip

    monkeypatch.setattr(LocalServer, "_command", command)


def gguf(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(b"GGUF stand-in")
    return str(path)


@pytest.mark.usefixtures("fake_llama")
async def test_a_cancelled_call_stops_the_shared_server_and_the_others_restart_it(
    tmp_path: Path, data_dir: Path
) -> None:
    # n_threads is the fake's latency here: each reply takes 1.5 s, so calls are in flight.
    local = LocalModelConfig(model_path=gguf(tmp_path, "m.gguf"), n_threads=1)
    config = GatewayConfig(local=local, retry=FAST_RETRY)
    first = Gateway(config, data_dir=data_dir, cache=False)
    second = Gateway(config, data_dir=data_dir, cache=False)
    server = first.local_server
    assert second.local_server is server
    await asyncio.to_thread(server.ensure_started)
    old_pid = server.pid
    assert old_pid is not None
    in_flight = asyncio.create_task(second.acomplete(LOCAL_MODEL, "still going"))
    cancelled = asyncio.create_task(first.acomplete(LOCAL_MODEL, "cancel me"))
    await asyncio.sleep(0.4)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert not pid_alive(old_pid)
    # The other gateway's call in flight is retried on a restarted server; later calls too.
    assert (await in_flight).text == "from m.gguf"
    assert (await second.acomplete(LOCAL_MODEL, "later")).text == "from m.gguf"
    assert (await first.acomplete(LOCAL_MODEL, "first again")).text == "from m.gguf"
    new_pid = server.pid
    assert new_pid is not None and new_pid != old_pid and pid_alive(new_pid)
    await first.aclose()
    assert pid_alive(new_pid)  # still held by the second gateway
    await second.aclose()
    assert not pid_alive(new_pid)


@pytest.mark.usefixtures("fake_llama")
async def test_another_model_file_is_not_served_from_the_cache(
    tmp_path: Path, data_dir: Path
) -> None:
    replies = []
    files = {name: gguf(tmp_path, name) for name in ("a.gguf", "b.gguf")}
    for name in ("a.gguf", "b.gguf", "a.gguf"):
        config = GatewayConfig(local=LocalModelConfig(model_path=files[name]))
        async with Gateway(config, data_dir=data_dir) as gateway:
            completion = await gateway.acomplete(LOCAL_MODEL, "same prompt")
            replies.append((completion.text, completion.cache_hit))
    assert replies == [("from a.gguf", False), ("from b.gguf", False), ("from a.gguf", True)]


def test_the_local_identity_names_the_file_its_version_and_n_ctx(tmp_path: Path) -> None:
    path = gguf(tmp_path, "m.gguf")
    base = local_identity(LocalModelConfig(model_path=path))
    assert base == local_identity(LocalModelConfig(model_path=path, n_threads=2))
    assert base != local_identity(LocalModelConfig(model_path=path, n_ctx=2048))
    assert base != local_identity(LocalModelConfig(model_path=gguf(tmp_path, "other.gguf")))
    os.utime(path, ns=(1, 1))  # the file replaced in place
    assert base != local_identity(LocalModelConfig(model_path=path))


@pytest.mark.parametrize(
    ("cores", "generate", "read"), [(1, 1, 1), (2, 1, 2), (8, 4, 8), (32, 4, 8)]
)
def test_the_prompt_is_read_on_every_core_and_tokens_made_on_all_but_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cores: int, generate: int, read: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    argv = LocalServer(LocalModelConfig())._command(gguf(tmp_path, "m.gguf"), 8000)
    threads = {argv[i]: argv[i + 1] for i, arg in enumerate(argv) if arg.startswith("--n_threads")}
    assert threads == {"--n_threads": str(generate), "--n_threads_batch": str(read)}
    pinned = LocalServer(LocalModelConfig(n_threads=3))._command(gguf(tmp_path, "m.gguf"), 8000)
    assert pinned[pinned.index("--n_threads_batch") + 1] == "3"
