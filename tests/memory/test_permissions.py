"""Everything agentrun writes under the data directory is readable by its owner only.

Checkpoints, the memory store, run records and cached replies hold whole documents and model
output. Each test runs under a permissive umask (022), so a file created with default modes
would show up as group- and world-readable.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentrun.cli import run as cli
from agentrun.memory import FakeEmbedder
from agentrun.memory.checkpoint import SQLITE_FILE, sqlite_checkpointer
from agentrun.memory.lock import HOLDER_FILE, LOCK_FILE
from agentrun.memory.store import ChromaStore

PIPELINE = """\
version: agentrun/v1
name: private
models:
  default: {model: fake/p, replies: replies.yaml}
inputs:
  topic: {type: string, default: tides}
nodes:
  - id: write
    agent: {prompt: "Notes on {{ inputs.topic }}"}
  - id: keep
    tool: {name: memory.put, args: {key: notes, text: "{{ state.write }}"}}
  - id: recall
    tool: {name: memory.search, args: {query: "{{ inputs.topic }}", collection: notes}}
edges:
  - {from: write, to: keep}
  - {from: keep, to: recall}
outputs:
  notes: "{{ state.write }}"
"""


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def loose_modes(root: Path) -> list[str]:
    """Every folder under (and including) `root` that is not 0700, and file that is not 0600."""
    found = []
    for path in [root, *root.rglob("*")]:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:  # SQLite removes its -shm/-wal files as the last reader closes
            continue
        expected = 0o700 if path.is_dir() else 0o600
        if not path.is_symlink() and mode != expected:
            found.append(f"{path.relative_to(root.parent)}: {mode:o}")
    return found


def run_pipeline(tmp_path: Path, data_dir: Path) -> str:
    spec = tmp_path / "private.yaml"
    spec.write_text(PIPELINE, encoding="utf-8")
    (tmp_path / "replies.yaml").write_text("- The tide turns twice a day.\n", encoding="utf-8")
    thread = "private-run"
    assert cli(["--data-dir", str(data_dir), "run", str(spec), "--thread-id", thread]) == 0
    return thread


def test_a_whole_session_leaves_nothing_readable_by_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "home" / "share" / "agentrun"  # parents made by agentrun too
    run_pipeline(tmp_path, data_dir)
    spec = tmp_path / "private.yaml"
    again = ["--data-dir", str(data_dir), "run", str(spec), "--thread-id", "again"]
    assert cli(again) == 0  # the reply comes from the cache this time
    assert "(1 cached)" in capsys.readouterr().out
    document = tmp_path / "notes.md"
    document.write_text("Harbour notes.\n\nThe wall was built in 1821.\n", encoding="utf-8")
    assert cli(["--data-dir", str(data_dir), "memory", "ingest", str(document)]) == 0
    assert cli(["--data-dir", str(data_dir), "memory", "search", "wall"]) == 0
    kinds = {path.name for path in data_dir.iterdir()}
    assert {"cache", "memory", "runs", SQLITE_FILE} <= kinds, kinds
    assert loose_modes(tmp_path / "home") == []


def test_run_records_are_private(tmp_path: Path, data_dir: Path) -> None:
    thread = run_pipeline(tmp_path, data_dir)
    folder = data_dir / "runs" / thread
    names = {"spec.yaml", "inputs.json", "meta.json", "result.json"}
    assert names <= {path.name for path in folder.iterdir()}
    assert loose_modes(data_dir / "runs") == []


def test_cached_replies_are_private(tmp_path: Path, data_dir: Path) -> None:
    run_pipeline(tmp_path, data_dir)
    assert list((data_dir / "cache").rglob("*.json"))
    assert loose_modes(data_dir / "cache") == []


def test_checkpoint_database_and_its_journal_are_private(data_dir: Path) -> None:
    async def write_and_look() -> list[str]:
        async with sqlite_checkpointer(data_dir) as saver:
            await saver.setup()  # type: ignore[attr-defined]  # WAL mode, and its tables written
            journal = [p.name for p in os.scandir(data_dir) if p.name != SQLITE_FILE]
            assert any(name.endswith("-wal") for name in journal), journal
            return loose_modes(data_dir)

    assert asyncio.run(write_and_look()) == []
    assert loose_modes(data_dir) == []


def test_memory_store_files_and_lock_are_private(data_dir: Path) -> None:
    folder = data_dir / "memory"
    with ChromaStore.persistent(folder, FakeEmbedder()) as store:
        assert {LOCK_FILE, HOLDER_FILE} <= {path.name for path in folder.iterdir()}
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # others cannot reach in meanwhile
        store.put(("docs",), "a", {"text": "The wall was built in 1821."})
        assert store.search(("docs",), query="wall")
    segments = [path for path in folder.iterdir() if path.is_dir()]
    assert segments and any(path.suffix == ".bin" for s in segments for path in s.iterdir())
    assert loose_modes(data_dir) == []


def test_a_store_made_before_is_narrowed_when_opened(data_dir: Path) -> None:
    folder = data_dir / "memory"
    with ChromaStore.persistent(folder, FakeEmbedder()) as store:
        store.put(("docs",), "a", {"text": "x"})
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with ChromaStore.persistent(folder, FakeEmbedder()):
        assert loose_modes(folder) == []


def test_eval_outputs_are_private(data_dir: Path) -> None:
    from agentrun.evals.report import ResultLog, plot_accuracy, prepare_out_dir, write_json

    out = data_dir / "evals" / "long-doc-qa-1"
    prepare_out_dir(out, {"model": "fake/x"})
    ResultLog(out).append({"strategy": "coa", "item_id": "1", "answer": "1821"})
    write_json(out / "report.json", {"items": 1})
    plot_accuracy({"coa": {"4096": {"em": 1.0, "f1": 1.0, "contains": 1.0}}}, out / "plot.png")
    assert len(list(out.iterdir())) == 4
    assert loose_modes(data_dir) == []
