"""Fixtures of the memory tests: every store backend, and a real `chroma run` server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from langgraph.store.base import BaseStore

from agentrun.agents.local import free_port
from agentrun.memory import ChromaStore, FakeEmbedder, in_memory_store

BACKENDS = ["in-memory", "chroma-embedded", "chroma-server"]


def chroma_executable() -> str | None:
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.exists() else shutil.which("chroma")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` on a free loopback port for the whole session, stopped at the end."""
    executable = chroma_executable()
    if executable is None:
        pytest.skip("the `chroma` command (from chromadb) is not installed")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("wb")
    process = subprocess.Popen(
        [executable, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start; see {path / 'server.log'}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def open_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> BaseStore:
    embedder = FakeEmbedder()
    if backend == "in-memory":
        return in_memory_store(embedder)
    if backend == "chroma-embedded":
        return ChromaStore.persistent(tmp_path / "store", embedder)
    url = request.getfixturevalue("chroma_server")
    return ChromaStore.http(url, embedder, collection=f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BaseStore]:
    """Each backend in turn, empty."""
    opened = open_store(str(request.param), tmp_path, request)
    yield opened
    if isinstance(opened, ChromaStore):
        if request.param == "chroma-server":
            for collection in (opened.items, opened.vectors, opened.namespaces):
                opened.client.delete_collection(collection.name)
        opened.close()
