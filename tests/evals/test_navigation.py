"""The navigation eval: reports by hops and visibility, resumable runs, tours, and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway
from agentrun.agents.messages import Message, text_of
from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.evals.navigation import (
    EPISODES_FILE,
    NavigationEvalConfig,
    arun_eval,
    hop_buckets,
    visibility_bucket,
)

SMALL = {"tasks": 3, "min_hops": 5, "max_hops": 8, "seed": 3, "model": "fake/eval"}


def first_listed(messages: list[Message]) -> str:
    text = text_of(messages)
    if "best first:" in text:
        return str(re.findall(r"^\d+\. ([a-z\-]+) \(", text, flags=re.MULTILINE)[0])
    return text.split("Directions you can take: ")[1].split(",")[0].split(".")[0]


async def test_the_city_eval_reports_both_strategies_by_hops_and_visibility(
    tmp_path: Path, data_dir: Path
) -> None:
    config = NavigationEvalConfig(**SMALL)
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        with scripted_model(first_listed) as model:
            report = await arun_eval(config, tmp_path, gateway=gateway, data_dir=data_dir)
    assert len(report["episodes"]) == 6 and model.calls
    for strategy in ("prep", "react"):
        parts = report["summary"][strategy]
        assert parts["overall"]["episodes"] == 3
        assert 0 <= parts["overall"]["spl"] <= parts["overall"]["sr"] <= 1
        assert sum(b["episodes"] for b in parts["by_hops"].values()) == 3
        assert sum(b["episodes"] for b in parts["by_visibility"].values()) == 3
        assert parts["overall"]["mean_tokens"] > 0
    saved = json.loads((tmp_path / "navigation.json").read_text())
    assert saved["summary"] == report["summary"]
    assert (tmp_path / "navigation.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "navigation-episode.png").exists()


async def test_the_ranked_ablation_is_reported_beside_prep(tmp_path: Path, data_dir: Path) -> None:
    config = NavigationEvalConfig(**SMALL, strategies=["prep", "ranked"])
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        with scripted_model(first_listed) as model:
            report = await arun_eval(config, tmp_path, gateway=gateway, data_dir=data_dir)
    prep, ranked = (report["summary"][s]["overall"] for s in ("prep", "ranked"))
    assert len(model.calls) == prep["decisions"] > 0  # ranked asked nothing
    assert ranked["episodes"] == 3 and ranked["mean_tokens"] == 0
    assert (ranked["sr"], ranked["spl"]) == (prep["sr"], prep["spl"])  # the model chose as code


async def test_the_oracle_chooser_reports_prep_ranked_and_react_with_intervals(
    tmp_path: Path, data_dir: Path
) -> None:
    config = NavigationEvalConfig(
        **{**SMALL, "tasks": 4, "min_hops": 8, "max_hops": 14}, chooser="oracle",
        strategies=["prep", "ranked", "react"],
    )  # fmt: skip
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        report = await arun_eval(config, tmp_path, gateway=gateway, data_dir=data_dir)
    summary = report["summary"]
    for strategy in ("prep", "react"):  # every choice on a shortest path
        assert summary[strategy]["overall"]["sr"] == summary[strategy]["overall"]["spl"] == 1.0
        assert summary[strategy]["overall"]["fallbacks"] == 0
    ranked = summary["ranked"]["overall"]
    assert ranked["spl"] < 1.0  # the code's ranking takes a detour somewhere
    low, high = ranked["sr_ci95"]
    assert low <= ranked["sr"] <= high and high - low > 0.3  # four tasks: a wide interval
    gap = report["comparisons"]["prep - ranked"]
    assert gap["baseline"] == "ranked" and gap["tasks"] == 4
    assert gap["spl"]["difference"] == pytest.approx(1.0 - ranked["spl"])
    assert gap["spl"]["ci95"][0] <= gap["spl"]["difference"] <= gap["spl"]["ci95"][1]
    assert report["command"].startswith("agentrun eval navigation --model fake/eval")
    assert "--chooser oracle" in report["command"] and "-n 4 --min-hops 8" in report["command"]
    table = (tmp_path / "navigation.md").read_text()
    assert "scripted oracle chooser" in table and "| prep - ranked | 4 |" in table
    assert f"`{report['command']}`" in table


async def test_more_tasks_extend_a_run_and_fewer_report_its_first_ones(
    tmp_path: Path, data_dir: Path
) -> None:
    config = NavigationEvalConfig(**SMALL, strategies=["ranked"])
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        with scripted_model([]) as idle:  # ranked asks no model
            first = await arun_eval(config, tmp_path, gateway=gateway, data_dir=data_dir)
            fewer = config.model_copy(update={"tasks": 2})
            prefix = await arun_eval(fewer, tmp_path, gateway=gateway, data_dir=data_dir)
            more = config.model_copy(update={"tasks": 5})
            extended = await arun_eval(more, tmp_path, gateway=gateway, data_dir=data_dir)
    assert idle.calls == []
    assert [e["task_id"] for e in prefix["episodes"]] == [
        e["task_id"] for e in first["episodes"][:2]
    ]
    assert prefix["tasks"] == 2 and extended["tasks"] == 5
    assert extended["episodes"][:3] == first["episodes"]
    assert len((tmp_path / EPISODES_FILE).read_text().splitlines()) == 5


def without_latency(usage: dict[str, Any]) -> dict[str, Any]:
    """Usage totals (and those by node) without latency, which differs between equal runs."""
    by_node = {node: without_latency(value) for node, value in usage.get("by_node", {}).items()}
    return {k: v for k, v in usage.items() if k != "latency_s"} | {"by_node": by_node}


def comparable(episodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Episodes without what differs between equal runs: thread ids and latency."""
    drop = ("thread_id", "usage", "usage_by_node")
    return [
        {
            **{k: v for k, v in e.items() if k not in drop},
            "usage": without_latency(e["usage"]),
            "usage_by_node": {n: without_latency(u) for n, u in e["usage_by_node"].items()},
        }
        for e in episodes
    ]


async def test_a_rerun_into_the_same_directory_keeps_finished_episodes(
    tmp_path: Path, data_dir: Path
) -> None:
    config = NavigationEvalConfig(**SMALL, strategies=["prep"])
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        with scripted_model(first_listed):
            first = await arun_eval(config, tmp_path, gateway=gateway, data_dir=data_dir)
        lines = (tmp_path / EPISODES_FILE).read_text().splitlines()
        with scripted_model([]) as idle:  # any model call would exhaust the empty script
            again = await arun_eval(config, tmp_path, gateway=gateway, data_dir=data_dir)
    assert idle.calls == []
    assert (tmp_path / EPISODES_FILE).read_text().splitlines() == lines
    assert again["summary"] == first["summary"]


async def test_the_same_seed_in_fresh_directories_gives_the_same_tasks_and_metrics(
    tmp_path: Path, data_dir: Path
) -> None:
    config = NavigationEvalConfig(**SMALL)
    runs = []
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        for name in ("a", "b"):
            with scripted_model(first_listed) as model:
                report = await arun_eval(config, tmp_path / name, gateway=gateway,
                                         data_dir=data_dir)  # fmt: skip
            runs.append((report, len(model.calls)))
    (first, first_calls), (second, second_calls) = runs
    assert first_calls == second_calls > 0  # the second run navigated again, call for call
    assert comparable(second["episodes"]) == comparable(first["episodes"])
    assert [e["task_id"] for e in second["episodes"]] == [e["task_id"] for e in first["episodes"]]
    for strategy in ("prep", "react"):
        one, two = first["summary"][strategy], second["summary"][strategy]
        for key in ("sr", "spl", "mean_steps", "mean_tokens"):
            assert two["overall"][key] == one["overall"][key]


async def test_a_fresh_directory_is_a_fresh_run_on_the_same_data_dir(
    tmp_path: Path, data_dir: Path
) -> None:
    config = NavigationEvalConfig(**SMALL, strategies=["react"])

    def last_listed(messages: list[Message]) -> str:
        return text_of(messages).split("Directions you can take: ")[1].split(".")[0].split(", ")[-1]

    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        with scripted_model(first_listed):
            old = await arun_eval(config, tmp_path / "old", gateway=gateway, data_dir=data_dir)
        with scripted_model(last_listed) as model:
            new = await arun_eval(config, tmp_path / "new", gateway=gateway, data_dir=data_dir)
    assert len(model.calls) == sum(e["decisions"] for e in new["episodes"]) > 0
    assert [e["actions"] for e in new["episodes"]] != [e["actions"] for e in old["episodes"]]
    assert {e["thread_id"] for e in new["episodes"]}.isdisjoint(
        e["thread_id"] for e in old["episodes"]
    )


async def test_a_partial_run_continues_where_it_stopped(tmp_path: Path, data_dir: Path) -> None:
    config = NavigationEvalConfig(**SMALL, strategies=["react"])
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        calls = 0

        def dies_midway(messages: list[Message]) -> str | BaseException:
            nonlocal calls
            calls += 1
            return first_listed(messages) if calls <= 20 else ValueError("killed")

        with scripted_model(dies_midway), pytest.raises(Exception):  # noqa: B017
            await arun_eval(config, tmp_path, gateway=gateway, data_dir=data_dir)
        finished = (tmp_path / EPISODES_FILE).read_text().splitlines()
        assert 1 <= len(finished) < 3
        with scripted_model(first_listed) as model:
            report = await arun_eval(config, tmp_path, gateway=gateway, data_dir=data_dir)
    steps = sum(e["steps"] for e in report["episodes"])
    assert len(report["episodes"]) == 3
    assert len(model.calls) == steps - 20  # recorded calls of the broken episode are not re-sent


async def test_the_tour_eval_reports_goal_frame_accuracy_and_sr(
    tmp_path: Path, data_dir: Path
) -> None:
    config = NavigationEvalConfig(task="tour", tasks=2, seed=4, model="fake/eval")
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        with scripted_model(["Frame 0"] * 2):
            report = await arun_eval(config, tmp_path, gateway=gateway, data_dir=data_dir)
    summary = report["summary"]
    assert summary["episodes"] == 2
    expected = sum(0 in e["goal_frames"] for e in report["episodes"]) / 2
    assert summary["goal_frame_accuracy"] == expected
    assert summary["sr"] == sum(e["success"] for e in report["episodes"]) / 2
    assert (tmp_path / "navigation.png").exists()


def test_buckets() -> None:
    assert hop_buckets(10, 20) == [(10, 12), (13, 15), (16, 18), (19, 20)]
    assert hop_buckets(3, 3) == [(3, 3)]
    assert [visibility_bucket(v) for v in (0, 0.2, 0.5, 1.0)] == ["none", "low", "mid", "high"]


def test_the_cli_runs_the_eval_and_rejects_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", "navigation", "--model", "fake/eval", "-n", "2", "--min-hops", "4",
            "--max-hops", "6", "--strategies", "prep", "--out-dir", str(tmp_path)]  # fmt: skip
    with scripted_model(first_listed):
        assert cli(args) == 0
    out = capsys.readouterr().out
    assert "prep" in out and "SPL" in out and "navigation.json" in out
    assert (
        "navigation.md" in out and "SR 95% CI (Wilson)" in (tmp_path / "navigation.md").read_text()
    )
    assert "command: agentrun eval navigation --model fake/eval --strategies prep" in out
    args = [*args[:-1], str(tmp_path / "oracle"), "--chooser", "oracle", "--strategies",
            "prep,ranked", "--candidates", "2"]  # fmt: skip
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "prep - ranked: SR" in out and "--chooser oracle --candidates 2" in out
    assert cli(["eval", "navigation", "--chooser", "psychic"]) == 2
    assert "--chooser: Input should be 'model' or 'oracle'" in capsys.readouterr().err
    bad = cli(["eval", "navigation", "--min-hops", "9", "--max-hops", "3"])
    assert bad == 2
    assert "min_hops 9 is above max_hops 3" in capsys.readouterr().err
    assert cli(["eval", "navigation", "--strategies", "cot"]) == 2
