"""Kill soak at CI size: a pipeline with model calls, tools and memory writes killed once at
each kill point, stopped by Ctrl-C and by a full disk, and resumed (`benchmarks/kill_soak.py`)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import kill_soak
from benchmarks.workloads import pick


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    scratch = tmp_path_factory.mktemp("soak")
    modes = {"SIGINT": 1, "disk full": 1}
    return kill_soak.soak(pick("harbour-notes"), len(kill_soak.KILL_POINTS), modes, scratch)


def test_every_kill_point_is_hit_and_runs_resume_to_the_same_result(
    soaked: dict[str, Any],
) -> None:
    killed = soaked["figures"]["SIGKILL"]
    assert set(killed["stops_by_point"]) == set(kill_soak.KILL_POINTS)
    assert killed["finished_same"] == killed["runs"]
    assert killed["calls_repeated"] == 0
    assert (killed["memory_duplicated"], killed["memory_lost"]) == (0, 0)
    assert killed["databases_checked"] > 0 and killed["databases_broken"] == 0


def test_ctrl_c_and_a_full_disk_stop_clearly_and_resume(soaked: dict[str, Any]) -> None:
    for mode in ("SIGINT", "disk full"):
        figures = soaked["figures"][mode]
        assert figures["finished_same"] == figures["runs"] == 1, mode
        assert figures["clear_stops"] == figures["stops_checked"], soaked["runs"]
        assert figures["databases_broken"] == 0


def test_finished_tool_calls_are_not_repeated(soaked: dict[str, Any]) -> None:
    assert all(figures["tools_repeated"] == 0 for figures in soaked["figures"].values())
