"""Chaos at CI size: every kind of fault on the wire is retried to the fault-free result, and
faults that cannot succeed fail at once with the fix (`benchmarks/chaos.py`)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import chaos
from benchmarks.workloads import pick, workload


async def test_every_fault_kind_in_a_row_still_gives_the_fault_free_result(tmp_path: Path) -> None:
    """One call meets each fault once, nine in a row, and the tenth attempt answers."""
    work = workload("research-brief")
    ref = await chaos.reference(work, tmp_path, repeats=1)
    with chaos.FakeOpenAIServer(reply=work.reply()) as server:
        server.script(list(chaos.FAULTS.values()))
        outputs, usage, _ = await chaos.run_workload(work, server, tmp_path / "d", stream=True)
        requests = len(server.chat_requests())
    assert (outputs, usage) == (ref.outputs, ref.usage)
    assert requests == ref.requests + len(chaos.FAULTS)


async def test_a_round_at_a_30_percent_fault_rate_finishes_identical(tmp_path: Path) -> None:
    workloads = pick("navigation,harbour-notes")
    report = await chaos.chaos(workloads, rounds=1, rate=0.3, scratch=tmp_path, repeats=1)
    figures = report.figures()
    assert figures["finished"] == figures["identical"] == figures["runs"] == 2, report.runs
    assert figures["extra_requests_per_fault"] in (0.0, 1.0)
    assert figures["fatal"] == figures["fatal_without_retry"] == figures["fatal_naming_fix"] == 4
    assert figures["fatal_max_seconds"] < 30
