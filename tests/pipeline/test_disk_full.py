"""A full disk: one clear error that says so, and a run that resumes once there is room."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from agentrun import diskspace
from agentrun.cli import run as cli
from agentrun.errors import DiskFullError, MemoryStoreError, ModelCallError
from agentrun.pipeline import records

ROOT = Path(__file__).parents[2]
BRIEF = ROOT / "examples" / "research_brief.yaml"
FAKE = ["--set", "models.default.model=fake/brief",
        "--set", "models.default.replies=replies/research_brief.yaml"]  # fmt: skip


def test_a_disk_that_fills_at_the_end_of_a_run_gives_one_clear_error_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result file cannot be written, nor can the run's status: the error says the disk
    is full and how to go on (not an "unexpected OSError" without the resume command)."""
    data = tmp_path / "data"
    write = records.write_private

    def full_disk(path: Path, text: str) -> Path:
        failed = path.name == "meta.json" and json.loads(text)["status"] == "failed"
        if path.name == "result.json" or failed:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(path, text)

    monkeypatch.setattr(records, "write_private", full_disk)
    argv = ["--data-dir", str(data), "run", str(BRIEF), *FAKE, "--thread-id", "full"]
    assert cli([*argv, "--no-stream"]) == DiskFullError.exit_code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-2].startswith(f"error: no space left on the disk holding {data}")
    assert lines[-2].endswith("free some space, then resume the run")
    assert lines[-1] == f"run full failed; resume with: agentrun --data-dir {data} resume full"

    monkeypatch.setattr(records, "write_private", write)  # space was freed
    assert cli(["--data-dir", str(data), "resume", "full"]) == 0
    result = json.loads((data / "runs" / "full" / "result.json").read_text(encoding="utf-8"))
    assert result["outputs"]["brief"].startswith("Lighthouses guide ships")


def test_a_storage_failure_that_names_no_cause_counts_as_full_only_without_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opaque = RuntimeError("Error in compaction: Failed to apply logs to the metadata segment")
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 64 * 1024)
    full = diskspace.disk_full_error(opaque, tmp_path, "t")
    assert full is not None and full.thread_id == "t"
    assert str(full).startswith(f"no space left on the disk holding {tmp_path} (64 KiB free)")
    store = MemoryStoreError("cannot open the memory store: disk I/O error")
    assert diskspace.disk_full_error(store, tmp_path) is not None
    # a model's failure is never taken for a full disk, nor is anything with room to spare
    assert diskspace.disk_full_error(ModelCallError("m", "gave up"), tmp_path) is None
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 50 << 30)
    assert diskspace.disk_full_error(opaque, tmp_path) is None
    assert diskspace.disk_full_error(OSError(errno.ENOSPC, "No space"), tmp_path) is not None
