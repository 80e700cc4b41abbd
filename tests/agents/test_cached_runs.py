"""A run whose every model call is in the response cache never starts the embedded model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentrun.agents import local
from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.agents.local import LocalServer
from agentrun.pipeline import load_pipeline

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "chain_of_agents.yaml"
DOCUMENT = (ROOT / "agentrun" / "data" / "demo" / "harbor_town.md").read_text(encoding="utf-8")


def answer(body: dict[str, object]) -> str:
    """Replies in the shape each demo step asks for: quotes, or a JSON answer."""
    if body.get("response_format"):
        return '{"answer": "1971"}'
    return '- "The Wend Bridge was opened on 12 May 1971."'


def test_a_fully_cached_demo_run_starts_no_local_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    already = set(local._live_servers)  # an earlier test's embedded server may be up
    first_dir = tmp_path / "first"
    with FakeOpenAIServer(reply=answer) as server:
        # The first run records real replies under the embedded model's cache keys.
        monkeypatch.setattr(LocalServer, "ensure_started", lambda self: server.url)
        first = load_pipeline(DEMO).run({"document": DOCUMENT}, data_dir=first_dir)
    assert first.usage["model_calls"] > 0

    started: list[LocalServer] = []

    def refuse(self: LocalServer) -> str:
        started.append(self)
        raise AssertionError("a cached run started the embedded model")

    monkeypatch.setattr(LocalServer, "ensure_started", refuse)
    monkeypatch.setattr(LocalServer, "_start", refuse)
    fresh_dir = tmp_path / "fresh"  # only the response cache: the document is split again
    shutil.copytree(first_dir / "cache", fresh_dir / "cache")
    for data_dir in (first_dir, fresh_dir):
        again = load_pipeline(DEMO).run({"document": DOCUMENT}, data_dir=data_dir)
        assert again.usage["model_calls"] == 0
        assert again.usage["cache_hits"] == first.usage["calls"]
        assert again.outputs == first.outputs
    assert started == [] and set(local._live_servers) <= already
