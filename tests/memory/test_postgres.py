"""Postgres checkpoints: a failed run resumes from them (needs a local PostgreSQL install)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway, GatewayConfig, ModelConfig, RetryPolicy
from agentrun.agents.fake_server import FakeError, FakeOpenAIServer
from agentrun.agents.local import free_port
from agentrun.graphs.chain_of_agents import ChainOfAgents
from agentrun.memory import in_memory_store
from agentrun.memory.checkpoint import checkpointer
from tests.memory import coa_child

pytestmark = pytest.mark.server


def _binary(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port (trust auth), stopped after."""
    pytest.importorskip("langgraph.checkpoint.postgres")
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if initdb is None or postgres is None:
        pytest.skip("PostgreSQL is not installed (initdb/postgres not found)")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="agentrun-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to start PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    port = free_port()
    try:
        subprocess.run([*as_user, initdb, "-D", str(folder / "data"), "-U", "agentrun",
                        "--auth=trust"], check=True, capture_output=True, timeout=120)  # fmt: skip
        server = subprocess.Popen(
            [*as_user, postgres, "-D", str(folder / "data"), "-p", str(port), "-k", str(folder),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"postgresql://agentrun@127.0.0.1:{port}/postgres"
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(url, connect_timeout=1).close()
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
        server.terminate()
        server.wait(timeout=30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
