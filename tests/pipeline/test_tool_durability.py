"""Tool calls are as durable as model calls: an agent run killed with SIGKILL part way, then
resumed, executes each tool call that had completed exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.pipeline import tool_child

ROOT = Path(__file__).resolve().parents[2]


def child(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pipeline.tool_child", *map(str, args)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def lines(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_a_killed_agent_run_never_repeats_a_completed_tool_call(tmp_path: Path) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text(tool_child.SPEC, encoding="utf-8")

    whole_log = tmp_path / "whole.log"
    whole = child("run", spec, tmp_path / "a", "whole", whole_log)
    out, err = whole.communicate(timeout=120)
    assert whole.returncode == 0, err
    uninterrupted = json.loads(out.strip().splitlines()[-1])
    assert Counter(lines(whole_log)) == {f"{s} {t}": 1 for t in "abcde" for s in ("start", "done")}

    log, block = tmp_path / "cut.log", tmp_path / "block"
    block.touch()
    killed = child("run", spec, tmp_path / "b", "cut", log, block)
    try:
        deadline = time.monotonic() + 120
        while not {"done c", "start d"} <= set(lines(log)) and time.monotonic() < deadline:
            assert killed.poll() is None, killed.stderr.read() if killed.stderr else ""
            time.sleep(0.05)
        time.sleep(1.0)  # c's result reaches the checkpoint; d is still running
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
    finally:
        if killed.poll() is None:
            killed.kill()
    assert killed.returncode == -signal.SIGKILL
    before = lines(log)
    assert "done d" not in before and "start e" not in before

    block.unlink()
    resumed = child("resume", spec, tmp_path / "b", "cut", log)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == uninterrupted
    starts = Counter(line.split()[1] for line in lines(log) if line.startswith("start"))
    assert starts == {"a": 1, "b": 1, "c": 1, "d": 2, "e": 1}  # d was cut short: it runs again
