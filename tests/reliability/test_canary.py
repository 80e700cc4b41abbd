"""Secrets at CI size: a canary key and token given by environment, YAML, `--set` and MCP
headers appear in no file a run leaves and in none of its output (`benchmarks/canary.py`)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import canary


def test_no_file_or_output_of_a_run_holds_the_canary(tmp_path: Path) -> None:
    runs = canary.canary_runs(tmp_path)
    figures = runs.figures()
    assert figures["exit_codes"] == {
        "key from the environment": 0,
        "retried after a 500 and a 503": 0,
        "a 401 that echoes the key": 3,
        "resumed": 0,
        "key in the YAML": 2,
        "key in the YAML, run": 2,
        "key by --set": 2,
        "runs listed": 0,
        "run shown": 0,
    }
    assert figures["canary_hits"] == 0, figures["leaks"]
    assert figures["files_scanned"] >= 10  # records, checkpoints, cache, events, results
    assert "[redacted]" in runs.output[2]  # the echoed key was there to leak, and was masked


def test_the_scan_finds_the_canary_wherever_it_is(tmp_path: Path) -> None:
    (tmp_path / "data" / "runs").mkdir(parents=True)
    (tmp_path / "data" / "runs" / "x.db").write_bytes(b"\x00\x01" + canary.TOKEN.encode())
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "by-yaml.yaml").write_text(canary.KEY)  # the user's own file
    found = canary.Canary(output=["ok", f"error: {canary.KEY}"], scratch=tmp_path).figures()
    assert found["leaks"] == ["data/runs/x.db", "output of run 1"]
