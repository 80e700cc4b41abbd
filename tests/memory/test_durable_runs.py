"""Durable runs: a chain-of-agents run killed with SIGKILL resumes without re-sending calls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents.fake_server import FakeOpenAIServer
from tests.memory import coa_child

ROOT = Path(__file__).resolve().parents[2]


def child(mode: str, url: str, data_dir: Path, thread: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.memory.coa_child", mode, url, str(data_dir), thread, *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


async def test_killed_run_resumes_with_at_most_one_repeated_request(tmp_path: Path) -> None:
    kill_at = 0
    reached, release = threading.Event(), threading.Event()

    def reply(body: dict[str, Any]) -> str:
        if kill_at and len(server.chat_requests()) == kill_at:
            reached.set()  # hold this request open until the client is dead
            release.wait(30)
        return coa_child.fake_reply(body)

    with FakeOpenAIServer(reply=reply) as server:
        baseline = coa_child.summary(
            await coa_child.run("run", server.url, tmp_path / "uninterrupted", "t-base")
        )
        uninterrupted = len(server.chat_requests())
        assert baseline["chunks"] >= 4 and baseline["answer"]
        assert uninterrupted == baseline["chunks"] + 1  # one call per worker, one manager

        server.reset()
        kill_at = uninterrupted // 2 + 1
        killed = child("run", server.url, tmp_path / "killed", "t-kill")
        try:
            assert reached.wait(120), killed.stderr.read() if killed.stderr else ""
            os.kill(killed.pid, signal.SIGKILL)
            killed.wait(30)
        finally:
            release.set()
            if killed.poll() is None:
                killed.kill()
        assert killed.returncode == -signal.SIGKILL
        sent_before_kill = len(server.chat_requests())
        assert sent_before_kill == kill_at  # killed while its request was in flight

        kill_at = 0
        resumed = child("resume", server.url, tmp_path / "killed", "t-kill")
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        result = json.loads(out.strip().splitlines()[-1])

    total = len(server.chat_requests())
    assert total > sent_before_kill  # the resumed run did the rest of the work
    assert total <= uninterrupted + 1
    assert result["answer"] == baseline["answer"]
    assert result["units"] == baseline["units"]


async def test_a_run_killed_between_a_reply_and_its_checkpoint_repeats_only_that_call(
    tmp_path: Path,
) -> None:
    """The worst moment to die: the k-th reply has arrived and is not on disk yet. The resumed
    run sends that one request again, and no other that had completed (durability=sync)."""
    with FakeOpenAIServer(reply=coa_child.fake_reply) as server:
        baseline = coa_child.summary(
            await coa_child.run("run", server.url, tmp_path / "uninterrupted", "t-base")
        )
        uninterrupted = [str(r.body["messages"][-1]["content"]) for r in server.chat_requests()]
        server.reset()
        dies_after = len(uninterrupted) // 2
        killed = child("run", server.url, tmp_path / "killed", "t-die", str(dies_after))
        killed.communicate(timeout=120)
        assert killed.returncode == -signal.SIGKILL
        before = [str(r.body["messages"][-1]["content"]) for r in server.chat_requests()]
        assert before == uninterrupted[:dies_after]

        server.reset()
        resumed = child("resume", server.url, tmp_path / "killed", "t-die")
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        after = [str(r.body["messages"][-1]["content"]) for r in server.chat_requests()]

    assert after == uninterrupted[dies_after - 1 :]  # the lost reply asked again, nothing else
    result = json.loads(out.strip().splitlines()[-1])
    assert result["answer"] == baseline["answer"] and result["units"] == baseline["units"]


def test_checkpointer_from_environment_refuses_unknown_urls(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import asyncio

    from agentrun.errors import ConfigError
    from agentrun.memory.checkpoint import CHECKPOINT_URL_ENV, checkpointer

    async def open_one() -> None:
        async with checkpointer(tmp_path):
            pass

    monkeypatch.setenv(CHECKPOINT_URL_ENV, "mysql://user:secret@host/db")
    with pytest.raises(ConfigError, match=r"not a postgres:// url") as caught:
        asyncio.run(open_one())
    assert "secret" not in str(caught.value)
    monkeypatch.delenv(CHECKPOINT_URL_ENV)
    asyncio.run(open_one())
    assert (tmp_path / "checkpoints.sqlite").exists()


async def test_sqlite_checkpoints_commit_without_a_sync_per_step(tmp_path: Path) -> None:
    from agentrun.memory.checkpoint import sqlite_checkpointer

    async with sqlite_checkpointer(tmp_path) as saver:
        conn = saver.conn  # type: ignore[attr-defined]
        async with conn.execute("PRAGMA journal_mode") as cursor:
            assert await cursor.fetchone() == ("wal",)
        async with conn.execute("PRAGMA synchronous") as cursor:
            assert await cursor.fetchone() == (1,)  # NORMAL
