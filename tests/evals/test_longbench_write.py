"""The LongBench-Write eval on scripted models: data, scores, report, re-runs, judge, CLI."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway, GatewayConfig
from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.evals import longbench_write as lbw
from agentrun.text.words import length_score, requested_length
from tests.graphs.test_agent_write import FAST, Writer

BASELINE_WORDS = 460  # what a small model writes in one call, whatever it is asked for


class EvalWriter(Writer):
    """AgentWrite prompts get what they ask for; a bare LongBench prompt gets 460 words."""

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        prompt = messages[-1]["content"]
        bare = len(messages) == 1 and messages[0]["role"] == "user"
        if bare and "Summary so far" not in prompt and "section topics" not in prompt:
            return self.prose(BASELINE_WORDS)
        return super().__call__(messages)


def settings(**options: Any) -> lbw.LongBenchWriteSettings:
    base: dict[str, Any] = {"model": "fake/writer", "sample": 4, "max_length": 3000}
    return lbw.LongBenchWriteSettings(**{**base, **options})


async def evaluate(data_dir: Path, out: Path, **options: Any) -> dict[str, Any]:
    async with Gateway(GatewayConfig(retry=FAST), data_dir=data_dir, cache=False) as gateway:
        return await lbw.arun_eval(settings(**options), out, gateway=gateway)


# --- data and scores -----------------------------------------------------------------------------


def test_the_prompts_ship_with_their_license_and_buckets() -> None:
    everything, english = lbw.load_prompts("all"), lbw.load_prompts("en")
    assert len(everything) == 120 and len(english) == 60 and len(lbw.load_prompts("zh")) == 60
    buckets = Counter(lbw.bucket_of(item.length) for item in everything)
    assert buckets == {"[0,500)": 26, "[500,2000)": 36, "[2000,4000)": 31, "[4000,20000]": 27}
    assert len({item.id for item in everything}) == 120
    folder = lbw.data_dir()
    assert "Apache License" in folder.joinpath("LICENSE.txt").read_text("utf-8")
    assert "THUDM/LongWriter" in folder.joinpath("README.md").read_text("utf-8")


def test_the_required_length_is_read_from_almost_every_prompt() -> None:
    found = [(requested_length(item.prompt), item.length) for item in lbw.load_prompts("all")]
    matched = sum(request is not None and request.words == length for request, length in found)
    wrong = sum(request is not None and request.words != length for request, length in found)
    assert wrong == 0 and matched >= 116  # the rest name no length in words or characters


@pytest.mark.parametrize(
    ("required", "produced", "score"),
    [(1000, 1000, 100.0), (1000, 500, 50.0), (1000, 2500, 50.0), (1000, 0, 0.0),
     (500, 125, 0.0), (500, 2000, 0.0), (2000, 2600, 90.0), (2000, 1600, 87.5)],
)  # fmt: skip
def test_length_scores_of_rows_follow_the_formula(
    required: int, produced: int, score: float
) -> None:
    item = lbw.WritingPrompt("lbw-x", "p", "t", required, "en", True)
    written = lbw.Written(" ".join(["word"] * produced), {}, {}, [])
    row = lbw.score_row(settings(), "single", item, written, 1.0, None)
    assert row["words"] == produced
    assert row["s_l"] == pytest.approx(score)


def test_quality_scores_map_ratings_to_0_100() -> None:
    ratings = dict.fromkeys(lbw.DIMENSIONS, 5)
    assert lbw.quality_score(ratings) == 100
    ratings.update(relevance=1, accuracy=3)
    assert lbw.quality_score(ratings) == pytest.approx((0 + 50 + 4 * 100) / 6)
    summary = lbw.summarize([{"s_l": 80.0, "s_q": 60.0, "words": 10, "required": 10,
                              "wall_s": 1.0, "usage": {}}])  # fmt: skip
    assert summary["s"] == 70.0


def test_samples_spread_across_buckets_and_repeat_with_the_seed() -> None:
    items = lbw.load_prompts("en")
    sample = lbw.sample_prompts(items, 12, seed=3)
    assert Counter(lbw.bucket_of(i.length) for i in sample) == dict.fromkeys(
        ["[0,500)", "[500,2000)", "[2000,4000)", "[4000,20000]"], 3
    )
    assert sample == lbw.sample_prompts(items, 12, seed=3)
    assert sample != lbw.sample_prompts(items, 12, seed=4)


# --- the run -------------------------------------------------------------------------------------


async def test_agentwrite_and_the_single_call_share_one_report(data_dir: Path) -> None:
    out = data_dir / "lbw"
    with scripted_model(EvalWriter(1.0)):
        report = await evaluate(data_dir, out)
    rows = [json.loads(line) for line in (out / lbw.RESULTS_FILE).read_text().splitlines()]
    assert Counter(row["system"] for row in rows) == {"agentwrite": 4, "single": 4}
    assert all(row["error"] is None and row["text"] for row in rows)
    assert report["quality"] == lbw.NO_JUDGE
    agent, single = report["summary"]["agentwrite"], report["summary"]["single"]
    assert agent["s_q"] is None and agent["s"] is None
    assert agent["s_l"] > 90 > single["s_l"]
    expected_single = (
        sum(
            length_score(row["required"], BASELINE_WORDS)
            for row in rows
            if row["system"] == "single"
        )
        / 4
    )
    assert single["s_l"] == pytest.approx(expected_single, abs=0.01)
    for system in ("agentwrite", "single"):
        mine = [row for row in rows if row["system"] == system]
        buckets = report["by_bucket"][system]
        assert set(buckets) == {lbw.bucket_of(row["required"]) for row in mine}
        for label, cell in buckets.items():
            scores = [row["s_l"] for row in mine if row["bucket"] == label]
            assert cell["n"] == len(scores)
            assert cell["s_l"] == pytest.approx(sum(scores) / len(scores), abs=0.01)
    assert sum(cell["n"] for cell in report["by_bucket"]["agentwrite"].values()) == 4
    saved = json.loads((out / lbw.REPORT_FILE).read_text())
    assert saved["summary"] == report["summary"]
    assert (out / lbw.PLOT_FILE).read_bytes().startswith(b"\x89PNG")


async def test_a_re_run_sends_nothing_for_finished_items(data_dir: Path) -> None:
    out = data_dir / "lbw"
    with scripted_model(EvalWriter(1.0)):
        first = await evaluate(data_dir, out)
    with scripted_model(EvalWriter(1.0)) as fake:
        second = await evaluate(data_dir, out)
    assert fake.calls == []
    assert second["summary"] == first["summary"]


async def test_report_only_reports_what_is_finished_and_sends_nothing(data_dir: Path) -> None:
    out = data_dir / "lbw"
    with scripted_model(EvalWriter(1.0)):
        await evaluate(data_dir, out, systems=["single"])
    with scripted_model(EvalWriter(1.0)) as fake:
        async with Gateway(GatewayConfig(retry=FAST), data_dir=data_dir, cache=False) as gw:
            report = await lbw.arun_eval(settings(), out, gateway=gw, report_only=True)
    assert fake.calls == []
    assert report["summary"]["single"]["n"] == 4 and report["summary"]["agentwrite"]["n"] == 0
    assert report["pending"] == [f"agentwrite {item}" for item in report["items"]]
    assert json.loads((out / lbw.REPORT_FILE).read_text())["pending"] == report["pending"]


async def test_a_half_written_item_continues_from_its_checkpoint(data_dir: Path) -> None:
    out = data_dir / "lbw"
    options: dict[str, Any] = {"systems": ["agentwrite"], "sample": 2, "seed": 1}  # 200 and 1200
    crashing = EvalWriter(1.0)
    crashing.fail_on = lambda prompt: "Now write section 2 of" in prompt
    with scripted_model(crashing):
        first = await evaluate(data_dir, out, **options)
    failed = [json.loads(line) for line in (out / lbw.RESULTS_FILE).read_text().splitlines()]
    assert [row["item_id"] for row in failed if row["error"]] == ["lbw-051"]
    assert all(row["text"] is None and row["s_l"] == 0 for row in failed if row["error"])
    # the failed item scores 0 in the mean, as an empty output does; it is not left out
    written = [row["s_l"] for row in failed if not row["error"]]
    agent = first["summary"]["agentwrite"]
    assert agent["errors"] == 1 and agent["n"] == 2 and first["errors"] == {"agentwrite": 1}
    assert len(written) == 1 and written[0] > 50
    assert agent["s_l"] == pytest.approx(written[0] / 2, abs=0.01)
    assert first["by_bucket"]["agentwrite"]["[500,2000)"]["s_l"] == 0

    with scripted_model(EvalWriter(1.0)) as fake:
        second = await evaluate(data_dir, out, **options)
    prompts = [c.messages[-1]["content"] for c in fake.calls]
    assert any("Now write section 2 of" in p for p in prompts)
    assert not any("Now write section 1 of" in p or "JSON schema" in p for p in prompts)
    assert second["summary"]["agentwrite"]["errors"] == 0
    assert second["summary"]["agentwrite"]["n"] == 2


async def test_a_judge_scores_quality_also_for_rows_written_before(data_dir: Path) -> None:
    out = data_dir / "lbw"
    with scripted_model(EvalWriter(1.0)):
        await evaluate(data_dir, out, sample=2)

    scores = {"relevance": 5, "accuracy": 4, "coherence": 4, "clarity": 5,
              "breadth_and_depth": 3, "reading_experience": 3}  # fmt: skip
    with (
        scripted_model([json.dumps(scores)], provider="judge", repeat_last=True) as judge,
        scripted_model(EvalWriter(1.0)) as writer,
    ):
        report = await evaluate(data_dir, out, sample=2, judge_model="judge/grader")
    assert writer.calls == []
    assert len(judge.calls) == 4
    assert "Rate the response" in judge.calls[0].messages[-1]["content"]
    agent = report["summary"]["agentwrite"]
    assert agent["s_q"] == pytest.approx(lbw.quality_score(scores))
    assert agent["s"] == pytest.approx((agent["s_l"] + agent["s_q"]) / 2, abs=0.01)
    assert report["quality"] == "judged by judge/grader"


async def test_a_failed_item_scores_0_for_quality_too_when_judged(data_dir: Path) -> None:
    crashing = EvalWriter(1.0)
    crashing.fail_on = lambda prompt: "Now write section 2 of" in prompt
    ratings = dict.fromkeys(lbw.DIMENSIONS, 5)
    with (
        scripted_model([json.dumps(ratings)], provider="judge", repeat_last=True) as judge,
        scripted_model(crashing),
    ):
        report = await evaluate(
            data_dir, data_dir / "lbw", systems=["agentwrite"], sample=2, seed=1,
            judge_model="judge/grader",
        )  # fmt: skip
    assert len(judge.calls) == 1  # nothing to judge for the failed item
    agent = report["summary"]["agentwrite"]
    assert agent["errors"] == 1 and agent["s_q"] == 50.0


# --- the command ---------------------------------------------------------------------------------


def test_the_command_writes_a_report_and_says_s_q_needs_a_judge(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with scripted_model(EvalWriter(1.0)):
        code = cli(["eval", "longbench-write", "--model", "fake/writer", "-n", "2",
                    "--max-length", "500"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "no judge model configured" in captured.err
    out = data_dir / "evals" / "longbench-write-fake_writer-en-n2-seed0-max500-temperature0.8"
    assert json.loads((out / "report.json").read_text())["summary"]["agentwrite"]["n"] == 2
    assert "S_l" in captured.out


def test_writer_settings_on_the_command_line_reach_agentwrite(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = EvalWriter(0.5)
    with scripted_model(writer) as fake:
        code = cli(["eval", "longbench-write", "--model", "fake/writer", "-n", "1", "--max-length",
                    "500", "--systems", "agentwrite", "--tolerance", "0.05", "--fix-attempts",
                    "4"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    out = (
        data_dir
        / "evals"
        / "longbench-write-fake_writer-en-n1-seed0-max500-fixattempts4-temperature0.8-tolerance0.05"
    )
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["writer"] == {"tolerance": 0.05, "fix_attempts": 4}
    # half of each request every time: 4 extensions get within 5% (50%, 25%, 12.5%, 6.25% short)
    assert sum("more words" in c.messages[-1]["content"] for c in fake.calls) == 4
    row = json.loads((out / lbw.RESULTS_FILE).read_text().splitlines()[0])
    assert abs(row["words"] - row["required"]) <= 0.0625 * row["required"] + 1


def test_the_report_names_the_command_that_continues_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", "longbench-write", "--model", "fake/writer", "-n", "2", "--max-length",
            "1000", "--words-per-call", "300", "--tolerance", "0.1"]  # fmt: skip
    with scripted_model(EvalWriter(1.0)):
        assert cli(args) == 0, capsys.readouterr().err
    out = (
        data_dir
        / "evals"
        / "longbench-write-fake_writer-en-n2-seed0-max1000-temperature0.8-tolerance0.1-"
        "wordspercall300"
    )
    report = json.loads((out / "report.json").read_text())
    command = report["command"]
    assert command == (
        "agentrun eval longbench-write --model fake/writer --subset en --sample 2 --seed 0 "
        "--max-length 1000 --systems agentwrite,single --tolerance 0.1 --words-per-call 300"
    )
    assert f"command: {command}" in capsys.readouterr().out
    rows = [json.loads(line) for line in (out / lbw.RESULTS_FILE).read_text().splitlines()]
    assert {row["details"].get("words_per_call") for row in rows if row["system"] != "single"} == {
        300
    }
    with scripted_model(EvalWriter(1.0)) as fake:  # the same settings: the same run, all done
        assert cli(shlex.split(command)[1:]) == 0
    assert fake.calls == []


def test_report_only_on_the_command_line_says_what_is_not_run(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", "longbench-write", "--model", "fake/writer", "-n", "1", "--max-length", "500"]
    with scripted_model(EvalWriter(1.0)) as fake:
        assert cli([*args, "--report-only"]) == 0
    assert fake.calls == []
    err = capsys.readouterr().err
    assert "not run yet (2): agentwrite lbw-" in err and "without --report-only" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--subset", "fr"], "--subset"), (["--systems", "magic"], "--systems"),
     (["--sample", "0"], "--sample"), (["--tolerance", "1.5"], "--tolerance"),
     (["--plan-fallback", "magic"], "--plan-fallback"),
     (["--fix-attempts", "-1"], "--fix-attempts")],
)  # fmt: skip
def test_bad_options_are_one_line_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["eval", "longbench-write", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_runs_that_write_different_answers_keep_different_folders(tmp_path: Path) -> None:
    folders = {
        lbw.default_out_dir(tmp_path, settings(**options))
        for options in (
            {}, {"baseline_max_tokens": 512}, {"baseline_max_tokens": 1024},
            {"writer": {"temperature": 0.0}},
        )
    }  # fmt: skip
    assert len(folders) == 4
    # the default temperature is in the name: runs from when greedy was the default differ
    assert "temperature0.8" in lbw.default_out_dir(tmp_path, settings()).name
    again = lbw.default_out_dir(tmp_path, settings(baseline_max_tokens=512))
    assert again in folders  # the same settings continue the same run
