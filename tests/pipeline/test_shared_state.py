"""Where a pipeline keeps state several machines share: `checkpoints:` (Postgres) and
`memory: {backend: chroma, url}` (a `chroma run` server; `chroma-server` is its alias)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun.agents.testing import scripted_model
from agentrun.errors import SpecError
from agentrun.memory import ChromaStore, default_embedder
from agentrun.memory.checkpoint import checkpointer
from agentrun.memory.namespaces import records_ns
from agentrun.pipeline import Pipeline

HEAD = "version: agentrun/v1\nname: t\nmodels:\n  default: {model: fake/t}\n"
ASK = "nodes:\n  - id: ask\n    agent: {prompt: hello}\n"
KEEP = (
    "nodes:\n  - id: keep\n    tool:\n      name: memory.put\n"
    "      args: {key: k, text: the harbour light is green}\n"
)


def load(tmp_path: Path, text: str) -> Pipeline:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + text, encoding="utf-8")
    return Pipeline.load(path)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("checkpoints: postgresql://me:secret@db/runs", r"checkpoints.*PGPASSWORD"),
        ("checkpoints: mysql://db/runs", r"checkpoints.*postgres"),
        ("memory: {backend: memory, url: 'http://127.0.0.1:8000'}", r"use backend chroma"),
        ("memory: {backend: chroma-server}", r"chroma-server needs `url`"),
    ],
)
def test_bad_places_are_refused_at_validation(tmp_path: Path, setting: str, problem: str) -> None:
    with pytest.raises(SpecError, match=problem) as caught:
        load(tmp_path, setting + "\n" + ASK)
    assert "secret" not in str(caught.value)


@pytest.mark.server
async def test_checkpoints_go_to_the_database_the_spec_names(
    tmp_path: Path, data_dir: Path, postgres_url: str
) -> None:
    pipeline = load(tmp_path, f"checkpoints: {postgres_url}\nmemory: {{backend: memory}}\n" + ASK)
    with scripted_model(["hi"]):
        result = await pipeline.arun(thread_id="spec-pg")
    assert result.results == {"ask": "hi"}
    async with checkpointer(url=postgres_url) as saver:
        assert await saver.aget_tuple({"configurable": {"thread_id": "spec-pg"}}) is not None
    assert not (data_dir / "checkpoints.sqlite").exists()


@pytest.mark.server
@pytest.mark.parametrize("backend", ["chroma", "chroma-server"])
async def test_memory_on_a_chroma_server(
    tmp_path: Path, data_dir: Path, chroma_server: str, backend: str
) -> None:
    memory = f"memory: {{backend: {backend}, url: '{chroma_server}', namespace: [{backend}]}}\n"
    pipeline = load(tmp_path, memory + KEEP)
    await pipeline.arun()
    assert not (data_dir / "memory").exists()  # nothing embedded under the data directory
    with ChromaStore.http(chroma_server, default_embedder()) as store:
        kept = store.get(records_ns((backend,), "notes"), "k")
    assert kept is not None and kept.value["text"] == "the harbour light is green"
