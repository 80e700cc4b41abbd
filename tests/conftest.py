"""Shared fixtures: isolated data directories, the fake OpenAI server, the embedded model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentrun.agents import Gateway, GatewayConfig, LocalModelConfig, ModelConfig, RetryPolicy
from agentrun.agents.fake_server import FakeOpenAIServer
from tests.services import ChromaServer, PostgresServer, chroma_executable, throwaway_postgres

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05, jitter_s=0.0)
#: Seconds a real-model test may take unless it sets its own `timeout` mark: only a guard against
#: hangs. Each bounds its tokens so that it takes seconds on an idle machine and well under a
#: minute on one busy with other work (on 2 cores with three CPU-bound processes beside them:
#: 24 s at most, 47 s for the demo through the CLI).
REAL_MODEL_TIMEOUT_S = 180


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("real_model") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(REAL_MODEL_TIMEOUT_S))


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data directory, so caches and stores never leak between tests."""
    data = tmp_path / "data"
    monkeypatch.setenv("AGENTRUN_DATA_DIR", str(data))
    return data


@pytest.fixture
def data_dir(_isolated_data_dir: Path) -> Path:
    return _isolated_data_dir


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply="pong") as server:
        yield server


def fake_gateway(server: FakeOpenAIServer, data_dir: Path, **model_options: object) -> Gateway:
    """A gateway whose model `m` is the fake server, with fast retries."""
    model = ModelConfig(
        model="openai/fake", api_base=server.url, context_window=4096, **model_options
    )  # type: ignore[arg-type]
    return Gateway(GatewayConfig(models={"m": model}, retry=FAST_RETRY), data_dir=data_dir)


@pytest.fixture(scope="session")
def local_server() -> Iterator[object]:
    """One embedded llama.cpp server for every real-model test; stopped at the end."""
    from agentrun.agents.local import LocalServer

    server = LocalServer(LocalModelConfig())
    server.ensure_started()
    yield server
    server.stop()
    assert not server.is_running()


@pytest.fixture
def local_gateway(local_server: object, data_dir: Path) -> Iterator[Gateway]:
    """A gateway that reuses the session's embedded server (cache off: real calls only)."""
    base_url = local_server.base_url  # type: ignore[attr-defined]
    config = GatewayConfig(local=LocalModelConfig(base_url=base_url))
    with Gateway(config, data_dir=data_dir, cache=False) as gateway:
        yield gateway


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return True


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server for the session (Debian's server binaries), removed after."""
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresServer) -> str:
    return postgres.url


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` on a free loopback port for the whole session, stopped at the end."""
    if chroma_executable() is None:
        pytest.skip("the `chroma` command (from chromadb) is not installed")
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server")).start()
    yield server.url
    server.stop()
